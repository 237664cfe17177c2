package archive_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/archive"
	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
)

// Fuzzing of what reads archives: Import (into a new layout directory),
// Open (read in place) and Check. Whatever the archive file holds:
//
//   - nothing panics;
//   - a failed ImportDir leaves no layout directory behind;
//   - a successful one leaves a layout that layout.Check finds sound (no
//     problem), with the tags the report names;
//   - what Open accepts can be walked: Tags, Resolve, Fetch of every blob
//     reachable from index.json, each verified or refused with an error.

// fzImportSeeds returns archives: ones ocipack exports (plain, zstd, a
// one-volume split archive, the first volume of several, a delta), plain
// tars of a layout as other tools write them, and broken ones.
func fzImportSeeds(tb testing.TB) map[string][]byte {
	ctx := context.Background()
	root := tb.TempDir()
	in := filepath.Join(root, "in")
	files := map[string]string{
		"hello.txt":         "hello\n",
		"site/index.html":   "<h1>hi</h1>\n",
		"site/sub/run.sh":   "#!/bin/sh\necho hi\n",
		"site/empty/.keep":  "",
		"notes/a.md":        "# a\n",
		"notes/b/deeper.md": "# b\n",
	}
	testkit.WriteFiles(tb, in, files)
	src := filepath.Join(root, "src")
	l, err := layout.OpenOrCreate(ctx, src)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	epoch := time.Unix(1_700_000_000, 0).UTC()
	packOne := func(tag string, comp pack.Compression, paths ...string) {
		var inputs []pack.Input
		for _, p := range paths {
			inputs = append(inputs, pack.Input{Path: filepath.Join(in, p)})
		}
		if _, err := pack.Pack(ctx, l, tag, inputs, pack.Options{SourceDateEpoch: &epoch, Compression: comp}); err != nil {
			tb.Fatal(err)
		}
	}
	packOne("v1", pack.Gzip, "hello.txt", "site")
	packOne("v2", pack.Zstd, "notes")

	seeds := map[string][]byte{}
	export := func(name string, tags []string, opts archive.ExportOptions) []string {
		p := filepath.Join(root, "out", name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		rep, err := archive.ExportFile(ctx, l, tags, p, opts)
		if err != nil {
			tb.Fatal(err)
		}
		return rep.Files
	}
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	seeds["export.tar"] = read(export("export.tar", nil, archive.ExportOptions{})[0])
	seeds["export-v1.tar.zst"] = read(export("export-v1.tar.zst", []string{"v1"}, archive.ExportOptions{Compression: archive.Zstd})[0])
	seeds["one-volume.tar.001"] = read(export("one.tar", []string{"v2"}, archive.ExportOptions{Split: 1 << 20})[0])
	vols := export("many.tar", []string{"v1"}, archive.ExportOptions{Split: archive.MinSplit})
	seeds["first-of-many.tar.001"] = read(vols[0])
	have, err := archive.DigestsOfArchive(ctx, filepath.Join(root, "out", "export-v1.tar.zst"))
	if err != nil {
		tb.Fatal(err)
	}
	seeds["delta.tar"] = read(export("delta.tar", nil, archive.ExportOptions{Since: have})[0])

	// Plain tars of the layout directory, as tar(1) and oras write them.
	type file struct {
		name string
		body []byte
	}
	var layoutFiles []file
	filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if strings.HasPrefix(rel, layout.WorkDir) {
			return nil
		}
		layoutFiles = append(layoutFiles, file{filepath.ToSlash(rel), read(p)})
		return nil
	})
	slices.SortFunc(layoutFiles, func(a, b file) int { return strings.Compare(a.name, b.name) })
	plainTar := func(prefix string, indexLast bool, extra ...*tar.Header) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		list := slices.Clone(layoutFiles)
		if indexLast {
			slices.SortStableFunc(list, func(a, b file) int {
				return map[bool]int{true: 1, false: 0}[a.name == "index.json"] - map[bool]int{true: 1, false: 0}[b.name == "index.json"]
			})
		}
		if prefix != "" {
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: prefix, Mode: 0o755})
		}
		for _, f := range list {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: prefix + f.name, Size: int64(len(f.body)), Mode: 0o644}); err != nil {
				tb.Fatal(err)
			}
			tw.Write(f.body)
		}
		for _, h := range extra {
			if err := tw.WriteHeader(h); err != nil {
				tb.Fatal(err)
			}
			if h.Size > 0 {
				tw.Write(make([]byte, h.Size))
			}
		}
		tw.Close()
		return buf.Bytes()
	}
	seeds["tar-C-dot.tar"] = plainTar("./", false)
	seeds["tar-of-dir.tar"] = plainTar("bundle/", false)
	seeds["oras-backup.tar"] = plainTar("", true)
	var gz bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(seeds["tar-C-dot.tar"])
	gw.Close()
	seeds["tar-C-dot.tar.gz"] = gz.Bytes()
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		tb.Fatal(err)
	}
	seeds["plain.tar.zst"] = zw.EncodeAll(seeds["oras-backup.tar"], nil)

	// Broken ones.
	exp := seeds["export.tar"]
	seeds["truncated.tar"] = exp[:len(exp)/2]
	flipped := slices.Clone(exp)
	flipped[len(flipped)-2048] ^= 0xff
	seeds["flipped.tar"] = flipped
	seeds["symlink.tar"] = plainTar("", false, &tar.Header{Typeflag: tar.TypeSymlink, Name: "blobs/sha256/link", Linkname: "/etc/passwd"})
	seeds["dotdot.tar"] = plainTar("", false, &tar.Header{Typeflag: tar.TypeReg, Name: "../escape", Size: 1, Mode: 0o644})
	seeds["absolute.tar"] = plainTar("", false, &tar.Header{Typeflag: tar.TypeReg, Name: "/blobs/sha256/abs", Size: 1, Mode: 0o644})
	seeds["device.tar"] = plainTar("", false, &tar.Header{Typeflag: tar.TypeChar, Name: "blobs/null", Mode: 0o644, Devmajor: 1, Devminor: 3})
	seeds["stray-blob.tar"] = plainTar("", false, &tar.Header{Typeflag: tar.TypeReg, Name: "blobs/sha256/" + strings.Repeat("0", 64), Size: 3, Mode: 0o644})
	// Archives whose blobs are all there and intact, but whose graph a
	// layout may not hold: layout.Check would report each as a problem.
	for name, blobs := range fzOddGraphs() {
		seeds[name] = fzLayoutTar(tb, blobs)
	}
	seeds["empty"] = nil
	seeds["zeros"] = make([]byte, 1024)
	seeds["gzip-magic"] = []byte{0x1f, 0x8b, 8, 0}
	seeds["zstd-magic"] = []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0}
	seeds["zstd-1gib-window"] = fzZstdHugeWindow()
	return seeds
}

