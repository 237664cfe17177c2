package layout_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/inspect"
	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

// Fuzzing of what a layout reads from disk: index.json (FuzzIndex) and
// manifests (FuzzManifest). The layout is written by hand (no fsync, no
// lock), so that an iteration costs little more than the code under test.

// fzSlow is how long one fuzz input may take before it counts as a hang.
const fzSlow = 10 * time.Second

// fzFixture is a layout holding a few well-formed blobs the fuzzed
// index.json or manifest can point at.
type fzFixture struct {
	dir      string
	config   ocispec.Descriptor // {}
	layer    ocispec.Descriptor // a file
	manifest ocispec.Descriptor // config + layer, tagged nowhere
	index    ocispec.Descriptor // an image index listing manifest
	referrer ocispec.Descriptor // a manifest whose subject is manifest
}

// Fixed content, so that the seeds below can name these blobs by digest.
var (
	fzConfigJSON = []byte("{}")
	fzLayerBytes = []byte("hello, fuzz\n")
)

func fzDesc(mt string, b []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
}

func fzJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// fzBlobs returns the fixture's blobs, content by descriptor.
func fzBlobs() (cfg, layer, man, idx, ref ocispec.Descriptor, blobs map[digest.Digest][]byte) {
	blobs = map[digest.Digest][]byte{}
	add := func(mt string, b []byte) ocispec.Descriptor {
		d := fzDesc(mt, b)
		blobs[d.Digest] = b
		return d
	}
	cfg = add(ocispec.MediaTypeEmptyJSON, fzConfigJSON)
	layer = add("application/octet-stream", fzLayerBytes)
	layer.Annotations = map[string]string{ocispec.AnnotationTitle: "hello.txt"}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/vnd.example", Config: cfg, Layers: []ocispec.Descriptor{layer},
		Annotations: map[string]string{ocispec.AnnotationCreated: "2023-11-14T22:13:20Z"}}
	m.SchemaVersion = 2
	man = add(ocispec.MediaTypeImageManifest, fzJSON(m))
	ix := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{man}}
	ix.SchemaVersion = 2
	idx = add(ocispec.MediaTypeImageIndex, fzJSON(ix))
	r := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/vnd.example.sbom", Config: ocispec.DescriptorEmptyJSON,
		Layers: []ocispec.Descriptor{layer}, Subject: &man}
	r.SchemaVersion = 2
	blobs[ocispec.DescriptorEmptyJSON.Digest] = ocispec.DescriptorEmptyJSON.Data
	ref = add(ocispec.MediaTypeImageManifest, fzJSON(r))
	return
}

