package layout_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

// Abandon removes a layout that a failed writer created, and only while
// nothing else uses it; it never removes a blob index.json reaches.
func TestAbandon(t *testing.T) {
	ctx := context.Background()

	t.Run("created and unused", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "new")
		l, err := layout.OpenOrCreate(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		d := testkit.Ingest(t, l, "application/octet-stream", []byte("mine"))
		if err := l.Abandon(ctx, layout.AbandonOptions{Blobs: []digest.Digest{d.Digest}, Layout: true, Dir: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s left (%v)", dir, err)
		}
	})

	t.Run("another writer tagged meanwhile", func(t *testing.T) {
		l := testkit.NewLayout(t)
		mine := testkit.Ingest(t, l, "application/octet-stream", []byte("mine"))
		// Another writer stores a manifest whose layer is a blob the
		// failed writer stored too, and tags it.
		other := testkit.OpenLayout(t, l.Path())
		shared := testkit.StoreManifest(t, other, "", "shared")
		testkit.Tag(t, other, shared, "other")
		other.Close()
		before := testkit.BlobFiles(t, l.Path())
		layer := digest.FromString("shared")
		if err := l.Abandon(ctx, layout.AbandonOptions{Blobs: []digest.Digest{mine.Digest, layer}, Layout: true, Dir: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Resolve(ctx, "other"); err != nil {
			t.Fatalf("the other writer's tag is gone: %v", err)
		}
		after := testkit.BlobFiles(t, l.Path())
		if slices.Contains(after, mine.Digest.Encoded()) || !slices.Contains(after, layer.Encoded()) || len(after) != len(before)-1 {
			t.Fatalf("blobs before %v, after %v", before, after)
		}
	})

	t.Run("another writer at work", func(t *testing.T) {
		l := testkit.NewLayout(t)
		mine := testkit.Ingest(t, l, "application/octet-stream", []byte("mine"))
		other := testkit.OpenLayout(t, l.Path())
		if err := other.HoldForWriting(ctx); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if err := l.Abandon(short, layout.AbandonOptions{Blobs: []digest.Digest{mine.Digest}, Layout: true}); !errors.Is(err, layout.ErrBusy) {
			t.Fatalf("Abandon while another writer works: %v, want ErrBusy", err)
		}
		if !slices.Contains(testkit.BlobFiles(t, l.Path()), mine.Digest.Encoded()) {
			t.Fatal("Abandon removed a blob while another writer was at work")
		}
	})
}