// fzLayoutTar is a tar of a layout whose index.json is blobs[0] and whose
// blobs are the others.
func fzLayoutTar(tb testing.TB, blobs [][]byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(b)), Mode: 0o644}); err != nil {
			tb.Fatal(err)
		}
		tw.Write(b)
	}
	add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	add("index.json", blobs[0])
	for _, b := range blobs[1:] {
		add("blobs/sha256/"+digest.FromBytes(b).Encoded(), b)
	}
	tw.Close()
	return buf.Bytes()
}

// fzOddGraphs are layouts (index.json, then blobs) whose every blob is
// intact but whose graph breaks a rule of the image spec that Check
// enforces.
func fzOddGraphs() map[string][][]byte {
	js := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return b
	}
	desc := func(mt string, b []byte) map[string]any {
		return map[string]any{"mediaType": mt, "digest": digest.FromBytes(b), "size": len(b)}
	}
	tagged := func(d map[string]any) map[string]any {
		d["annotations"] = map[string]string{ocispec.AnnotationRefName: "v1"}
		return d
	}
	index := func(ds ...map[string]any) []byte { return js(map[string]any{"schemaVersion": 2, "manifests": ds}) }
	cfg := []byte("{}")
	layer := []byte("layer\n")
	manifest := func(extra map[string]any) []byte {
		m := map[string]any{"schemaVersion": 2, "mediaType": ocispec.MediaTypeImageManifest,
			"config": desc(ocispec.MediaTypeEmptyJSON, cfg), "layers": []any{desc("application/octet-stream", layer)}}
		for k, v := range extra {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return js(m)
	}
	wrongSize := desc("application/octet-stream", layer)
	wrongSize["size"] = len(layer) + 1
	twoSizes := manifest(map[string]any{"layers": []any{desc("application/octet-stream", layer), wrongSize}})
	v1 := manifest(map[string]any{"schemaVersion": 1})
	noConfig := manifest(map[string]any{"config": nil})
	saysIndex := manifest(map[string]any{"mediaType": ocispec.MediaTypeImageIndex})
	good := manifest(nil)
	// Image indexes nested 40 deep.
	deep := [][]byte{good}
	for range 40 {
		deep = append(deep, js(map[string]any{"schemaVersion": 2, "mediaType": ocispec.MediaTypeImageIndex,
			"manifests": []any{desc(ocispec.MediaTypeImageIndex, deep[len(deep)-1])}}))
	}
	deep[1] = js(map[string]any{"schemaVersion": 2, "mediaType": ocispec.MediaTypeImageIndex, "manifests": []any{desc(ocispec.MediaTypeImageManifest, good)}})
	for i := 2; i < len(deep); i++ {
		deep[i] = js(map[string]any{"schemaVersion": 2, "mediaType": ocispec.MediaTypeImageIndex, "manifests": []any{desc(ocispec.MediaTypeImageIndex, deep[i-1])}})
	}
	deepBlobs := append([][]byte{index(tagged(desc(ocispec.MediaTypeImageIndex, deep[len(deep)-1])))}, deep...)
	return map[string][][]byte{
		"odd-unknown-media-type.tar":   {index(tagged(desc("application/octet-stream", cfg))), cfg},
		"odd-untyped-not-manifest.tar": {index(tagged(desc("", cfg))), cfg},
		"odd-schema-version-1.tar":     {index(tagged(desc(ocispec.MediaTypeImageManifest, v1))), v1, cfg, layer},
		"odd-no-config.tar":            {index(tagged(desc(ocispec.MediaTypeImageManifest, noConfig))), noConfig, layer},
		"odd-media-type-mismatch.tar":  {index(tagged(desc(ocispec.MediaTypeImageManifest, saysIndex))), saysIndex, cfg, layer},
		"odd-two-sizes.tar":            {index(tagged(desc(ocispec.MediaTypeImageManifest, twoSizes))), twoSizes, cfg, layer},
		"odd-index-lists-blob.tar":     {index(tagged(desc(ocispec.MediaTypeImageIndex, js(map[string]any{"schemaVersion": 2, "manifests": []any{desc("application/octet-stream", layer)}})))), js(map[string]any{"schemaVersion": 2, "manifests": []any{desc("application/octet-stream", layer)}}), layer},
		"odd-nested-40-deep.tar":       append(deepBlobs, cfg, layer),
		"good-graph.tar":               {index(tagged(desc(ocispec.MediaTypeImageManifest, good))), good, cfg, layer},
	}
}

