package layout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

// ckLayout is a layout with two tagged artifacts ("a", "b") that share their
// config, as the check and gc tests start from.
type ckLayout struct {
	l    *layout.Layout
	a, b ckArtifact
}

// ckArtifact is one stored artifact: its manifest and its blobs.
type ckArtifact struct {
	manifest ocispec.Descriptor
	config   ocispec.Descriptor
	layer    ocispec.Descriptor
}

// newCkLayout builds the layout of ckLayout.
func newCkLayout(t *testing.T) *ckLayout {
	t.Helper()
	c := &ckLayout{l: testkit.NewLayout(t)}
	c.a = ckStoreArtifact(t, c.l, "a", "content of a")
	c.b = ckStoreArtifact(t, c.l, "b", "content of b, a bit longer")
	return c
}

// ckStoreArtifact stores a one-layer manifest (config: the empty JSON) and
// tags it, unless tag is "".
func ckStoreArtifact(t testing.TB, l *layout.Layout, tag, body string) ckArtifact {
	t.Helper()
	desc := testkit.StoreManifest(t, l, "application/x.test", body)
	m, err := layout.ReadManifest(context.Background(), l, desc)
	if err != nil {
		t.Fatal(err)
	}
	if tag != "" {
		if err := l.Tag(context.Background(), desc, tag); err != nil {
			t.Fatal(err)
		}
	}
	return ckArtifact{manifest: desc, config: m.Config, layer: m.Layers[0]}
}

func ckCheck(t *testing.T, l *layout.Layout, opts layout.CheckOptions) *layout.CheckReport {
	t.Helper()
	rep, err := l.Check(context.Background(), opts)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return rep
}

// ckFound reports whether ps has a problem of kind about d ("" matches any
// digest).
func ckFound(ps []layout.Problem, d digest.Digest, kind layout.ProblemKind) bool {
	for _, p := range ps {
		if p.Kind == kind && (d == "" || p.Digest == d) {
			return true
		}
	}
	return false
}

func ckMustFind(t *testing.T, ps []layout.Problem, d digest.Digest, kind layout.ProblemKind) {
	t.Helper()
	if !ckFound(ps, d, kind) {
		t.Errorf("no %s problem for %q in:\n%s", kind, d, ckLines(ps))
	}
}

func ckLines(ps []layout.Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("\t" + p.String() + "\n")
	}
	return b.String()
}

