package layout_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

// TestTagReference: TagReference resolves a tag or a digest and sets every
// new tag in one update of index.json; when anything is wrong it sets none.
func TestTagReference(t *testing.T) {
	ctx := context.Background()
	l, m1, m2 := twoManifests(t)
	testkit.Tag(t, l, m1, "v1")
	testkit.Tag(t, l, m2, "b")

	// By tag, several tags at once, one of them moved from m2.
	got, err := tagReference(ctx, l, "v1", "a", "b", "c")
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != m1.Digest || got.ArtifactType != "application/x.one" {
		t.Errorf("TagReference(v1) = %+v, want %s", got, m1.Digest)
	}
	if names := testkit.Tags(t, l); !slices.Equal(names, []string{"a", "b", "c", "v1"}) {
		t.Errorf("tags = %v", names)
	}
	for _, tag := range []string{"a", "b", "c", "v1"} {
		d, err := l.Resolve(ctx, tag)
		if err != nil || d.Digest != m1.Digest || d.Size != m1.Size || d.ArtifactType != m1.ArtifactType || d.Annotations[ocispec.AnnotationRefName] != tag {
			t.Errorf("Resolve(%s) = %+v, %v", tag, d, err)
		}
	}

	// By digest, of a manifest index.json does not list.
	got, err = tagReference(ctx, l, m2.Digest.String(), "two")
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != m2.Digest || got.MediaType != ocispec.MediaTypeImageManifest {
		t.Errorf("TagReference(digest) = %+v", got)
	}
	if d, _ := l.Resolve(ctx, "two"); d.Digest != m2.Digest {
		t.Errorf("Resolve(two) = %s, want %s", d.Digest, m2.Digest)
	}

	// Refused: nothing changes.
	indexBytes := func() string {
		b := testkit.ReadFile(t, filepath.Join(l.Path(), "index.json"))
		return string(b)
	}
	before := indexBytes()
	if _, err := tagReference(ctx, l, "nope", "x"); !errors.Is(err, layout.ErrNotFound) {
		t.Errorf("unknown tag: %v, want ErrNotFound", err)
	}
	if _, err := tagReference(ctx, l, "v1", "ok", "bad tag!"); !errors.Is(err, layout.ErrInvalidReference) {
		t.Errorf("invalid new tag: %v, want ErrInvalidReference", err)
	}
	if _, err := tagReference(ctx, l, "", "x"); !errors.Is(err, layout.ErrInvalidReference) {
		t.Errorf("empty reference: %v, want ErrInvalidReference", err)
	}
	// A tag whose manifest blob is missing gets no more tags.
	if err := os.Remove(l.BlobPath(m2.Digest)); err != nil {
		t.Fatal(err)
	}
	if _, err := tagReference(ctx, l, "two", "x", "y"); !errors.Is(err, layout.ErrNotFound) {
		t.Errorf("missing manifest: %v, want ErrNotFound", err)
	}
	if after := indexBytes(); after != before {
		t.Errorf("a refused TagReference changed index.json:\n%s\nwant\n%s", after, before)
	}
}

// BenchmarkTagReference10k is `ocipack tag L:t05000 bench-new` on a layout
// of 10,000 tags: one read and one write of index.json. Compare with
// BenchmarkResolve10k + BenchmarkTag10k, the two reads it replaces.
func BenchmarkTagReference10k(b *testing.B) {
	l, _ := benchTaggedLayout(b, 10000)
	ctx := context.Background()
	for b.Loop() {
		if _, err := tagReference(ctx, l, "t05000", "bench-new"); err != nil {
			b.Fatal(err)
		}
	}
}

// tagReference resolves reference and gives what it names every tag of
// tags in one Put, as `ocipack tag` does.
func tagReference(ctx context.Context, l *layout.Layout, reference string, tags ...string) (ocispec.Descriptor, error) {
	desc, err := l.Resolve(ctx, reference)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return desc, l.Put(ctx, layout.WithTags(desc, tags...)...)
}