// fzArchiveError reports whether err matches a sentinel of archive or
// layout.
func fzArchiveError(err error) bool {
	for _, s := range []error{archive.ErrTampered, archive.ErrMissingVolume, archive.ErrForeignVolume,
		archive.ErrTruncated, archive.ErrIncompleteDelta, archive.ErrIncomplete, archive.ErrNoSpace,
		archive.ErrUnsafeEntry, archive.ErrNotArchive, layout.ErrCorrupt, layout.ErrNotFound,
		layout.ErrSizeMismatch, layout.ErrDigestMismatch, layout.ErrInvalidReference} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzImport gives the fuzz input, as an archive file, to ImportDir (into a
// new layout directory), Open and Check.
func FuzzImport(f *testing.F) {
	seeds := fzImportSeeds(f)
	for _, name := range slices.Sorted(maps.Keys(seeds)) {
		f.Add(seeds[name])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		ctx := context.Background()
		arch := fzImportAndOpen(t, ctx, data)
		archive.Check(ctx, arch)
		if d := time.Since(start); d > 20*time.Second {
			t.Fatalf("took %v", d)
		}
	})
}

// fzWalkArchive resolves every tag and entry of an archive opened in place
// and fetches everything they reach, verifying each blob.
func fzWalkArchive(t *testing.T, ctx context.Context, r *archive.Reader) {
	t.Helper()
	tags, err := r.Tags(ctx)
	if err != nil {
		t.Fatalf("Tags: %v", err)
	}
	for _, tag := range tags {
		if _, err := r.Resolve(ctx, tag); err != nil && !fzArchiveError(err) {
			t.Fatalf("Resolve(%q): %v matches no sentinel", tag, err)
		}
	}
	seen := map[string]bool{}
	var walk func(d ocispec.Descriptor, depth int)
	walk = func(d ocispec.Descriptor, depth int) {
		if seen[d.Digest.String()] || len(seen) > 200 || depth > 40 {
			return
		}
		seen[d.Digest.String()] = true
		if _, err := r.Resolve(ctx, d.Digest.String()); err != nil && !fzArchiveError(err) {
			t.Fatalf("Resolve(%s): %v matches no sentinel", d.Digest, err)
		}
		if d.Size > layout.MaxManifestSize {
			rc, err := r.Fetch(ctx, d)
			if err == nil {
				io.Copy(io.Discard, layout.NewVerifyReader(rc, d))
				rc.Close()
			}
			return
		}
		b, err := layout.ReadBlob(ctx, r, d, layout.MaxManifestSize)
		if err != nil {
			return
		}
		var m struct {
			Config    *ocispec.Descriptor  `json:"config"`
			Layers    []ocispec.Descriptor `json:"layers"`
			Manifests []ocispec.Descriptor `json:"manifests"`
			Subject   *ocispec.Descriptor  `json:"subject"`
		}
		if json.Unmarshal(b, &m) != nil {
			return
		}
		kids := slices.Concat(m.Layers, m.Manifests)
		if m.Config != nil {
			kids = append(kids, *m.Config)
		}
		if m.Subject != nil {
			kids = append(kids, *m.Subject)
		}
		for _, k := range kids {
			if k.Digest.Validate() == nil && k.Size >= 0 {
				walk(k, depth+1)
			}
		}
	}
	for _, m := range r.Index().Manifests {
		walk(m, 0)
	}
	for d := range r.Blobs() {
		if _, err := r.Exists(ctx, ocispec.Descriptor{Digest: d}); err != nil {
			t.Fatalf("Exists(%s): %v", d, err)
		}
	}
}

// TestFuzzImportSeeds checks that FuzzImport's seeds are what their names
// say: the good archives import, the broken ones are refused.
func TestFuzzImportSeeds(t *testing.T) {
	good := map[string]bool{
		"export.tar": true, "export-v1.tar.zst": true, "one-volume.tar.001": true,
		"tar-C-dot.tar": true, "tar-of-dir.tar": true, "oras-backup.tar": true,
		"tar-C-dot.tar.gz": true, "plain.tar.zst": true, "stray-blob.tar": false, "good-graph.tar": true,
	}
	for name, data := range fzImportSeeds(t) {
		arch := filepath.Join(t.TempDir(), "in.tar")
		testkit.WriteFile(t, arch, data)
		_, err := archive.ImportDir(context.Background(), []string{arch}, filepath.Join(t.TempDir(), "dst"), archive.ImportOptions{})
		if (err == nil) != good[name] {
			t.Errorf("%s: ImportDir: %v", name, err)
		}
	}
}

// fzZstdHugeWindow is a zstd frame of 600 zero bytes whose header asks
// for a 1 GiB window.
func fzZstdHugeWindow() []byte {
	b := []byte{0x28, 0xb5, 0x2f, 0xfd, // magic
		0x00,    // frame header: no content size, checksum or dictionary
		20 << 3, // window descriptor: 2^(10+20) bytes
	}
	const n = 600
	h := n<<3 | 1 // the last block, raw
	b = append(b, byte(h), byte(h>>8), byte(h>>16))
	return append(b, make([]byte, n)...)
}

// TestZstdWindowBounded gives Import and Open a few hundred bytes of zstd
// asking for a 1 GiB window: they refuse it without allocating the window.
func TestZstdWindowBounded(t *testing.T) {
	ctx := context.Background()
	arch := filepath.Join(t.TempDir(), "x.tar.zst")
	testkit.WriteFile(t, arch, fzZstdHugeWindow())
	const budget = 200 << 20
	if n := allocDuring(t, func() {
		if _, err := archive.ImportDir(ctx, []string{arch}, filepath.Join(t.TempDir(), "dst"), archive.ImportOptions{}); err == nil {
			t.Error("ImportDir succeeded")
		}
	}); n > budget {
		t.Errorf("ImportDir allocated %d MiB", n>>20)
	}
	if n := allocDuring(t, func() {
		if r, err := archive.Open(ctx, arch); err == nil {
			r.Close()
			t.Error("Open succeeded")
		}
	}); n > budget {
		t.Errorf("Open allocated %d MiB", n>>20)
	}
}

// fzImportBlobs are the blobs of FuzzImportIndex's archives: a good image
// manifest (tagged v1 in the seeds), its config and layer, an image index
// listing it, and a referrer of it.
func fzImportBlobs() (blobs [][]byte, seedIndex []byte) {
	js := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return b
	}
	desc := func(mt string, b []byte) ocispec.Descriptor {
		return ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
	}
	cfg, layer := []byte("{}"), []byte("layer\n")
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: desc(ocispec.MediaTypeEmptyJSON, cfg),
		Layers: []ocispec.Descriptor{desc("application/octet-stream", layer)}}
	m.SchemaVersion = 2
	man := js(m)
	ix := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{desc(ocispec.MediaTypeImageManifest, man)}}
	ix.SchemaVersion = 2
	idx := js(ix)
	md := desc(ocispec.MediaTypeImageManifest, man)
	r := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/vnd.example.sig", Config: desc(ocispec.MediaTypeEmptyJSON, cfg),
		Layers: []ocispec.Descriptor{desc("application/octet-stream", layer)}, Subject: &md}
	r.SchemaVersion = 2
	ref := js(r)
	tagged := func(d ocispec.Descriptor, tag string) ocispec.Descriptor {
		d.Annotations = map[string]string{ocispec.AnnotationRefName: tag}
		return d
	}
	top := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{
		tagged(md, "v1"), tagged(desc(ocispec.MediaTypeImageIndex, idx), "all"), desc(ocispec.MediaTypeImageManifest, ref)}}
	top.SchemaVersion = 2
	return [][]byte{cfg, layer, man, idx, ref}, js(top)
}