// newFzFixture writes the fixture's layout, with index.json holding
// indexJSON, into a new temporary directory.
func newFzFixture(t testing.TB, indexJSON []byte, extra ...[]byte) *fzFixture {
	t.Helper()
	x := &fzFixture{dir: filepath.Join(t.TempDir(), "layout")}
	var blobs map[digest.Digest][]byte
	x.config, x.layer, x.manifest, x.index, x.referrer, blobs = fzBlobs()
	for _, b := range extra {
		blobs[digest.FromBytes(b)] = b
	}
	if err := os.MkdirAll(filepath.Join(x.dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		testkit.WriteFile(t, filepath.Join(x.dir, name), b)
	}
	write(ocispec.ImageLayoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`))
	write(ocispec.ImageIndexFile, indexJSON)
	for d, b := range blobs {
		write(filepath.Join("blobs", "sha256", d.Encoded()), b)
	}
	return x
}

// fzIndexSeeds are index.json files: well-formed ones using the fixture's
// blobs, and broken ones.
// fzFuzz adds seeds to f and fuzzes fn, given a context and the time the
// input started.
func fzFuzz(f *testing.F, seeds [][]byte, fn func(t *testing.T, ctx context.Context, start time.Time, data []byte)) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fn(t, context.Background(), time.Now(), data)
	})
}

func fzIndexSeeds() [][]byte {
	cfg, layer, man, idx, ref, _ := fzBlobs()
	tagged := func(d ocispec.Descriptor, tag string) ocispec.Descriptor {
		d.Annotations = map[string]string{ocispec.AnnotationRefName: tag}
		return d
	}
	index := func(ds ...ocispec.Descriptor) []byte {
		ix := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: ds}
		ix.SchemaVersion = 2
		return fzJSON(ix)
	}
	big := man
	big.Size = 1 << 62
	neg := man
	neg.Size = -1
	wrongSize := man
	wrongSize.Size++
	noMT := man
	noMT.MediaType = ""
	unknownMT := man
	unknownMT.MediaType = "application/octet-stream"
	missing := fzDesc(ocispec.MediaTypeImageManifest, []byte("not stored"))
	sha512 := missing
	sha512.Digest = digest.SHA512.FromString("x")
	return [][]byte{
		index(),
		index(tagged(man, "v1")),
		index(tagged(man, "v1"), tagged(idx, "all"), ref),
		index(tagged(man, "v1"), tagged(man, "v1")),
		index(tagged(man, "v1"), tagged(idx, "v1")),
		index(tagged(noMT, "v1"), noMT),
		index(tagged(unknownMT, "v1")),
		index(tagged(cfg, "config"), tagged(layer, "layer")),
		index(tagged(big, "big")),
		index(tagged(neg, "neg")),
		index(tagged(wrongSize, "wrong")),
		index(tagged(missing, "missing"), tagged(sha512, "sha512")),
		index(ref),
		index(tagged(man, "sha256:"+man.Digest.Encoded())),
		index(tagged(man, "")),
		[]byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:zz","size":1,"annotations":{"org.opencontainers.image.ref.name":"bad"}}]}`),
		[]byte(`{"schemaVersion":2,"manifests":[{"digest":"sha256:` + strings.Repeat("0", 63) + `","size":2}]}`),
		[]byte(`{"schemaVersion":1,"manifests":[]}`),
		[]byte(`{"schemaVersion":2,"mediaType":"application/json","manifests":null}`),
		[]byte(`{"schemaVersion":2,"manifests":[null]}`),
		[]byte(`{"schemaVersion":2,"manifests":{}}`),
		[]byte(`{"schemaVersion":2,"manifests":[{"digest":"../../../etc/passwd","size":1}]}`),
		[]byte(`{"schemaVersion":2,"manifests":[{"digest":"sha256:` + man.Digest.Encoded() + `","size":` + fmt.Sprint(man.Size) + `,"annotations":{"org.opencontainers.image.ref.name":"\u0000"}}]}`),
		[]byte(`{"schemaVersion":2e0}`),
		[]byte(`{"schemaVersion":9999999999999999999999}`),
		[]byte(`{"schemaVersion":2,"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`),
		[]byte(strings.Repeat("[", 100) + strings.Repeat("]", 100)),
		[]byte(`null`),
		[]byte(``),
		[]byte("\xef\xbb\xbf{\"schemaVersion\":2}"),
	}
}

