//go:build unix

package layout_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/inspect"
	"github.com/ocipack/ocipack/layout"
)

// TestFifosDoNotBlock puts a fifo where a layout has index.json, oci-layout
// or a manifest (as a hostile layout on removable media could): every
// reader refuses it instead of blocking in open(2) until a writer comes.
func TestFifosDoNotBlock(t *testing.T) {
	ctx := context.Background()
	within := func(t *testing.T, what string, fn func()) {
		t.Helper()
		done := make(chan struct{})
		go func() { defer close(done); fn() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s blocks on a fifo", what)
		}
	}
	fifo := func(t *testing.T, p string) {
		t.Helper()
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		// Whatever happens, no reader stays blocked once the test ends.
		t.Cleanup(func() {
			if f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
		})
	}

	t.Run("index.json", func(t *testing.T) {
		x := newFzFixture(t, []byte(`{"schemaVersion":2}`))
		fifo(t, filepath.Join(x.dir, ocispec.ImageIndexFile))
		l, err := layout.Open(ctx, x.dir)
		if err != nil {
			t.Fatal(err)
		}
		within(t, "Index", func() {
			if _, err := l.Index(ctx); !errors.Is(err, layout.ErrCorrupt) {
				t.Errorf("Index: %v, want ErrCorrupt", err)
			}
		})
		within(t, "Check", func() {
			if rep, err := l.Check(ctx, layout.CheckOptions{}); err != nil || rep.OK() {
				t.Errorf("Check: %v, %+v", err, rep)
			}
		})
	})
	t.Run("oci-layout", func(t *testing.T) {
		x := newFzFixture(t, []byte(`{"schemaVersion":2}`))
		fifo(t, filepath.Join(x.dir, ocispec.ImageLayoutFile))
		within(t, "Open", func() {
			if _, err := layout.Open(ctx, x.dir); !errors.Is(err, layout.ErrNotLayout) {
				t.Errorf("Open: %v, want ErrNotLayout", err)
			}
		})
	})
	t.Run("manifest", func(t *testing.T) {
		_, _, man, _, _, _ := fzBlobs()
		man.Annotations = map[string]string{ocispec.AnnotationRefName: "v1"}
		x := newFzFixture(t, fzJSON(map[string]any{"schemaVersion": 2, "manifests": []any{man}}))
		fifo(t, filepath.Join(x.dir, "blobs", "sha256", man.Digest.Encoded()))
		l, err := layout.Open(ctx, x.dir)
		if err != nil {
			t.Fatal(err)
		}
		within(t, "Inspect, Summaries, Check", func() {
			if _, err := inspect.Describe(ctx, l, "v1"); err == nil {
				t.Error("Inspect succeeded")
			}
			if s, err := inspect.Summaries(ctx, l); err != nil || len(s) != 1 || s[0].Error == "" {
				t.Errorf("Summaries: %+v, %v", s, err)
			}
			if _, err := layout.ReadManifest(ctx, l, man); err == nil {
				t.Error("ReadManifest succeeded")
			}
			if rep, err := l.Check(ctx, layout.CheckOptions{}); err != nil || rep.OK() {
				t.Errorf("Check: %v, %+v", err, rep)
			}
		})
	})
}