// fzContents is the contents list of an archive holding blobs.
func fzContents(blobs [][]byte, tags ...string) []byte {
	c := map[string]any{"mediaType": archive.ContentsMediaType, "tags": tags, "blobs": []any{}}
	var list []any
	for _, b := range blobs {
		list = append(list, map[string]any{"digest": digest.FromBytes(b), "size": len(b)})
	}
	c["blobs"] = list
	out, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	return out
}

// FuzzImportIndex imports archives whose tar is well-formed and whose
// blobs are intact, but whose index.json and contents list (when not
// empty) are the fuzz inputs: what the graph checks of Import see. shape
// picks the entries' prefix ("", "./", "dir/"), whether index.json comes
// first or last, and whether one blob is left out. The invariants are
// FuzzImport's.
func FuzzImportIndex(f *testing.F) {
	blobs, index := fzImportBlobs()
	f.Add(index, []byte(nil), uint8(0))
	f.Add(index, fzContents(blobs, "all", "v1"), uint8(1))
	f.Add(index, fzContents(blobs[:4], "v1"), uint8(2))
	f.Add(index, []byte(nil), uint8(4))
	f.Add(index, []byte(nil), uint8(8))
	for _, odd := range fzOddGraphs() {
		f.Add(odd[0], []byte(nil), uint8(0))
	}
	f.Fuzz(func(t *testing.T, index, contents []byte, shape uint8) {
		ctx := context.Background()
		prefix := []string{"", "./", "dir/", ""}[shape&3]
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		add := func(name string, b []byte) {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: prefix + name, Size: int64(len(b)), Mode: 0o644}); err != nil {
				t.Fatal(err)
			}
			tw.Write(b)
		}
		add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
		if len(contents) > 0 {
			add(archive.ContentsFile, contents)
		}
		if shape&4 == 0 {
			add("index.json", index)
		}
		for i, b := range blobs {
			if shape&8 != 0 && i == int(shape>>4)%len(blobs) {
				continue
			}
			add("blobs/sha256/"+digest.FromBytes(b).Encoded(), b)
		}
		if shape&4 != 0 {
			add("index.json", index)
		}
		tw.Close()
		fzImportAndOpen(t, ctx, buf.Bytes())
	})
}