func TestCheckHealthy(t *testing.T) {
	c := newCkLayout(t)
	var calls int
	var last, total int64
	rep := ckCheck(t, c.l, layout.CheckOptions{Progress: func(d, tot int64) { calls++; last, total = d, tot }})
	if !rep.OK() || !rep.Clean() {
		t.Fatalf("healthy layout: problems:\n%swarnings:\n%s", ckLines(rep.Problems), ckLines(rep.Warnings))
	}
	// a and b share their config: 2 manifests + 1 config + 2 layers.
	if rep.Tags != 2 || rep.Manifests != 2 || rep.Blobs != 5 {
		t.Errorf("tags %d manifests %d blobs %d, want 2, 2, 5", rep.Tags, rep.Manifests, rep.Blobs)
	}
	want := c.a.manifest.Size + c.b.manifest.Size + c.a.config.Size + c.a.layer.Size + c.b.layer.Size
	if rep.Bytes != want {
		t.Errorf("bytes %d, want %d", rep.Bytes, want)
	}
	// Progress runs over configs and layers (manifests are read anyway).
	if calls == 0 || last != total || total != c.a.config.Size+c.a.layer.Size+c.b.layer.Size {
		t.Errorf("progress: %d calls, last %d of %d", calls, last, total)
	}
	if len(testkit.BlobFiles(t, c.l.Path())) != 5 {
		t.Errorf("blobs/sha256 holds %v", testkit.BlobFiles(t, c.l.Path()))
	}

	// JSON for `verify --json`: empty lists, not null.
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"problems":[]`, `"warnings":[]`, `"manifests":2`, `"blobs":5`, `"tags":2`} {
		if !bytes.Contains(b, []byte(k)) {
			t.Errorf("JSON %s lacks %s", b, k)
		}
	}
}

func TestCheckEmptyLayout(t *testing.T) {
	rep := ckCheck(t, testkit.NewLayout(t), layout.CheckOptions{})
	if !rep.Clean() || rep.Blobs != 0 || rep.Tags != 0 {
		t.Fatalf("empty layout: %+v", rep)
	}
}

func TestCheckFindsEachCorruption(t *testing.T) {
	cases := []struct {
		name string
		// corrupt damages c and returns the digest and kind to find.
		corrupt func(t *testing.T, c *ckLayout) (digest.Digest, layout.ProblemKind)
		warning bool // found in Warnings, the layout still OK
	}{
		{"missing blob", func(t *testing.T, c *ckLayout) (digest.Digest, layout.ProblemKind) {
			ckRm(t, c.l.BlobPath(c.a.layer.Digest))
			return c.a.layer.Digest, layout.ProblemMissing
		}, false},
		{"missing manifest", func(t *testing.T, c *ckLayout) (digest.Digest, layout.ProblemKind) {
			ckRm(t, c.l.BlobPath(c.b.manifest.Digest))
			return c.b.manifest.Digest, layout.ProblemMissing
		}, false},
		{"flipped byte", func(t *testing.T, c *ckLayout) (digest.Digest, layout.ProblemKind) {
			testkit.FlipByteMiddle(t, c.l.BlobPath(c.b.layer.Digest))
			return c.b.layer.Digest, layout.ProblemDigest
		}, false},
		{"flipped byte in a manifest", func(t *testing.T, c *ckLayout) (digest.Digest, layout.ProblemKind) {
			testkit.FlipByteMiddle(t, c.l.BlobPath(c.a.manifest.Digest))
			return c.a.manifest.Digest, layout.ProblemDigest
		}, false},
		{"truncated", func(t *testing.T, c *ckLayout) (digest.Digest, layout.ProblemKind) {
			if err := os.Truncate(c.l.BlobPath(c.a.layer.Digest), 3); err != nil {
				t.Fatal(err)
			}
			return c.a.layer.Digest, layout.ProblemSize
		}, false},
		{"symlink", func(t *testing.T, c *ckLayout) (digest.Digest, layout.ProblemKind) {
			p := c.l.BlobPath(c.a.layer.Digest)
			ckRm(t, p)
			if err := os.Symlink("/etc/passwd", p); err != nil {
				t.Skip(err)
			}
			return c.a.layer.Digest, layout.ProblemNotRegular
		}, false},
		{"unreferenced blob", func(t *testing.T, c *ckLayout) (digest.Digest, layout.ProblemKind) {
			return testkit.Ingest(t, c.l, "application/octet-stream", []byte("nobody's")).Digest, layout.ProblemUnreferenced
		}, true},
		{"unparseable manifest", func(t *testing.T, c *ckLayout) (digest.Digest, layout.ProblemKind) {
			return testkit.TagBlobAsManifest(t, c.l, "broken", []byte(`{"schemaVersion": 2, "config": `)).Digest, layout.ProblemCorruptManifest
		}, false},
		{"manifest without config", func(t *testing.T, c *ckLayout) (digest.Digest, layout.ProblemKind) {
			return testkit.TagBlobAsManifest(t, c.l, "broken", []byte(`{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "layers": []}`)).Digest, layout.ProblemCorruptManifest
		}, false},
		{"broken index.json", func(t *testing.T, c *ckLayout) (digest.Digest, layout.ProblemKind) {
			testkit.WriteFile(t, filepath.Join(c.l.Path(), "index.json"), `{"schemaVersion": 2, "manifests": [`)
			return "", layout.ProblemCorruptIndex
		}, false},
		{"index.json schemaVersion 1", func(t *testing.T, c *ckLayout) (digest.Digest, layout.ProblemKind) {
			testkit.WriteFile(t, filepath.Join(c.l.Path(), "index.json"), `{"schemaVersion": 1, "manifests": []}`)
			return "", layout.ProblemCorruptIndex
		}, false},
		{"index.json bad digest", func(t *testing.T, c *ckLayout) (digest.Digest, layout.ProblemKind) {
			ckEditIndex(t, c.l, func(idx *ocispec.Index) {
				idx.Manifests = append(idx.Manifests, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: "sha256:nothex", Size: 2})
			})
			return "", layout.ProblemCorruptIndex
		}, false},
		{"index.json unknown media type", func(t *testing.T, c *ckLayout) (digest.Digest, layout.ProblemKind) {
			d := testkit.Ingest(t, c.l, "application/x.weird", []byte("weird"))
			ckEditIndex(t, c.l, func(idx *ocispec.Index) {
				d.Annotations = map[string]string{ocispec.AnnotationRefName: "weird"}
				idx.Manifests = append(idx.Manifests, d)
			})
			return d.Digest, layout.ProblemUnknownMediaType
		}, false},
		{"missing index.json", func(t *testing.T, c *ckLayout) (digest.Digest, layout.ProblemKind) {
			ckRm(t, filepath.Join(c.l.Path(), "index.json"))
			return "", layout.ProblemBadLayoutFile
		}, false},
		{"missing oci-layout", func(t *testing.T, c *ckLayout) (digest.Digest, layout.ProblemKind) {
			ckRm(t, filepath.Join(c.l.Path(), "oci-layout"))
			return "", layout.ProblemBadLayoutFile
		}, false},
		{"wrong oci-layout version", func(t *testing.T, c *ckLayout) (digest.Digest, layout.ProblemKind) {
			testkit.WriteFile(t, filepath.Join(c.l.Path(), "oci-layout"), `{"imageLayoutVersion": "2.0.0"}`)
			return "", layout.ProblemBadLayoutFile
		}, false},
		{"blob named not-a-digest", func(t *testing.T, c *ckLayout) (digest.Digest, layout.ProblemKind) {
			testkit.WriteFile(t, filepath.Join(c.l.Path(), "blobs", "sha256", "not-a-digest"), "x")
			return "", layout.ProblemBadName
		}, false},
		{"unknown algorithm directory", func(t *testing.T, c *ckLayout) (digest.Digest, layout.ProblemKind) {
			if err := os.MkdirAll(filepath.Join(c.l.Path(), "blobs", "md5"), 0o755); err != nil {
				t.Fatal(err)
			}
			return "", layout.ProblemBadName
		}, false},
		{"temp file", func(t *testing.T, c *ckLayout) (digest.Digest, layout.ProblemKind) {
			testkit.WriteFile(t, filepath.Join(c.l.Path(), layout.WorkDir, "tmp", "blob-123"), "partial")
			return "", layout.ProblemTempFile
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCkLayout(t)
			d, kind := tc.corrupt(t, c)
			rep := ckCheck(t, c.l, layout.CheckOptions{})
			list := rep.Problems
			if tc.warning {
				list = rep.Warnings
				if !rep.OK() {
					t.Errorf("a warning made the layout not OK:\n%s", ckLines(rep.Problems))
				}
			} else if rep.OK() {
				t.Errorf("OK despite the damage")
			}
			ckMustFind(t, list, d, kind)
			for _, p := range list {
				if p.Kind == kind && p.Path == "" {
					t.Errorf("problem without a path: %+v", p)
				}
			}
			if t.Failed() {
				t.Logf("problems:\n%swarnings:\n%s", ckLines(rep.Problems), ckLines(rep.Warnings))
			}
		})
	}
}

func TestCheckListsEveryProblem(t *testing.T) {
	c := newCkLayout(t)
	third := ckStoreArtifact(t, c.l, "c", "content of c")
	ckRm(t, c.l.BlobPath(c.a.layer.Digest))
	testkit.FlipByteMiddle(t, c.l.BlobPath(c.b.layer.Digest))
	if err := os.Truncate(c.l.BlobPath(third.layer.Digest), 1); err != nil {
		t.Fatal(err)
	}
	extra := testkit.Ingest(t, c.l, "application/octet-stream", []byte("dangling"))
	broken := testkit.TagBlobAsManifest(t, c.l, "broken", []byte("not json")).Digest
	testkit.WriteFile(t, filepath.Join(c.l.Path(), "blobs", "sha256", "not-a-digest"), "x")
	ckRm(t, filepath.Join(c.l.Path(), "oci-layout"))

	rep := ckCheck(t, c.l, layout.CheckOptions{})
	ckMustFind(t, rep.Problems, c.a.layer.Digest, layout.ProblemMissing)
	ckMustFind(t, rep.Problems, c.b.layer.Digest, layout.ProblemDigest)
	ckMustFind(t, rep.Problems, third.layer.Digest, layout.ProblemSize)
	ckMustFind(t, rep.Problems, broken, layout.ProblemCorruptManifest)
	ckMustFind(t, rep.Problems, "", layout.ProblemBadName)
	ckMustFind(t, rep.Problems, "", layout.ProblemBadLayoutFile)
	ckMustFind(t, rep.Warnings, extra.Digest, layout.ProblemUnreferenced)
	if len(rep.Problems) != 6 || len(rep.Warnings) != 1 {
		t.Errorf("want 6 problems and 1 warning, got:\n%swarnings:\n%s", ckLines(rep.Problems), ckLines(rep.Warnings))
	}

	// Deterministic and sorted.
	again := ckCheck(t, c.l, layout.CheckOptions{})
	if !reflect.DeepEqual(rep, again) {
		t.Errorf("two checks differ:\n%+v\n%+v", rep, again)
	}
	for i := 1; i < len(rep.Problems); i++ {
		if rep.Problems[i-1].Path > rep.Problems[i].Path {
			t.Errorf("problems not sorted by path: %q before %q", rep.Problems[i-1].Path, rep.Problems[i].Path)
		}
	}

	// --fast does not read layers: the flipped byte goes unseen, the rest
	// does not.
	fast := ckCheck(t, c.l, layout.CheckOptions{SkipHash: true, Progress: func(int64, int64) { t.Error("progress without hashing") }})
	if ckFound(fast.Problems, c.b.layer.Digest, layout.ProblemDigest) {
		t.Errorf("SkipHash hashed layers")
	}
	if len(fast.Problems) != 5 {
		t.Errorf("SkipHash: want 5 problems, got:\n%s", ckLines(fast.Problems))
	}
}

// TestCheckBrokenIndexListsNoUnreferenced: with index.json unreadable,
// every blob would be unreferenced; Check says nothing of them.
func TestCheckBrokenIndexListsNoUnreferenced(t *testing.T) {
	c := newCkLayout(t)
	testkit.WriteFile(t, filepath.Join(c.l.Path(), "index.json"), "{")
	rep := ckCheck(t, c.l, layout.CheckOptions{})
	if len(rep.Problems) != 1 || rep.Problems[0].Kind != layout.ProblemCorruptIndex || rep.Problems[0].Path != "index.json" {
		t.Errorf("problems:\n%s", ckLines(rep.Problems))
	}
	if len(rep.Warnings) != 0 {
		t.Errorf("warnings:\n%s", ckLines(rep.Warnings))
	}
}

func TestCheckDescriptorsDisagreeOnSize(t *testing.T) {
	c := newCkLayout(t)
	ckEditIndex(t, c.l, func(idx *ocispec.Index) {
		for i := range idx.Manifests {
			if idx.Manifests[i].Digest == c.a.manifest.Digest {
				idx.Manifests[i].Size++
			}
		}
	})
	rep := ckCheck(t, c.l, layout.CheckOptions{})
	ckMustFind(t, rep.Problems, c.a.manifest.Digest, layout.ProblemSize)
}

func TestCheckReferrers(t *testing.T) {
	c := newCkLayout(t)
	sbom := ckPushReferrer(t, c.l, c.a.manifest, "sbom of a")
	sig := ckPushReferrer(t, c.l, sbom, "signature of the sbom")
	rep := ckCheck(t, c.l, layout.CheckOptions{})
	if !rep.Clean() {
		t.Fatalf("problems:\n%swarnings:\n%s", ckLines(rep.Problems), ckLines(rep.Warnings))
	}
	if rep.Manifests != 4 {
		t.Errorf("manifests %d, want 4", rep.Manifests)
	}

	// Untagged, a's referrers are orphans: gc would remove them.
	if err := c.l.Untag(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	rep = ckCheck(t, c.l, layout.CheckOptions{})
	if !rep.OK() {
		t.Fatalf("problems:\n%s", ckLines(rep.Problems))
	}
	for _, d := range []digest.Digest{c.a.manifest.Digest, c.a.layer.Digest, sbom.Digest, sig.Digest} {
		ckMustFind(t, rep.Warnings, d, layout.ProblemUnreferenced)
	}
	ckMustFind(t, rep.Warnings, sbom.Digest, layout.ProblemOrphanedReferrer)
	ckMustFind(t, rep.Warnings, sig.Digest, layout.ProblemOrphanedReferrer)
	if ckFound(rep.Warnings, c.a.config.Digest, layout.ProblemUnreferenced) {
		t.Errorf("the config b shares is unreferenced")
	}
}

func TestCheckMissingSubjectIsAWarning(t *testing.T) {
	l := testkit.NewLayout(t)
	ghost := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("never stored"), Size: 12}
	ref := ckPushReferrer(t, l, ghost, "a signature of something not here")
	testkit.Tag(t, l, ref, "sig")
	rep := ckCheck(t, l, layout.CheckOptions{})
	if !rep.OK() {
		t.Fatalf("problems:\n%s", ckLines(rep.Problems))
	}
	ckMustFind(t, rep.Warnings, ghost.Digest, layout.ProblemMissingSubject)
}

func TestCheckAfterUntag(t *testing.T) {
	c := newCkLayout(t)
	if err := c.l.Untag(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	rep := ckCheck(t, c.l, layout.CheckOptions{})
	if !rep.OK() || rep.Tags != 1 || rep.Blobs != 3 {
		t.Fatalf("after untag: %+v", rep)
	}
	var got []digest.Digest
	for _, w := range rep.Warnings {
		if w.Kind != layout.ProblemUnreferenced {
			t.Errorf("unexpected warning %s", w)
		}
		got = append(got, w.Digest)
	}
	want := ckSorted(c.b.manifest.Digest, c.b.layer.Digest)
	if !reflect.DeepEqual(ckSorted(got...), want) {
		t.Errorf("unreferenced %v, want %v", got, want)
	}
}

func TestCheckCanceled(t *testing.T) {
	c := newCkLayout(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.l.Check(ctx, layout.CheckOptions{}); err == nil {
		t.Fatal("Check with a canceled context succeeded")
	}
}

// ckPushReferrer pushes a one-layer manifest whose subject is subject; Push
// lists it in index.json, untagged.
func ckPushReferrer(t testing.TB, l *layout.Layout, subject ocispec.Descriptor, body string) ocispec.Descriptor {
	t.Helper()
	cfg := testkit.Ingest(t, l, ocispec.MediaTypeEmptyJSON, ocispec.DescriptorEmptyJSON.Data)
	layer := testkit.Ingest(t, l, "application/x.sbom", []byte(body))
	s := subject
	s.Annotations = nil
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: "application/x.referrer",
		Config:       cfg,
		Layers:       []ocispec.Descriptor{layer},
		Subject:      &s,
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: m.ArtifactType, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if err := l.Push(context.Background(), desc, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	return desc
}

// ckEditIndex rewrites index.json behind the layout's back.
func ckEditIndex(t testing.TB, l *layout.Layout, fn func(*ocispec.Index)) {
	t.Helper()
	idx := testkit.ReadIndex(t, l.Path())
	fn(&idx)
	b, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, filepath.Join(l.Path(), "index.json"), string(b))
}

func ckRm(t testing.TB, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
}

func ckSorted(ds ...digest.Digest) []digest.Digest {
	out := append([]digest.Digest(nil), ds...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