// fzLayoutError reports whether err matches one of layout's sentinels.
func fzLayoutError(err error) bool {
	for _, s := range []error{layout.ErrCorrupt, layout.ErrNotFound, layout.ErrSizeMismatch,
		layout.ErrDigestMismatch, layout.ErrInvalidReference} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// problemKey identifies a problem of Check without its wording, which
// mentions positions in index.json that GC may shift.
func problemKey(p layout.Problem) string {
	return string(p.Kind) + " " + p.Path + " " + string(p.Digest)
}

// FuzzIndex writes the fuzz input as index.json of a layout that holds a
// few good blobs, and runs every reader over it: Index, Tags, Resolve,
// Summaries, Inspect, Predecessors, Check, then Tag and GC. None may panic;
// errors are layout's sentinels; a broken index.json is never overwritten
// and makes Check report a problem; GC never removes what Check saw
// reachable.
func FuzzIndex(f *testing.F) {
	fzFuzz(f, fzIndexSeeds(), func(t *testing.T, ctx context.Context, start time.Time, data []byte) {
		x := newFzFixture(t, data)
		l, err := layout.Open(ctx, x.dir)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer l.Close()

		idx, idxErr := l.Index(ctx)
		if idxErr != nil {
			if !errors.Is(idxErr, layout.ErrCorrupt) {
				t.Fatalf("Index: %v does not match ErrCorrupt", idxErr)
			}
		} else {
			if idx.SchemaVersion != 2 {
				t.Fatalf("Index accepted schemaVersion %d", idx.SchemaVersion)
			}
			for i, d := range idx.Manifests {
				if err := d.Digest.Validate(); err != nil {
					t.Fatalf("Index accepted manifests[%d] with digest %q", i, d.Digest)
				}
			}
		}

		tags, err := l.Tags(ctx)
		if (err != nil) != (idxErr != nil) {
			t.Fatalf("Tags: %v, but Index: %v", err, idxErr)
		}
		for _, tg := range tags {
			if tg.Tag == "" || tg.Descriptor.Annotations[ocispec.AnnotationRefName] != tg.Tag {
				t.Fatalf("Tags returned %+v", tg)
			}
			d, err := l.Resolve(ctx, tg.Tag)
			if err != nil {
				if _, perr := digest.Parse(tg.Tag); perr != nil || !fzLayoutError(err) {
					t.Fatalf("Resolve(%q) of a listed tag: %v", tg.Tag, err)
				}
			} else if layout.ValidTag(tg.Tag) && d.Annotations[ocispec.AnnotationRefName] != tg.Tag {
				t.Fatalf("Resolve(%q) = %+v", tg.Tag, d)
			}
			if in, err := inspect.Describe(ctx, l, tg.Tag); err != nil {
				if !fzLayoutError(err) {
					t.Fatalf("Inspect(%q): %v matches no sentinel", tg.Tag, err)
				}
			} else if in.Digest.Validate() != nil {
				t.Fatalf("Inspect(%q) = digest %q", tg.Tag, in.Digest)
			}
		}
		if idx != nil {
			for _, m := range idx.Manifests {
				d, err := l.Resolve(ctx, m.Digest.String())
				if err != nil || d.Digest != m.Digest {
					t.Fatalf("Resolve(%s), listed in index.json: %+v, %v", m.Digest, d, err)
				}
				if _, err := inspect.Describe(ctx, l, m.Digest.String()); err != nil && !fzLayoutError(err) {
					t.Fatalf("Inspect(%s): %v matches no sentinel", m.Digest, err)
				}
			}
		}
		for _, ref := range []string{"v1", "latest", x.manifest.Digest.String(), x.referrer.Digest.String(), x.config.Digest.String(), x.layer.Digest.String(), "sha256:" + strings.Repeat("0", 64), "sha256:x"} {
			if _, err := l.Resolve(ctx, ref); err != nil && !fzLayoutError(err) {
				t.Fatalf("Resolve(%q): %v matches no sentinel", ref, err)
			}
			if _, err := inspect.Describe(ctx, l, ref); err != nil && !fzLayoutError(err) {
				t.Fatalf("Inspect(%q): %v matches no sentinel", ref, err)
			}
		}
		if _, err := l.Predecessors(ctx, x.manifest); err != nil && !fzLayoutError(err) {
			t.Fatalf("Predecessors: %v matches no sentinel", err)
		}

		sums, err := inspect.Summaries(ctx, l)
		if (err != nil) != (idxErr != nil) {
			t.Fatalf("Summaries: %v, but Index: %v", err, idxErr)
		}
		if err == nil {
			// Every tag, in order, then the untagged entries (never one
			// tagged elsewhere, never twice).
			if len(sums) < len(tags) {
				t.Fatalf("Summaries: %d for %d tags", len(sums), len(tags))
			}
			for i, tg := range tags {
				if sums[i].Tag != tg.Tag || sums[i].Digest != tg.Descriptor.Digest {
					t.Fatalf("Summaries[%d] = %s %s, want tag %s %s", i, sums[i].Tag, sums[i].Digest, tg.Tag, tg.Descriptor.Digest)
				}
			}
			seen := map[digest.Digest]bool{}
			for _, tg := range tags {
				seen[tg.Descriptor.Digest] = true
			}
			for _, s := range sums[len(tags):] {
				if s.Tag != "" || seen[s.Digest] {
					t.Fatalf("Summaries: untagged entry %q %s is tagged or listed twice", s.Tag, s.Digest)
				}
				seen[s.Digest] = true
			}
		}

		rep, err := l.Check(ctx, layout.CheckOptions{})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if idxErr != nil && rep.OK() {
			t.Fatalf("Check found nothing wrong, but Index: %v", idxErr)
		}

		// A write keeps the other tags; on a broken index.json it fails and
		// leaves the file alone.
		err = l.Tag(ctx, x.manifest, "fuzz-tag")
		if idxErr != nil {
			if err == nil || !errors.Is(err, layout.ErrCorrupt) {
				t.Fatalf("Tag on a broken index.json: %v", err)
			}
			if b, _ := os.ReadFile(filepath.Join(x.dir, ocispec.ImageIndexFile)); string(b) != string(data) {
				t.Fatal("Tag rewrote a broken index.json")
			}
		} else {
			if err != nil {
				t.Fatalf("Tag: %v", err)
			}
			after, err := l.Tags(ctx)
			if err != nil {
				t.Fatalf("Tags after Tag: %v", err)
			}
			got := map[string]digest.Digest{}
			for _, tg := range after {
				got[tg.Tag] = tg.Descriptor.Digest
			}
			if got["fuzz-tag"] != x.manifest.Digest {
				t.Fatalf("Tag did not point fuzz-tag at %s: %v", x.manifest.Digest, got)
			}
			for _, tg := range tags {
				if _, ok := got[tg.Tag]; !ok && layout.ValidTag(tg.Tag) {
					t.Fatalf("Tag lost tag %q", tg.Tag)
				}
			}
		}

		// GC never removes a blob Check saw reachable: it may not add a
		// problem.
		before, err := l.Check(ctx, layout.CheckOptions{SkipHash: true})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		l.Close() // GC waits for writers
		gcRep, gcErr := l.GC(ctx, layout.GCOptions{})
		if gcErr != nil && !errors.Is(gcErr, layout.ErrCorrupt) {
			t.Fatalf("GC: %v does not match ErrCorrupt", gcErr)
		}
		afterCheck, err := l.Check(ctx, layout.CheckOptions{SkipHash: true})
		if err != nil {
			t.Fatalf("Check after GC: %v", err)
		}
		had := map[string]bool{}
		for _, p := range before.Problems {
			had[problemKey(p)] = true
		}
		for _, p := range afterCheck.Problems {
			if !had[problemKey(p)] {
				t.Fatalf("GC (%+v, %v) made a new problem: %v\nbefore: %v", gcRep, gcErr, p, before.Problems)
			}
		}
		if gcErr != nil && (!sameKeys(before.Problems, afterCheck.Problems) || !sameKeys(before.Warnings, afterCheck.Warnings)) {
			t.Fatalf("GC failed (%v) but changed the layout: before %v %v, after %v %v",
				gcErr, before.Problems, before.Warnings, afterCheck.Problems, afterCheck.Warnings)
		}
		if d := time.Since(start); d > fzSlow {
			t.Fatalf("took %v", d)
		}
	})
}

// sameKeys reports whether a and b hold the same problems, by problemKey.
func sameKeys(a, b []layout.Problem) bool {
	ka, kb := map[string]bool{}, map[string]bool{}
	for _, p := range a {
		ka[problemKey(p)] = true
	}
	for _, p := range b {
		kb[problemKey(p)] = true
	}
	return maps.Equal(ka, kb)
}

// fzManifestSeeds are manifests and indexes, good and broken.
func fzManifestSeeds() [][]byte {
	cfg, layer, man, idx, ref, blobs := fzBlobs()
	_ = idx
	neg := layer
	neg.Size = -5
	huge := layer
	huge.Size = 1 << 62
	m := func(mt string, config *ocispec.Descriptor, layers ...ocispec.Descriptor) []byte {
		v := map[string]any{"schemaVersion": 2, "layers": layers}
		if mt != "" {
			v["mediaType"] = mt
		}
		if config != nil {
			v["config"] = config
		}
		return fzJSON(v)
	}
	return [][]byte{
		blobs[man.Digest],
		blobs[idx.Digest],
		blobs[ref.Digest],
		m(ocispec.MediaTypeImageManifest, &cfg, layer, layer),
		m("", &cfg, layer),
		m(ocispec.MediaTypeImageManifest, nil, layer),
		m(ocispec.MediaTypeImageIndex, &cfg, layer),
		m("application/vnd.docker.distribution.manifest.v2+json", &cfg, layer),
		m("application/vnd.oci.artifact.manifest.v1+json", nil),
		m(ocispec.MediaTypeImageManifest, &cfg, neg),
		m(ocispec.MediaTypeImageManifest, &cfg, huge),
		m(ocispec.MediaTypeImageManifest, &ocispec.Descriptor{Digest: "sha256:bad"}),
		[]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.artifact.manifest.v1+json","blobs":[{"digest":"` + layer.Digest.String() + `","size":12}],"subject":{"digest":"` + man.Digest.String() + `","size":` + fmt.Sprint(man.Size) + `}}`),
		[]byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"` + idx.Digest.String() + `","size":` + fmt.Sprint(idx.Size) + `}]}`),
		[]byte(`{"schemaVersion":1}`),
		[]byte(`{"schemaVersion":2,"config":null,"layers":null}`),
		[]byte(`{"schemaVersion":2,"config":{"digest":"sha256:` + strings.Repeat("a", 64) + `","size":0},"layers":[{}]}`),
		[]byte(`{"schemaVersion":2,"annotations":` + strings.Repeat(`{"a":`, 50) + `1` + strings.Repeat(`}`, 50) + `}`),
		[]byte(`[]`),
		[]byte(`"manifest"`),
		[]byte(``),
	}
}

// FuzzManifest stores the fuzz input as a blob under its real digest and
// reads it as a manifest: tagged in index.json as an image manifest, then
// listed without a media type, then not listed at all (found by digest).
// ReadManifest, Inspect, Summaries and Check never panic, fail only with
// layout's sentinels (ErrCorrupt for content that does not parse), and
// agree: ReadManifest refuses exactly what Check reports as a problem.
func FuzzManifest(f *testing.F) {
	fzFuzz(f, fzManifestSeeds(), func(t *testing.T, ctx context.Context, start time.Time, data []byte) {
		desc := fzDesc(ocispec.MediaTypeImageManifest, data)
		indexes := map[string][]byte{
			"tagged":   fzJSON(map[string]any{"schemaVersion": 2, "manifests": []any{map[string]any{"mediaType": desc.MediaType, "digest": desc.Digest, "size": desc.Size, "annotations": map[string]string{ocispec.AnnotationRefName: "v1"}}}}),
			"untyped":  fzJSON(map[string]any{"schemaVersion": 2, "manifests": []any{map[string]any{"digest": desc.Digest, "size": desc.Size, "annotations": map[string]string{ocispec.AnnotationRefName: "v1"}}}}),
			"unlisted": []byte(`{"schemaVersion":2,"manifests":[]}`),
		}
		for _, name := range []string{"tagged", "untyped", "unlisted"} {
			x := newFzFixture(t, indexes[name], data)
			l, err := layout.Open(ctx, x.dir)
			if err != nil {
				t.Fatalf("%s: Open: %v", name, err)
			}
			rd, err := l.Resolve(ctx, desc.Digest.String())
			if err != nil {
				if name != "unlisted" || !errors.Is(err, layout.ErrCorrupt) {
					t.Fatalf("%s: Resolve(%s): %v", name, desc.Digest, err)
				}
			} else if rd.Digest != desc.Digest || rd.Size != desc.Size {
				t.Fatalf("%s: Resolve(%s) = %+v", name, desc.Digest, rd)
			}
			d := desc
			if name != "tagged" {
				d.MediaType = ""
			}
			m, mErr := layout.ReadManifest(ctx, l, d)
			if mErr != nil {
				if !errors.Is(mErr, layout.ErrCorrupt) {
					t.Fatalf("%s: ReadManifest: %v does not match ErrCorrupt", name, mErr)
				}
			} else {
				if m.SchemaVersion != 2 {
					t.Fatalf("%s: ReadManifest accepted schemaVersion %d", name, m.SchemaVersion)
				}
				for _, c := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
					if c.Digest.Validate() != nil || c.Size < 0 {
						t.Fatalf("%s: ReadManifest accepted descriptor %+v", name, c)
					}
				}
			}
			for _, ref := range []string{"v1", desc.Digest.String()} {
				in, err := inspect.Describe(ctx, l, ref)
				if err != nil {
					if !fzLayoutError(err) {
						t.Fatalf("%s: Inspect(%q): %v matches no sentinel", name, ref, err)
					}
					if name != "unlisted" && !errors.Is(err, layout.ErrCorrupt) {
						t.Fatalf("%s: Inspect(%q) of a stored manifest: %v", name, ref, err)
					}
					continue
				}
				if in.Digest != desc.Digest {
					t.Fatalf("%s: Inspect(%q) = %s", name, ref, in.Digest)
				}
			}
			sums, err := inspect.Summaries(ctx, l)
			if err != nil {
				t.Fatalf("%s: Summaries: %v", name, err)
			}
			if want := map[bool]int{true: 0, false: 1}[name == "unlisted"]; len(sums) != want {
				t.Fatalf("%s: %d summaries", name, len(sums))
			}
			rep, err := l.Check(ctx, layout.CheckOptions{})
			if err != nil {
				t.Fatalf("%s: Check: %v", name, err)
			}
			if name == "tagged" && mErr != nil && rep.OK() {
				t.Fatalf("%s: ReadManifest: %v, but Check: %v", name, mErr, rep.Problems)
			}
			l.Close()
		}
		if d := time.Since(start); d > fzSlow {
			t.Fatalf("took %v", d)
		}
	})
}

// TestCheckGraph checks the graph below given roots as Check checks what
// index.json reaches (importers use it before tagging).
func TestCheckGraph(t *testing.T) {
	ctx := context.Background()
	x := newFzFixture(t, []byte(`{"schemaVersion":2,"manifests":[]}`))
	l := testkit.OpenLayout(t, x.dir)
	unknown := x.config
	unknown.MediaType = "application/octet-stream"
	wrongSize := x.manifest
	wrongSize.Size--
	for name, c := range map[string]struct {
		roots []ocispec.Descriptor
		want  []layout.ProblemKind
	}{
		"sound":         {[]ocispec.Descriptor{x.manifest, x.index, x.referrer}, nil},
		"none":          {nil, nil},
		"unknown type":  {[]ocispec.Descriptor{unknown}, []layout.ProblemKind{layout.ProblemUnknownMediaType}},
		"wrong size":    {[]ocispec.Descriptor{wrongSize}, []layout.ProblemKind{layout.ProblemSize}},
		"two sizes":     {[]ocispec.Descriptor{x.manifest, wrongSize}, []layout.ProblemKind{layout.ProblemSize}},
		"bad digest":    {[]ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageManifest, Digest: "sha256:x", Size: 1}}, []layout.ProblemKind{layout.ProblemCorruptIndex}},
		"missing":       {[]ocispec.Descriptor{fzDesc(ocispec.MediaTypeImageManifest, []byte("absent"))}, []layout.ProblemKind{layout.ProblemMissing}},
		"config as one": {[]ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageManifest, Digest: x.config.Digest, Size: x.config.Size}}, []layout.ProblemKind{layout.ProblemCorruptManifest}},
	} {
		t.Run(name, func(t *testing.T) {
			rep, err := l.Check(ctx, layout.CheckOptions{Roots: append([]ocispec.Descriptor{}, c.roots...)})
			if err != nil {
				t.Fatal(err)
			}
			ps := rep.Problems
			var kinds []layout.ProblemKind
			for _, p := range ps {
				kinds = append(kinds, p.Kind)
			}
			if fmt.Sprint(kinds) != fmt.Sprint(c.want) {
				t.Errorf("CheckGraph: %v, want kinds %v", ps, c.want)
			}
		})
	}
}
