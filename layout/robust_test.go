package layout_test

// Reliability tests at the library level: what GC's exclusive hold does to
// writers that decided from Exists, and what Check and GC do with
// manifests that are absurdly large or nested. Identifiers start with
// "robust".

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/archive"
	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
)

// robustDuringExclusive runs writer while another Layout of the same
// directory holds it exclusively (as GC does) and, before letting go,
// runs remove (what GC would remove). It returns writer's error.
func robustDuringExclusive(t *testing.T, dir string, remove func(), writer func(ctx context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gcer := testkit.OpenLayout(t, dir)
	entered, release := make(chan struct{}), make(chan struct{})
	exDone := make(chan error, 1)
	go func() {
		exDone <- gcer.Exclusive(ctx, func() error {
			close(entered)
			<-release
			remove()
			return nil
		})
	}()
	<-entered
	wDone := make(chan error, 1)
	go func() { wDone <- writer(ctx) }()
	time.Sleep(200 * time.Millisecond) // the writer has looked by now
	close(release)
	if err := <-exDone; err != nil {
		t.Fatalf("Exclusive: %v", err)
	}
	return <-wDone
}

// TestRobustTagWaitsForGC: Tag must not check that the manifest is stored
// while GC holds the layout and then tag it after GC removed it.
func TestRobustTagWaitsForGC(t *testing.T) {
	ctx := context.Background()
	l := testkit.NewLayout(t)
	desc := testkit.StoreManifest(t, l, "application/x.robust", "tag me")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var tagger *layout.Layout
	err := robustDuringExclusive(t, l.Path(),
		func() { os.Remove(l.BlobPath(desc.Digest)) },
		func(ctx context.Context) error {
			var err error
			if tagger, err = layout.Open(ctx, l.Path()); err != nil {
				return err
			}
			defer tagger.Close()
			return tagger.Tag(ctx, desc, "v1")
		})
	if err == nil {
		if _, serr := os.Stat(l.BlobPath(desc.Digest)); serr != nil {
			t.Fatalf("Tag tagged a manifest that GC removed meanwhile: the tag dangles (%v)", serr)
		}
	} else if !errors.Is(err, layout.ErrNotFound) {
		t.Fatalf("Tag: %v, want ErrNotFound or success", err)
	}
	rep, cerr := l.Check(ctx, layout.CheckOptions{})
	if cerr != nil || !rep.OK() {
		t.Fatalf("Check after Tag during GC: %v, %v", rep.Problems, cerr)
	}
}

// TestRobustPushWaitsForGC: Push must not answer "already exists" for a
// blob that GC, holding the layout, is about to remove.
func TestRobustPushWaitsForGC(t *testing.T) {
	l := testkit.NewLayout(t)
	content := []byte("a blob gc removes while a copy decides to skip it")
	desc := testkit.Ingest(t, l, "application/octet-stream", content)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	err := robustDuringExclusive(t, l.Path(),
		func() { os.Remove(l.BlobPath(desc.Digest)) },
		func(ctx context.Context) error {
			w, err := layout.Open(ctx, l.Path())
			if err != nil {
				return err
			}
			defer w.Close()
			return w.Push(ctx, desc, bytes.NewReader(content))
		})
	if err != nil && !errors.Is(err, layout.ErrAlreadyExists) {
		t.Fatalf("Push: %v", err)
	}
	if ok, _ := l.Exists(context.Background(), desc); !ok {
		t.Fatalf("Push returned %v, but the blob is not stored: a copy trusting it would reference a missing blob", err)
	}
}

// TestRobustHoldForWriting: a held Layout keeps GC off until it is closed.
func TestRobustHoldForWriting(t *testing.T) {
	l := testkit.NewLayout(t)
	if err := l.HoldForWriting(context.Background()); err != nil {
		t.Fatal(err)
	}
	other := testkit.OpenLayout(t, l.Path())
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	if _, err := other.GC(ctx, layout.GCOptions{}); !errors.Is(err, layout.ErrBusy) {
		t.Fatalf("GC while another Layout holds the layout: %v, want ErrBusy", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := other.GC(context.Background(), layout.GCOptions{}); err != nil {
		t.Fatalf("GC once the holder closed: %v", err)
	}
}

// robustSparseBlob puts a sparse file of size bytes where the blob of a
// made-up digest would be, and returns its descriptor. Its content does
// not hash to the digest: whatever reads it whole is wrong twice.
func robustSparseBlob(t *testing.T, l *layout.Layout, mt string, size int64, seed string) ocispec.Descriptor {
	t.Helper()
	d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromString(seed), Size: size}
	p := l.BlobPath(d.Digest)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRobustAbsurdManifests: a manifest that claims 1 GiB, or an index of
// indexes nested 100 deep, is refused by Check (a problem naming it) and
// by GC (nothing removed), quickly and without loading it.
func TestRobustAbsurdManifests(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		build func(t *testing.T, l *layout.Layout) ocispec.Descriptor
		want  string
	}{
		{"claims 1 GiB", func(t *testing.T, l *layout.Layout) ocispec.Descriptor {
			return robustSparseBlob(t, l, ocispec.MediaTypeImageManifest, 1<<30, "huge manifest")
		}, "more than the"},
		{"index lists a manifest that claims 1 GiB", func(t *testing.T, l *layout.Layout) ocispec.Descriptor {
			huge := robustSparseBlob(t, l, ocispec.MediaTypeImageManifest, 1<<30, "huge child")
			return testkit.PushJSON(t, l, ocispec.MediaTypeImageIndex, ocispec.Index{
				Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
				Manifests: []ocispec.Descriptor{huge},
			}, "")
		}, "more than the"},
		{"index of indexes 100 deep", func(t *testing.T, l *layout.Layout) ocispec.Descriptor {
			d := testkit.StoreManifest(t, l, "application/x.robust", "at the bottom")
			for range 100 {
				d = testkit.PushJSON(t, l, ocispec.MediaTypeImageIndex, ocispec.Index{
					Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
					Manifests: []ocispec.Descriptor{d},
				}, "")
			}
			return d
		}, "nested more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := testkit.NewLayout(t)
			root := tc.build(t, l)
			if err := l.UpdateIndex(ctx, func(idx *ocispec.Index) error {
				root.Annotations = map[string]string{ocispec.AnnotationRefName: "absurd"}
				idx.Manifests = append(idx.Manifests, root)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			junk, err := l.Ingest(ctx, "application/octet-stream", strings.NewReader("unreferenced"))
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}

			start := time.Now()
			rep, err := l.Check(ctx, layout.CheckOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Errorf("Check found no problem with %s", tc.name)
			}
			found := false
			for _, p := range rep.Problems {
				found = found || p.Kind == layout.ProblemCorruptManifest && strings.Contains(p.Detail, tc.want)
			}
			if !found {
				t.Errorf("Check problems %v: none is a %s saying %q", rep.Problems, layout.ProblemCorruptManifest, tc.want)
			}
			if _, err := l.GC(ctx, layout.GCOptions{}); !errors.Is(err, layout.ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("GC: %v, want ErrCorrupt saying %q", err, tc.want)
			}
			if ok, _ := l.Exists(ctx, junk); !ok {
				t.Error("GC removed a blob although it refused to collect")
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("Check and GC took %v: they read what they should refuse", d)
			}
		})
	}
}

// TestRobustPackCheckSpace: pack asks its CheckSpace hook, with the bytes
// its inputs hold, before it stores anything; refused, it leaves the
// layout as it was and says why.
func TestRobustPackCheckSpace(t *testing.T) {
	ctx := context.Background()
	l := testkit.NewLayout(t)
	keep := testkit.StoreManifest(t, l, "application/x.robust", "kept")
	testkit.Tag(t, l, keep, "keep")
	blobs := testkit.BlobFiles(t, l.Path())
	in := filepath.Join(t.TempDir(), "in.bin")
	testkit.WriteFile(t, in, bytes.Repeat([]byte("x"), 123456))
	var asked int64
	full := func(need int64) error {
		asked = need
		return fmt.Errorf("%w: need %d bytes, 1000 free on %s", archive.ErrNoSpace, need, l.Path())
	}
	_, err := pack.Pack(ctx, l, "v1", []pack.Input{{Path: in}}, pack.Options{CheckSpace: full})
	if !errors.Is(err, archive.ErrNoSpace) || !strings.Contains(err.Error(), "1000 free") {
		t.Fatalf("Pack with no space: %v, want the CheckSpace error", err)
	}
	if asked != 123456 {
		t.Errorf("CheckSpace was asked for %d bytes, want the input's 123456", asked)
	}
	if got := testkit.BlobFiles(t, l.Path()); !slices.Equal(got, blobs) {
		t.Errorf("a refused pack stored blobs: %v, were %v", got, blobs)
	}
	if tmp := testkit.TmpFiles(t, l.Path()); len(tmp) > 0 {
		t.Errorf("a refused pack left temporary files: %v", tmp)
	}
	if tags, _ := l.Tags(ctx); len(tags) != 1 || tags[0].Tag != "keep" {
		t.Errorf("tags after a refused pack: %v", tags)
	}
}
