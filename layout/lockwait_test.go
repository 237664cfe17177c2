package layout_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
)

// TestLockWaitsAreInterruptible: a writer waiting for GC's exclusive lock,
// and a tagger waiting for index.json's lock, both held by another Layout
// (another open file, as another process would hold it), give up when
// their context is done.
func TestLockWaitsAreInterruptible(t *testing.T) {
	ctx := t.Context()
	a := testkit.NewLayout(t)
	b := testkit.OpenLayout(t, a.Path())
	err := a.Exclusive(ctx, func() error {
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := b.Ingest(short, "application/octet-stream", strings.NewReader("waits"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Ingest while the layout is held exclusively: %v, want context.DeadlineExceeded", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	desc := testkit.StoreManifest(t, b, "application/x.wait", "tag me")
	err = a.UpdateIndex(ctx, func(*ocispec.Index) error {
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if err := b.Tag(short, desc, "v1"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Tag while index.json is locked: %v, want context.DeadlineExceeded", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Tag(ctx, desc, "v1"); err != nil {
		t.Fatalf("Tag once the lock is free: %v", err)
	}
}
