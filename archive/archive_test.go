package archive_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"

	"github.com/ocipack/ocipack/archive"
	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

func TestExportAllImportEmptyThenAgain(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p, rep := exportFile(t, f.l, nil, "all.tar", archive.ExportOptions{})
	if want := []string{"v1", "v2", "v3"}; !slices.Equal(rep.Tags, want) {
		t.Fatalf("exported tags %v, want %v", rep.Tags, want)
	}
	all := reachable(t, f.l, "v1", "v2", "v3")
	if rep.Blobs != len(all) || rep.Omitted != 0 {
		t.Fatalf("report %+v, want %d blobs", rep, len(all))
	}
	if fi, _ := os.Stat(p); fi.Size() != rep.Bytes {
		t.Fatalf("file has %d bytes, report says %d", fi.Size(), rep.Bytes)
	}

	dst := testkit.NewLayout(t)
	var calls int
	irep, err := archive.Import(ctx, []string{p}, dst, archive.ImportOptions{Progress: func(done, total int64) { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if irep.Blobs != len(all) || irep.Skipped != 0 || !slices.Equal(irep.Tags, []string{"v1", "v2", "v3"}) || calls == 0 {
		t.Fatalf("import report %+v (progress calls %d), want %d blobs", irep, calls, len(all))
	}
	if got, want := tagMap(t, dst), tagMap(t, f.l); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("tags %v, want %v", got, want)
	}
	if got := blobsOf(t, dst); !slices.Equal(got, all) {
		t.Fatalf("blobs %v, want %v", got, all)
	}
	f.checkUnpack(t, dst, "v2", "b.bin", "c.bin")

	// Again: everything is skipped, nothing changes.
	before := snap(t, dst.Path())
	irep, err = archive.Import(ctx, []string{p}, dst, archive.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if irep.Blobs != 0 || irep.Skipped != len(all) {
		t.Fatalf("second import %+v, want all %d skipped", irep, len(all))
	}
	before.equal(t, snap(t, dst.Path()))
}

func TestExportTwoTagsIntoLayoutWithSomeBlobs(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p, rep := exportFile(t, f.l, []string{"v2", "v1"}, "two.tar", archive.ExportOptions{})
	want := reachable(t, f.l, "v1", "v2")
	if rep.Blobs != len(want) || !slices.Equal(rep.Tags, []string{"v1", "v2"}) {
		t.Fatalf("report %+v, want %d blobs, tags v1 v2", rep, len(want))
	}
	r, err := archive.Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	tags, _ := r.Tags(ctx)
	r.Close()
	if !slices.Equal(tags, []string{"v1", "v2"}) {
		t.Fatalf("archive's index.json has tags %v, want v1 v2", tags)
	}

	// dst holds v3 (c.bin and the empty config) and its own tag "old".
	dst := testkit.NewLayout(t)
	f.pack(t, dst, "v3", "c.bin")
	f.pack(t, dst, "v1", "c.bin") // v1 is moved by the import
	had := blobsOf(t, dst)
	skipped := 0
	for _, d := range want {
		if slices.Contains(had, d) {
			skipped++
		}
	}
	if skipped < 2 {
		t.Fatalf("fixture: dst shares only %d blobs", skipped)
	}
	irep, err := archive.Import(ctx, []string{p}, dst, archive.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if irep.Skipped != skipped || irep.Blobs != len(want)-skipped {
		t.Fatalf("import %+v, want %d skipped, %d stored", irep, skipped, len(want)-skipped)
	}
	got, src := tagMap(t, dst), tagMap(t, f.l)
	if got["v1"] != src["v1"] || got["v2"] != src["v2"] || got["v3"] != src["v3"] || len(got) != 3 {
		t.Fatalf("tags %v, want v1 and v2 as in %v, v3 kept", got, src)
	}
	f.checkUnpack(t, dst, "v1", "a.bin", "b.bin")
}

func TestExportIsDeterministic(t *testing.T) {
	f := newFixture(t)
	for _, c := range []archive.Compression{archive.None, archive.Zstd} {
		a, _ := exportFile(t, f.l, nil, "a.tar", archive.ExportOptions{Compression: c})
		b, _ := exportFile(t, f.l, []string{"v3", "v2", "v1"}, "b.tar", archive.ExportOptions{Compression: c})
		if !bytes.Equal(testkit.ReadFile(t, a), testkit.ReadFile(t, b)) {
			t.Fatalf("%s: two exports differ", c)
		}
	}
	// Fixed header fields.
	a, _ := exportFile(t, f.l, nil, "a.tar", archive.ExportOptions{})
	var names []string
	for _, e := range testkit.TarEntries(t, bytes.NewReader(testkit.ReadFile(t, a))) {
		h := e.Header
		names = append(names, h.Name)
		wantMode := int64(0o644)
		if h.Typeflag == tar.TypeDir {
			wantMode = 0o755
		}
		if h.Mode != wantMode || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || h.ModTime.Unix() != 0 {
			t.Fatalf("entry %s: mode %o uid %d gid %d %q %q mtime %v", h.Name, h.Mode, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime)
		}
	}
	if len(names) < 6 || names[0] != "oci-layout" || names[1] != archive.ContentsFile || names[2] != "index.json" {
		t.Fatalf("entries start %v", names[:min(len(names), 6)])
	}
	// Small blobs (manifests, config) come before the 100 KiB layers.
	sizes := map[string]int64{}
	var order []int64
	for _, e := range testkit.TarEntries(t, bytes.NewReader(testkit.ReadFile(t, a))) {
		h := e.Header
		if strings.HasPrefix(h.Name, "blobs/sha256/") && h.Typeflag == tar.TypeReg {
			sizes[h.Name] = h.Size
			order = append(order, h.Size)
		}
	}
	big := false
	for _, s := range order {
		if s >= 100<<10 {
			big = true
		} else if big {
			t.Fatalf("a small blob comes after a layer: sizes in order %v", order)
		}
	}
}

func TestZstdArchive(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p, _ := exportFile(t, f.l, nil, "all.tar.zst", archive.ExportOptions{Compression: archive.CompressionFor("all.tar.zst")})
	b := testkit.ReadFile(t, p)
	if !bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		t.Fatal("not a zstd stream")
	}
	// A plain zstd decoder reads it (the seek table is a skippable frame)
	// and it holds a tar of a layout.
	d, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tr := tar.NewReader(d)
	n := 0
	for {
		_, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("plain zstd + tar: %v", err)
		}
		n++
	}
	if n < 8 {
		t.Fatalf("only %d entries", n)
	}
	dst := testkit.NewLayout(t)
	if _, err := archive.Import(ctx, []string{p}, dst, archive.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(tagMap(t, dst)) != fmt.Sprint(tagMap(t, f.l)) {
		t.Fatal("tags differ after a zstd round trip")
	}
	f.checkUnpack(t, dst, "v1", "a.bin", "b.bin")
}

func TestExportToWriterAndImportStream(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var buf bytes.Buffer
	rep, err := archive.Export(ctx, f.l, []string{"v1"}, &buf, archive.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != rep.Bytes {
		t.Fatalf("wrote %d bytes, report says %d", buf.Len(), rep.Bytes)
	}
	p, _ := exportFile(t, f.l, []string{"v1"}, "v1.tar", archive.ExportOptions{})
	if !bytes.Equal(buf.Bytes(), testkit.ReadFile(t, p)) {
		t.Fatal("Export to a writer and ExportFile differ")
	}
	if _, err := archive.Export(ctx, f.l, nil, &buf, archive.ExportOptions{Split: 1 << 20}); err == nil {
		t.Fatal("Export to a stream accepted Split")
	}
	dst := testkit.NewLayout(t)
	irep, err := archive.ImportStream(ctx, bytes.NewReader(buf.Bytes()), dst, archive.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(irep.Tags, []string{"v1"}) {
		t.Fatalf("tags %v", irep.Tags)
	}
	f.checkUnpack(t, dst, "v1", "a.bin", "b.bin")
}

// splitFixture exports f's tags as 64 KiB volumes.
func splitFixture(t *testing.T, f *fixture, tags []string, name string, c archive.Compression) []string {
	t.Helper()
	_, rep := exportFile(t, f.l, tags, name, archive.ExportOptions{Split: 64 << 10, Compression: c})
	if len(rep.Files) < 4 {
		t.Fatalf("only %d volumes", len(rep.Files))
	}
	return rep.Files
}

func TestSplitVolumesShuffled(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	vols := splitFixture(t, f, nil, "all.tar", archive.None)
	for i, v := range vols {
		if v != archive.VolumeName(strings.TrimSuffix(vols[0], ".001"), i+1) {
			t.Fatalf("volume %d is named %s", i+1, v)
		}
		fi, err := os.Stat(v)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 64<<10 {
			t.Fatalf("%s has %d bytes, more than 64 KiB", v, fi.Size())
		}
		info, err := archive.Verify(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		if info.Number != i+1 || info.Count != len(vols) {
			t.Fatalf("%s: volume %d of %d", v, info.Number, info.Count)
		}
	}
	// The payloads concatenated are the unsplit archive.
	whole, _ := exportFile(t, f.l, nil, "whole.tar", archive.ExportOptions{})
	var cat []byte
	for _, v := range vols {
		cat = append(cat, testkit.ReadFile(t, v)[archive.VolumeHeaderSize:]...)
	}
	if !bytes.Equal(cat, testkit.ReadFile(t, whole)) {
		t.Fatal("concatenated payloads differ from the unsplit archive")
	}

	shuffled := slices.Clone(vols)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if slices.Equal(shuffled, vols) {
		slices.Reverse(shuffled)
	}
	dst := testkit.NewLayout(t)
	if _, err := archive.Import(ctx, shuffled, dst, archive.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(tagMap(t, dst)) != fmt.Sprint(tagMap(t, f.l)) {
		t.Fatal("tags differ")
	}
	f.checkUnpack(t, dst, "v3", "c.bin")

	// One volume, or the base name, finds the others.
	for _, one := range []string{vols[2], strings.TrimSuffix(vols[0], ".001")} {
		dst := testkit.NewLayout(t)
		if _, err := archive.Import(ctx, []string{one}, dst, archive.ImportOptions{}); err != nil {
			t.Fatalf("import %s: %v", one, err)
		}
	}
}

func TestMissingVolume(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	vols := splitFixture(t, f, nil, "all.tar", archive.None)
	dst := testkit.NewLayout(t)
	before := snap(t, dst.Path())
	given := append(slices.Clone(vols[:1]), vols[2:]...)
	_, err := archive.Import(ctx, given, dst, archive.ImportOptions{})
	mustIs(t, err, archive.ErrMissingVolume)
	contains(t, err, filepath.Base(vols[1]), fmt.Sprintf("volume 2 of %d", len(vols)))
	before.equal(t, snap(t, dst.Path()))

	// Found by name, but gone from the disk.
	if err := os.Remove(vols[1]); err != nil {
		t.Fatal(err)
	}
	_, err = archive.Import(ctx, []string{vols[0]}, dst, archive.ImportOptions{})
	mustIs(t, err, archive.ErrMissingVolume)
	contains(t, err, filepath.Base(vols[1]))
	_, err = archive.Open(ctx, vols[0])
	mustIs(t, err, archive.ErrMissingVolume)
}

func TestForeignVolume(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	vols := splitFixture(t, f, nil, "all.tar", archive.None)
	other := splitFixture(t, f, []string{"v1", "v2"}, "other.tar", archive.None)
	dst := testkit.NewLayout(t)
	before := snap(t, dst.Path())
	given := slices.Clone(vols)
	given[1] = other[1]
	_, err := archive.Import(ctx, given, dst, archive.ImportOptions{})
	mustIs(t, err, archive.ErrForeignVolume)
	contains(t, err, other[1])
	before.equal(t, snap(t, dst.Path()))
	// The same volume number twice with different content.
	_, err = archive.Import(ctx, append(slices.Clone(vols), other[0]), dst, archive.ImportOptions{})
	mustIs(t, err, archive.ErrForeignVolume)
	// A file that is no volume at all.
	_, err = archive.Import(ctx, append(slices.Clone(vols), filepath.Join(f.src, "a.bin")), dst, archive.ImportOptions{})
	mustIs(t, err, archive.ErrForeignVolume)
	before.equal(t, snap(t, dst.Path()))
}

// partialTarget is a layout holding v3 and a tag of its own, so that a
// failed import has something to disturb.
func partialTarget(t *testing.T, f *fixture) *layout.Layout {
	dst := testkit.NewLayout(t)
	f.pack(t, dst, "v3", "c.bin")
	f.pack(t, dst, "mine", "a.bin")
	return dst
}

func TestTamperedBlobInTar(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for _, c := range []archive.Compression{archive.None} {
		p, _ := exportFile(t, f.l, nil, "all.tar", archive.ExportOptions{Compression: c})
		// b.bin comes after other blobs that dst lacks: those are stored,
		// then must be removed again.
		flipByteOf(t, p, f.files["b.bin"])
		dst := partialTarget(t, f)
		before := snap(t, dst.Path())
		_, err := archive.Import(ctx, []string{p}, dst, archive.ImportOptions{})
		mustIs(t, err, archive.ErrTampered)
		mustIs(t, err, layout.ErrDigestMismatch)
		contains(t, err, blobDigestOf(t, f.l, "v1", "b.bin").String())
		before.equal(t, snap(t, dst.Path()))

		// Read in place, the damage shows when the blob is read.
		r, err := archive.Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = unpackErr(t, r, "v1")
		r.Close()
		mustIs(t, err, layout.ErrDigestMismatch)
	}
}

func TestTamperedVolume(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	vols := splitFixture(t, f, nil, "all.tar", archive.None)
	// Flip a byte in the middle of the volume holding the middle of b.bin.
	var hit string
	for _, v := range vols {
		if bytes.Contains(testkit.ReadFile(t, v), f.files["b.bin"][50<<10:50<<10+64]) {
			hit = v
			break
		}
	}
	if hit == "" {
		t.Fatal("no volume holds b.bin's middle")
	}
	flipByteOf(t, hit, f.files["b.bin"][50<<10:50<<10+128])
	_, err := archive.Verify(ctx, hit)
	mustIs(t, err, archive.ErrTampered)
	contains(t, err, hit)

	dst := partialTarget(t, f)
	before := snap(t, dst.Path())
	_, err = archive.Import(ctx, vols, dst, archive.ImportOptions{})
	mustIs(t, err, archive.ErrTampered)
	mustIs(t, err, layout.ErrDigestMismatch)
	// The error names the blob, or the volume if its end came first.
	if b := blobDigestOf(t, f.l, "v1", "b.bin").String(); !strings.Contains(err.Error(), b) && !strings.Contains(err.Error(), hit) {
		t.Fatalf("error %q names neither %s nor %s", err, b, hit)
	}
	before.equal(t, snap(t, dst.Path()))
}

func TestTruncated(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for _, c := range []archive.Compression{archive.None, archive.Zstd} {
		p, _ := exportFile(t, f.l, nil, "all.tar", archive.ExportOptions{Compression: c})
		b := testkit.ReadFile(t, p)
		for _, cut := range []int{len(b) * 7 / 10, len(b) - 2000} {
			testkit.WriteFile(t, p, b[:cut])
			dst := partialTarget(t, f)
			before := snap(t, dst.Path())
			_, err := archive.Import(ctx, []string{p}, dst, archive.ImportOptions{})
			if err == nil {
				t.Fatalf("%s cut at %d of %d: imported", c, cut, len(b))
			}
			if !errors.Is(err, archive.ErrTruncated) && !errors.Is(err, archive.ErrTampered) {
				t.Fatalf("%s cut at %d: %v, want ErrTruncated", c, cut, err)
			}
			before.equal(t, snap(t, dst.Path()))
		}
	}
	// A cut volume is found before anything is read.
	vols := splitFixture(t, f, nil, "all.tar", archive.None)
	last := vols[len(vols)-1]
	b := testkit.ReadFile(t, last)
	testkit.WriteFile(t, last, b[:len(b)-100])
	_, err := archive.Import(ctx, vols, testkit.NewLayout(t), archive.ImportOptions{})
	mustIs(t, err, archive.ErrTruncated)
	contains(t, err, last)
	_, err = archive.Verify(ctx, last)
	mustIs(t, err, archive.ErrTruncated)
}

func TestDelta(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	// OLD: v1 only, carried over as an archive.
	oldArchive, _ := exportFile(t, f.l, []string{"v1"}, "old.tar", archive.ExportOptions{})
	full, fullRep := exportFile(t, f.l, nil, "full.tar", archive.ExportOptions{})

	since, err := archive.DigestsOfArchive(ctx, oldArchive)
	if err != nil {
		t.Fatal(err)
	}
	delta, rep := exportFile(t, f.l, nil, "delta.tar", archive.ExportOptions{Since: since})
	if rep.Omitted == 0 || rep.Blobs+rep.Omitted != fullRep.Blobs {
		t.Fatalf("delta report %+v, full %+v", rep, fullRep)
	}
	if fi, fj := testkit.ReadFile(t, delta), testkit.ReadFile(t, full); len(fi) >= len(fj)-100<<10 {
		t.Fatalf("delta has %d bytes, full %d: not smaller by a layer", len(fi), len(fj))
	}

	// Into an empty layout: refused, untouched.
	empty := testkit.NewLayout(t)
	before := snap(t, empty.Path())
	_, err = archive.Import(ctx, []string{delta}, empty, archive.ImportOptions{})
	mustIs(t, err, archive.ErrIncompleteDelta)
	contains(t, err, blobDigestOf(t, f.l, "v1", "a.bin").String())
	before.equal(t, snap(t, empty.Path()))

	// Into a layout holding OLD: every tag completes.
	dst := testkit.NewLayout(t)
	if _, err := archive.Import(ctx, []string{oldArchive}, dst, archive.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	irep, err := archive.Import(ctx, []string{delta}, dst, archive.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !irep.Delta || irep.Blobs != rep.Blobs {
		t.Fatalf("delta import %+v, want %d blobs", irep, rep.Blobs)
	}
	if fmt.Sprint(tagMap(t, dst)) != fmt.Sprint(tagMap(t, f.l)) {
		t.Fatal("tags differ after the delta")
	}
	f.checkUnpack(t, dst, "v1", "a.bin", "b.bin")
	f.checkUnpack(t, dst, "v2", "b.bin", "c.bin")

	// Against a layout (DigestsOfLayout of OLD) it is the same archive.
	oldLayout := testkit.NewLayout(t)
	if _, err := archive.Import(ctx, []string{oldArchive}, oldLayout, archive.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	sinceL, err := archive.DigestsOfLayout(ctx, oldLayout)
	if err != nil {
		t.Fatal(err)
	}
	delta2, _ := exportFile(t, f.l, nil, "delta2.tar", archive.ExportOptions{Since: sinceL})
	if !bytes.Equal(testkit.ReadFile(t, delta), testkit.ReadFile(t, delta2)) {
		t.Fatal("delta against the layout differs from delta against the archive")
	}

	// Read in place: a left-out blob is not found, and says why.
	r, err := archive.Open(ctx, delta)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = unpackErr(t, r, "v1")
	mustIs(t, err, layout.ErrNotFound)
	contains(t, err, "left it out")
	f.checkUnpack(t, r, "v3", "c.bin")
}

func TestPlainLayoutTars(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	dir := t.TempDir()
	cases := map[string][]tarEntry{
		"dot-prefix-index-last": layoutEntries(t, f.dir, "./"),
		"no-prefix":             layoutEntries(t, f.dir, "")[1:],
		"top-directory":         layoutEntries(t, f.dir, "bundle/"),
	}
	for name, entries := range cases {
		p := filepath.Join(dir, name+".tar")
		makeTar(t, p, entries)
		out := filepath.Join(t.TempDir(), "imported")
		rep, err := archive.ImportDir(ctx, []string{p}, out, archive.ImportOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(rep.Tags, []string{"v1", "v2", "v3"}) {
			t.Fatalf("%s: tags %v", name, rep.Tags)
		}
		l, err := layout.Open(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(tagMap(t, l)) != fmt.Sprint(tagMap(t, f.l)) {
			t.Fatalf("%s: tags differ", name)
		}
		f.checkUnpack(t, l, "v2", "b.bin", "c.bin")
		// Read in place too.
		r, err := archive.Open(ctx, p)
		if err != nil {
			t.Fatalf("%s: open: %v", name, err)
		}
		f.checkUnpack(t, r, "v1", "a.bin", "b.bin")
		r.Close()
	}

	// As `oras backup` writes it: tar.Writer.AddFS of the layout directory
	// (lexical order: blobs, then index.json and oci-layout; .ocipack/ too).
	p := filepath.Join(dir, "backup.tar")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.AddFS(os.DirFS(f.dir)); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	testkit.WriteFile(t, p, buf.Bytes())
	dst := testkit.NewLayout(t)
	if _, err := archive.Import(ctx, []string{p}, dst, archive.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	f.checkUnpack(t, dst, "v3", "c.bin")

	// A plain tar compressed with zstd by another tool (no seek table):
	// imported, and read in place by decompressing from the start.
	zp := filepath.Join(dir, "plain.tar.zst")
	zf, _ := os.Create(zp)
	enc, _ := zstd.NewWriter(zf)
	enc.Write(buf.Bytes())
	enc.Close()
	zf.Close()
	if _, err := archive.Import(ctx, []string{zp}, testkit.NewLayout(t), archive.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := archive.Open(ctx, zp)
	if err != nil {
		t.Fatal(err)
	}
	f.checkUnpack(t, r, "v2", "b.bin", "c.bin")
	r.Close()

	// A plain tar missing a layer: incomplete, nothing kept.
	entries := layoutEntries(t, f.dir, "./")
	a := blobDigestOf(t, f.l, "v1", "a.bin")
	entries = slices.DeleteFunc(entries, func(e tarEntry) bool { return strings.HasSuffix(e.name, a.Encoded()) })
	p = filepath.Join(dir, "incomplete.tar")
	makeTar(t, p, entries)
	dst = testkit.NewLayout(t)
	before := snap(t, dst.Path())
	_, err = archive.Import(ctx, []string{p}, dst, archive.ImportOptions{})
	mustIs(t, err, archive.ErrIncomplete)
	contains(t, err, a.String())
	before.equal(t, snap(t, dst.Path()))

	// ImportDir removes the directory it created when the import fails.
	out := filepath.Join(t.TempDir(), "new")
	if _, err := archive.ImportDir(ctx, []string{p}, out, archive.ImportOptions{}); err == nil {
		t.Fatal("incomplete archive imported")
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("ImportDir left %s behind (%v)", out, err)
	}
}

func TestUnsafeEntries(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	dir := t.TempDir()
	good := layoutEntries(t, f.dir, "./")
	cases := map[string]tarEntry{
		"dotdot":   {name: "./../evil", typeflag: tar.TypeReg, body: []byte("x")},
		"nested":   {name: "blobs/../../evil", typeflag: tar.TypeReg, body: []byte("x")},
		"absolute": {name: "/tmp/evil", typeflag: tar.TypeReg, body: []byte("x")},
		"symlink":  {name: "./blobs/sha256/link", typeflag: tar.TypeSymlink, linkname: "/etc/passwd"},
		"hardlink": {name: "./x", typeflag: tar.TypeLink, linkname: "../../etc/passwd"},
		"fifo":     {name: "./fifo", typeflag: tar.TypeFifo},
		"device":   {name: "./dev", typeflag: tar.TypeChar},
	}
	for name, bad := range cases {
		// The bad entry sits after most blobs, which must be removed again.
		entries := slices.Insert(slices.Clone(good), len(good)-3, bad)
		p := filepath.Join(dir, name+".tar")
		makeTar(t, p, entries)
		dst := partialTarget(t, f)
		before := snap(t, dst.Path())
		_, err := archive.Import(ctx, []string{p}, dst, archive.ImportOptions{})
		mustIs(t, err, archive.ErrUnsafeEntry)
		contains(t, err, bad.name)
		before.equal(t, snap(t, dst.Path()))
		if _, err := archive.Open(ctx, p); !errors.Is(err, archive.ErrUnsafeEntry) {
			t.Fatalf("%s: Open: %v, want ErrUnsafeEntry", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "evil")); err == nil {
		t.Fatal("evil written")
	}
}

func TestReadInPlace(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	type open struct {
		name  string
		paths []string
	}
	var cases []open
	for _, c := range []archive.Compression{archive.None, archive.Zstd} {
		p, _ := exportFile(t, f.l, nil, "all.tar", archive.ExportOptions{Compression: c})
		cases = append(cases, open{string(c), []string{p}})
		vols := splitFixture(t, f, nil, "split.tar", c)
		cases = append(cases, open{string(c) + "-split", vols}, open{string(c) + "-one-volume", vols[1:2]})
	}
	for _, c := range cases {
		r, err := archive.Open(ctx, c.paths...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		tags, err := r.Tags(ctx)
		if err != nil || !slices.Equal(tags, []string{"v1", "v2", "v3"}) {
			t.Fatalf("%s: tags %v %v", c.name, tags, err)
		}
		f.checkUnpack(t, r, "v1", "a.bin", "b.bin")
		f.checkUnpack(t, r, "v2", "b.bin", "c.bin")
		// Fetch in any order, concurrently.
		ds := reachable(t, f.l, "v1", "v2", "v3")
		slices.Reverse(ds)
		errs := make(chan error, len(ds))
		for _, d := range ds {
			go func() {
				desc, err := f.l.Resolve(ctx, d.String())
				if err != nil {
					fi, _ := os.Stat(filepath.Join(f.l.Path(), "blobs", d.Algorithm().String(), d.Encoded()))
					desc.Digest, desc.Size = d, fi.Size()
				}
				ok, _ := r.Exists(ctx, desc)
				if !ok {
					errs <- fmt.Errorf("%s: Exists(%s) false", c.name, d)
					return
				}
				_, err = layout.ReadBlob(ctx, r, desc, 1<<20)
				errs <- err
			}()
		}
		for range ds {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		m := tagMap(t, f.l)
		desc, err := r.Resolve(ctx, m["v3"].String())
		if err != nil || desc.Digest != m["v3"] {
			t.Fatalf("%s: resolve by digest: %v %v", c.name, desc, err)
		}
		if _, err := r.Resolve(ctx, "nope"); !errors.Is(err, layout.ErrNotFound) {
			t.Fatalf("%s: resolve of a missing tag: %v", c.name, err)
		}
		r.Close()
	}
}

func TestNotAnArchive(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	dst := testkit.NewLayout(t)
	before := snap(t, dst.Path())
	for _, p := range []string{filepath.Join(f.src, "a.bin"), filepath.Join(f.dir, "index.json")} {
		_, err := archive.Import(ctx, []string{p}, dst, archive.ImportOptions{})
		mustIs(t, err, archive.ErrNotArchive)
		_, err = archive.Open(ctx, p)
		mustIs(t, err, archive.ErrNotArchive)
	}
	empty := filepath.Join(t.TempDir(), "empty.tar")
	os.WriteFile(empty, nil, 0o644)
	_, err := archive.Import(ctx, []string{empty}, dst, archive.ImportOptions{})
	mustIs(t, err, archive.ErrNotArchive)
	// A tar without index.json.
	noIndex := filepath.Join(t.TempDir(), "noindex.tar")
	makeTar(t, noIndex, layoutEntries(t, f.dir, "./")[:5])
	_, err = archive.Import(ctx, []string{noIndex}, dst, archive.ImportOptions{})
	mustIs(t, err, archive.ErrNotArchive)
	before.equal(t, snap(t, dst.Path()))
	if !errors.Is(archive.ErrTampered, layout.ErrDigestMismatch) {
		t.Fatal("ErrTampered does not match layout.ErrDigestMismatch")
	}
}

func TestNoSpace(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	little := func(string) (int64, error) { return 1000, nil }
	out := filepath.Join(t.TempDir(), "x.tar")
	_, err := archive.ExportFile(ctx, f.l, nil, out, archive.ExportOptions{FreeSpace: little})
	mustIs(t, err, archive.ErrNoSpace)
	contains(t, err, "need ", "1000 B free on")
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 0 {
		t.Fatalf("export refused for space left %d files", len(ents))
	}

	p, _ := exportFile(t, f.l, nil, "all.tar", archive.ExportOptions{})
	dst := partialTarget(t, f)
	before := snap(t, dst.Path())
	_, err = archive.Import(ctx, []string{p}, dst, archive.ImportOptions{FreeSpace: little})
	mustIs(t, err, archive.ErrNoSpace)
	contains(t, err, dst.Path())
	before.equal(t, snap(t, dst.Path()))

	// A plain tar (no contents list) is checked blob by blob.
	tp := filepath.Join(t.TempDir(), "plain.tar")
	makeTar(t, tp, layoutEntries(t, f.dir, "./"))
	_, err = archive.Import(ctx, []string{tp}, dst, archive.ImportOptions{FreeSpace: func(string) (int64, error) { return 50 << 10, nil }})
	mustIs(t, err, archive.ErrNoSpace)
	before.equal(t, snap(t, dst.Path()))

	// The real query.
	free, err := archive.FreeSpace(t.TempDir())
	if err != nil || free <= 0 {
		t.Fatalf("FreeSpace: %d, %v", free, err)
	}
	if err := archive.CheckSpace(filepath.Join(t.TempDir(), "not", "yet"), 1); err != nil {
		t.Fatal(err)
	}
	mustIs(t, archive.CheckSpace(t.TempDir(), 1<<62), archive.ErrNoSpace)
}

func TestCancelledImportLeavesTarget(t *testing.T) {
	f := newFixture(t)
	p, _ := exportFile(t, f.l, nil, "all.tar", archive.ExportOptions{})
	b := testkit.ReadFile(t, p)
	dst := partialTarget(t, f)
	before := snap(t, dst.Path())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancelled once 80% of the archive was read: some blobs are stored by
	// then, and must go again.
	r := &cancelReader{r: bytes.NewReader(b), after: int64(len(b)) * 8 / 10, cancel: cancel}
	_, err := archive.ImportStream(ctx, r, dst, archive.ImportOptions{})
	mustIs(t, err, context.Canceled)
	before.equal(t, snap(t, dst.Path()))

	// Progress reports the archive's size as total.
	fi, _ := os.Stat(p)
	var last, total int64
	if _, err := archive.Import(context.Background(), []string{p}, testkit.NewLayout(t), archive.ImportOptions{Progress: func(d, tot int64) { last, total = d, tot }}); err != nil {
		t.Fatal(err)
	}
	if last != fi.Size() || total != fi.Size() {
		t.Fatalf("progress ended at %d of %d, want %d", last, total, fi.Size())
	}
}

// cancelReader hands out 4 KiB at a time and cancels once after bytes
// were read.
type cancelReader struct {
	r      io.Reader
	n      int64
	after  int64
	cancel func()
}

func (c *cancelReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p[:min(len(p), 4096)])
	c.n += int64(n)
	if c.n >= c.after {
		c.cancel()
	}
	return n, err
}

// unpackErr unpacks tag from r into a temporary directory.
func unpackErr(t *testing.T, r *archive.Reader, tag string) (any, error) {
	t.Helper()
	return unpackInto(r, tag, filepath.Join(t.TempDir(), "out"))
}

var _ = digest.Digest("")

func TestCheckWholeArchive(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for _, name := range []string{"all.tar", "all.tar.zst"} {
		p, rep := exportFile(t, f.l, nil, name, archive.ExportOptions{Compression: archive.CompressionFor(name)})
		got, err := archive.Check(ctx, p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Blobs != rep.Blobs || len(got.Tags) != 3 || len(got.Required) != 0 {
			t.Fatalf("%s: Check = %+v, export wrote %d blobs of 3 tags", name, got, rep.Blobs)
		}
	}

	// Split volumes are checked whole from the first one.
	p, rep := exportFile(t, f.l, nil, "split.tar", archive.ExportOptions{Split: 64 << 10})
	got, err := archive.Check(ctx, archive.VolumeName(p, 1))
	if err != nil || got.Blobs != rep.Blobs {
		t.Fatalf("split: Check = %+v, %v; want %d blobs", got, err, rep.Blobs)
	}

	// A flipped byte is named by its blob's digest.
	p, _ = exportFile(t, f.l, nil, "tampered.tar", archive.ExportOptions{})
	flipByteOf(t, p, f.files["b.bin"])
	_, err = archive.Check(ctx, p)
	mustIs(t, err, layout.ErrDigestMismatch)
	contains(t, err, blobDigestOf(t, f.l, "v1", "b.bin").String())

	// A delta lists what it leaves out.
	old, _ := exportFile(t, f.l, []string{"v1"}, "old.tar", archive.ExportOptions{})
	since, err := archive.DigestsOfArchive(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	delta, _ := exportFile(t, f.l, nil, "delta.tar", archive.ExportOptions{Since: since})
	got, err = archive.Check(ctx, delta)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Required) == 0 {
		t.Fatalf("delta: Check lists no required blobs: %+v", got)
	}
}

// TestUnknownFreeSpace: when the free space cannot be read (the query
// fails, or the file system does not know it), export and import skip the
// check instead of claiming 0 B free; the writes report a real shortage.
func TestUnknownFreeSpace(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	unknown := func(string) (int64, error) {
		return 0, errors.New("statfs: function not implemented")
	}
	out := filepath.Join(t.TempDir(), "x.tar")
	if _, err := archive.ExportFile(ctx, f.l, nil, out, archive.ExportOptions{FreeSpace: unknown}); err != nil {
		t.Fatalf("export with the free space unknown: %v", err)
	}
	dst := partialTarget(t, f)
	if _, err := archive.Import(ctx, []string{out}, dst, archive.ImportOptions{FreeSpace: unknown}); err != nil {
		t.Fatalf("import with the free space unknown: %v", err)
	}
}