// fzImportAndOpen writes data as an archive, imports it into a new
// directory, which an import that fails must not leave behind, and checks
// what an import that succeeds made; then it opens the archive in place
// and walks it. It returns the archive's path.
func fzImportAndOpen(t *testing.T, ctx context.Context, data []byte) string {
	t.Helper()
	dir := t.TempDir()
	arch := filepath.Join(dir, "in.tar")
	testkit.WriteFile(t, arch, data)
	dst := filepath.Join(dir, "dst")
	// Imports never ask the real disk for free space.
	plenty := func(string) (int64, error) { return 1 << 50, nil }
	rep, err := archive.ImportDir(ctx, []string{arch}, dst, archive.ImportOptions{FreeSpace: plenty})
	if err != nil {
		if _, serr := os.Lstat(dst); !errors.Is(serr, fs.ErrNotExist) {
			t.Fatalf("ImportDir failed (%v) but left %s (%v)", err, dst, serr)
		}
	} else {
		fzCheckImported(t, ctx, dst, rep)
	}
	if r, err := archive.Open(ctx, arch); err == nil {
		fzWalkArchive(t, ctx, r)
		r.Close()
	}
	return arch
}

// fzCheckImported checks a layout an import created: Check finds no
// problem, and it has the tags the report names.
func fzCheckImported(t *testing.T, ctx context.Context, dst string, rep *archive.ImportReport) {
	t.Helper()
	l, err := layout.Open(ctx, dst)
	if err != nil {
		t.Fatalf("imported layout: %v", err)
	}
	defer l.Close()
	crep, err := l.Check(ctx, layout.CheckOptions{})
	if err != nil {
		t.Fatalf("Check of the imported layout: %v", err)
	}
	if !crep.OK() {
		t.Fatalf("the imported layout has problems: %v", crep.Problems)
	}
	tags, err := l.Tags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range tags {
		names = append(names, tg.Tag)
	}
	if strings.Join(names, ",") != strings.Join(rep.Tags, ",") {
		t.Fatalf("Import reported tags %q, the layout has %q", rep.Tags, names)
	}
}

