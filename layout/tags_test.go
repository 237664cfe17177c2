package layout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

func TestTagResolveUntag(t *testing.T) {
	ctx := context.Background()
	l, m1, m2 := twoManifests(t)

	testkit.Tag(t, l, m1, "v1")
	got, err := l.Resolve(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != m1.Digest || got.Size != m1.Size || got.MediaType != ocispec.MediaTypeImageManifest || got.ArtifactType != "application/x.one" {
		t.Errorf("Resolve(v1) = %+v, want %+v", got, m1)
	}
	if got.Annotations[ocispec.AnnotationRefName] != "v1" {
		t.Errorf("Resolve(v1) annotations = %v", got.Annotations)
	}
	if m1.Annotations != nil {
		t.Errorf("Tag changed the caller's descriptor: %v", m1.Annotations)
	}

	// The tag moves; there is never more than one entry for it.
	testkit.Tag(t, l, m2, "v1")
	if got, _ := l.Resolve(ctx, "v1"); got.Digest != m2.Digest {
		t.Errorf("after moving, Resolve(v1) = %s, want %s", got.Digest, m2.Digest)
	}
	idx := testkit.ReadIndex(t, l.Path())
	if len(idx.Manifests) != 1 {
		t.Errorf("index.json has %d entries after moving a tag, want 1: %+v", len(idx.Manifests), idx.Manifests)
	}

	// Two tags on one manifest.
	testkit.Tag(t, l, m2, "latest")
	if got := testkit.Tags(t, l); !slices.Equal(got, []string{"latest", "v1"}) {
		t.Errorf("Tags = %v", got)
	}

	// Tagging with the manifest's own digest is accepted and changes nothing.
	if err := l.Tag(ctx, m2, m2.Digest.String()); err != nil {
		t.Errorf("Tag(own digest): %v", err)
	}
	if got := testkit.Tags(t, l); !slices.Equal(got, []string{"latest", "v1"}) {
		t.Errorf("Tags after Tag(own digest) = %v", got)
	}

	if err := l.Untag(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Resolve(ctx, "v1"); !errors.Is(err, layout.ErrNotFound) {
		t.Errorf("Resolve of an untagged tag: %v, want ErrNotFound", err)
	}
	if got := testkit.Tags(t, l); !slices.Equal(got, []string{"latest"}) {
		t.Errorf("Tags after Untag = %v", got)
	}
	// The manifest stays.
	if ok, _ := l.Exists(ctx, m1); !ok {
		t.Errorf("Untag removed a blob")
	}
	if err := l.Untag(ctx, "v1"); !errors.Is(err, layout.ErrNotFound) {
		t.Errorf("second Untag: %v, want ErrNotFound", err)
	}
}

func TestTagRefusals(t *testing.T) {
	ctx := context.Background()
	l := testkit.NewLayout(t)
	m := testkit.StoreManifest(t, l, "application/x.one", "one")
	before, _ := os.ReadFile(filepath.Join(l.Path(), "index.json"))

	missing := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: sha([]byte("not stored")), Size: 10}
	err := l.Tag(ctx, missing, "v1")
	if !errors.Is(err, layout.ErrNotFound) {
		t.Errorf("Tag of a missing manifest: %v, want ErrNotFound", err)
	} else if !strings.Contains(err.Error(), missing.Digest.String()) || !strings.Contains(err.Error(), "v1") {
		t.Errorf("error %q names neither the digest nor the tag", err)
	}
	wrongSize := m
	wrongSize.Size--
	if err := l.Tag(ctx, wrongSize, "v1"); !errors.Is(err, layout.ErrNotFound) {
		t.Errorf("Tag with the wrong size: %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"", ".v1", "-v1", "a/b", "a:b", strings.Repeat("x", 129)} {
		if err := l.Tag(ctx, m, bad); !errors.Is(err, layout.ErrInvalidReference) {
			t.Errorf("Tag(%q): %v, want ErrInvalidReference", bad, err)
		}
	}
	after, _ := os.ReadFile(filepath.Join(l.Path(), "index.json"))
	if !bytes.Equal(before, after) {
		t.Errorf("a refused Tag changed index.json:\n%s\n%s", before, after)
	}
	if _, err := l.Resolve(ctx, ""); !errors.Is(err, layout.ErrInvalidReference) {
		t.Errorf("Resolve(\"\"): %v, want ErrInvalidReference", err)
	}
	if _, err := l.Resolve(ctx, "nope"); !errors.Is(err, layout.ErrNotFound) || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Resolve(nope): %v, want ErrNotFound naming the tag", err)
	}
	if _, err := l.Resolve(ctx, sha([]byte("absent")).String()); !errors.Is(err, layout.ErrNotFound) {
		t.Errorf("Resolve(absent digest): %v, want ErrNotFound", err)
	}
}

// TestIndexOrderStable: entries are sorted by tag, then digest, whatever
// the order of tagging, and re-tagging writes the same bytes.
func TestIndexOrderStable(t *testing.T) {
	ctx := context.Background()
	order := [][]string{
		{"b", "a", "c", "a.1", "Z", "_x", "10", "9"},
		{"9", "10", "_x", "Z", "a.1", "c", "a", "b"},
	}
	var indexes [][]byte
	for _, tags := range order {
		dir := filepath.Join(t.TempDir(), "l")
		l, err := layout.OpenOrCreate(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		ms := map[string]ocispec.Descriptor{}
		for _, tg := range order[0] { // same manifest for a tag in both layouts
			ms[tg] = testkit.StoreManifest(t, l, "application/x.test", "content of "+tg)
		}
		for _, tg := range tags {
			if err := l.Tag(ctx, ms[tg], tg); err != nil {
				t.Fatal(err)
			}
		}
		idx := testkit.ReadIndex(t, l.Path())
		var names []string
		for _, d := range idx.Manifests {
			names = append(names, d.Annotations[ocispec.AnnotationRefName])
		}
		if !slices.IsSorted(names) {
			t.Errorf("index.json entries are not sorted by tag: %v", names)
		}
		if got := testkit.Tags(t, l); !slices.Equal(got, names) {
			t.Errorf("Tags() = %v, index.json order %v", got, names)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "index.json"))
		// Re-tagging a tag where it already points rewrites the same bytes.
		testkit.Tag(t, l, ms["c"], "c")
		b2, _ := os.ReadFile(filepath.Join(dir, "index.json"))
		if !bytes.Equal(b, b2) {
			t.Errorf("re-tagging changed index.json:\n%s\n%s", b, b2)
		}
		indexes = append(indexes, b)
	}
	if !bytes.Equal(indexes[0], indexes[1]) {
		t.Errorf("index.json depends on the order of tagging:\n%s\n%s", indexes[0], indexes[1])
	}
}

// TestForeignEntriesPreserved: index.json entries written by other tools
// (untagged, with extra annotations, a platform) and the index's own
// annotations survive Tag and Untag.
func TestForeignEntriesPreserved(t *testing.T) {
	ctx := context.Background()
	l := testkit.NewLayout(t)
	foreign := testkit.StoreManifest(t, l, "application/x.foreign", "foreign")
	tagged := testkit.StoreManifest(t, l, "application/x.tagged", "tagged")
	mine := testkit.StoreManifest(t, l, "application/x.mine", "mine")

	idx := ocispec.Index{
		Versioned: emptyIndex.Versioned,
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{
			{
				MediaType: foreign.MediaType, Digest: foreign.Digest, Size: foreign.Size,
				Platform:    &ocispec.Platform{OS: "linux", Architecture: "arm64"},
				Annotations: map[string]string{"com.example.tool": "kept"},
			},
			{
				MediaType: tagged.MediaType, Digest: tagged.Digest, Size: tagged.Size,
				Annotations: map[string]string{ocispec.AnnotationRefName: "other", "com.example.extra": "also kept"},
			},
		},
		Annotations: map[string]string{"com.example.index": "index annotation"},
	}
	b, _ := json.Marshal(idx)
	testkit.WriteFile(t, filepath.Join(l.Path(), "index.json"), b)

	testkit.Tag(t, l, mine, "v1")
	check := func(when string, wantTags []string) {
		t.Helper()
		got := testkit.ReadIndex(t, l.Path())
		if got.Annotations["com.example.index"] != "index annotation" {
			t.Errorf("%s: index annotations lost: %v", when, got.Annotations)
		}
		var sawForeign, sawOther bool
		for _, d := range got.Manifests {
			switch {
			case d.Digest == foreign.Digest && d.Annotations[ocispec.AnnotationRefName] == "":
				sawForeign = true
				if d.Annotations["com.example.tool"] != "kept" || d.Platform == nil || d.Platform.Architecture != "arm64" {
					t.Errorf("%s: untagged entry changed: %+v", when, d)
				}
			case d.Annotations[ocispec.AnnotationRefName] == "other":
				sawOther = true
				if d.Digest != tagged.Digest || d.Annotations["com.example.extra"] != "also kept" {
					t.Errorf("%s: foreign tagged entry changed: %+v", when, d)
				}
			}
		}
		if !sawForeign || !sawOther {
			t.Errorf("%s: foreign entries lost: %+v", when, got.Manifests)
		}
		if got := testkit.Tags(t, l); !slices.Equal(got, wantTags) {
			t.Errorf("%s: Tags = %v, want %v", when, got, wantTags)
		}
		// Untagged entries sort first (their ref name is "").
		if got.Manifests[0].Digest != foreign.Digest {
			t.Errorf("%s: the untagged entry is not first: %+v", when, got.Manifests)
		}
	}
	check("after Tag", []string{"other", "v1"})
	if err := l.Untag(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	check("after Untag", []string{"other"})

	// Resolve by the digest of an untagged index entry returns that entry.
	d, err := l.Resolve(ctx, foreign.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	if d.Digest != foreign.Digest || d.Size != foreign.Size || d.Platform == nil || d.Annotations["com.example.tool"] != "kept" {
		t.Errorf("Resolve(foreign digest) = %+v", d)
	}
	// And by the digest of a tagged one.
	d, err = l.Resolve(ctx, tagged.Digest.String())
	if err != nil || d.Digest != tagged.Digest || d.Size != tagged.Size {
		t.Errorf("Resolve(tagged digest) = %+v, %v", d, err)
	}
}

// TestResolveStoredUntaggedManifest: a manifest stored but not listed in
// index.json resolves by digest, described from its content.
func TestResolveStoredUntaggedManifest(t *testing.T) {
	ctx := context.Background()
	l := testkit.NewLayout(t)
	m := testkit.StoreManifest(t, l, "application/x.child", "child")
	d, err := l.Resolve(ctx, m.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	want := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: m.Digest, Size: m.Size, ArtifactType: "application/x.child"}
	if d.MediaType != want.MediaType || d.Digest != want.Digest || d.Size != want.Size || d.ArtifactType != want.ArtifactType {
		t.Errorf("Resolve = %+v, want %+v", d, want)
	}

	// An image index without a mediaType field is recognised by its
	// manifests.
	child := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: m.Digest, Size: m.Size}
	ib, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []ocispec.Descriptor{child}})
	idxDesc := testkit.Ingest(t, l, "", ib)
	d, err = l.Resolve(ctx, idxDesc.Digest.String())
	if err != nil || d.MediaType != ocispec.MediaTypeImageIndex {
		t.Errorf("Resolve(index) = %+v, %v; want media type %s", d, err, ocispec.MediaTypeImageIndex)
	}

	// A stored blob that is not JSON is no manifest.
	junk, err := l.Ingest(ctx, "x/y", strings.NewReader("not a manifest"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Resolve(ctx, junk.Digest.String()); !errors.Is(err, layout.ErrCorrupt) {
		t.Errorf("Resolve(junk blob): %v, want ErrCorrupt", err)
	}
	// A stored manifest can be tagged by a descriptor from Resolve.
	testkit.Tag(t, l, d, "idx")
	if got, err := l.Resolve(ctx, "idx"); err != nil || got.Digest != idxDesc.Digest || got.MediaType != ocispec.MediaTypeImageIndex {
		t.Errorf("Resolve(idx) = %+v, %v", got, err)
	}
}

// TestUpdateIndexError: an error from the update function leaves
// index.json as it was.
func TestUpdateIndexError(t *testing.T) {
	ctx := context.Background()
	l := testkit.NewLayout(t)
	m := testkit.StoreManifest(t, l, "application/x.test", "x")
	testkit.Tag(t, l, m, "v1")
	before, _ := os.ReadFile(filepath.Join(l.Path(), "index.json"))
	boom := errors.New("boom")
	err := l.UpdateIndex(ctx, func(idx *ocispec.Index) error {
		idx.Manifests = nil
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateIndex: %v, want %v", err, boom)
	}
	after, _ := os.ReadFile(filepath.Join(l.Path(), "index.json"))
	if !bytes.Equal(before, after) {
		t.Errorf("index.json changed:\n%s\n%s", before, after)
	}
	// No stray temporary index files beside it.
	for _, n := range testkit.DirNames(t, l.Path()) {
		if strings.Contains(n, ".tmp") {
			t.Errorf("stray file %s", n)
		}
	}
}