// TestImportRefusesAbsurdJSON gives Import and Open an index.json nested
// 10,000 deep, and one whose tar header claims 1 TiB: both are refused
// quickly, without reading (or allocating) what the header claims.
func TestImportRefusesAbsurdJSON(t *testing.T) {
	ctx := context.Background()
	deep := []byte(`{"schemaVersion":2,"manifests":` + strings.Repeat("[", 10_000) + strings.Repeat("]", 10_000) + `}`)
	var huge bytes.Buffer
	tw := tar.NewWriter(&huge)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "oci-layout", Size: 30, Mode: 0o644})
	tw.Write([]byte(`{"imageLayoutVersion":"1.0.0"}`))
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "index.json", Size: 1 << 40, Mode: 0o644})
	tw.Write([]byte(`{"schemaVersion":2,"manifests":[`)) // and then it ends
	for name, data := range map[string][]byte{
		"deep":  fzLayoutTar(t, [][]byte{deep}),
		"claim": huge.Bytes(),
	} {
		t.Run(name, func(t *testing.T) {
			arch := filepath.Join(t.TempDir(), "in.tar")
			testkit.WriteFile(t, arch, data)
			start := time.Now()
			if n := allocDuring(t, func() {
				if _, err := archive.ImportDir(ctx, []string{arch}, filepath.Join(t.TempDir(), "dst"), archive.ImportOptions{}); !errors.Is(err, archive.ErrNotArchive) {
					t.Errorf("ImportDir: %v, want ErrNotArchive", err)
				}
				if _, err := archive.Open(ctx, arch); !errors.Is(err, archive.ErrNotArchive) {
					t.Errorf("Open: %v, want ErrNotArchive", err)
				}
			}); n > 64<<20 {
				t.Errorf("allocated %d MiB", n>>20)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}
