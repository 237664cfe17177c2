//go:build unix

package layout_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/inspect"
	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

// TestFifosDoNotBlock puts a fifo where a layout has index.json, oci-layout
// or a manifest (as a hostile layout on removable media could): every
// reader refuses it instead of blocking in open(2) until a writer comes.
func TestFifosDoNotBlock(t *testing.T) {
	ctx := context.Background()
	t.Run("index.json", func(t *testing.T) {
		x := newFzFixture(t, []byte(`{"schemaVersion":2}`))
		testkit.ReplaceWithFifo(t, filepath.Join(x.dir, ocispec.ImageIndexFile))
		l := testkit.OpenLayout(t, x.dir)
		testkit.Within(t, "Index", 10*time.Second, func() {
			if _, err := l.Index(ctx); !errors.Is(err, layout.ErrCorrupt) {
				t.Errorf("Index: %v, want ErrCorrupt", err)
			}
		})
		testkit.Within(t, "Check", 10*time.Second, func() {
			if rep, err := l.Check(ctx, layout.CheckOptions{}); err != nil || rep.OK() {
				t.Errorf("Check: %v, %+v", err, rep)
			}
		})
	})
	t.Run("oci-layout", func(t *testing.T) {
		x := newFzFixture(t, []byte(`{"schemaVersion":2}`))
		testkit.ReplaceWithFifo(t, filepath.Join(x.dir, ocispec.ImageLayoutFile))
		testkit.Within(t, "Open", 10*time.Second, func() {
			if _, err := layout.Open(ctx, x.dir); !errors.Is(err, layout.ErrNotLayout) {
				t.Errorf("Open: %v, want ErrNotLayout", err)
			}
		})
	})
	t.Run("manifest", func(t *testing.T) {
		_, _, man, _, _, _ := fzBlobs()
		man.Annotations = map[string]string{ocispec.AnnotationRefName: "v1"}
		x := newFzFixture(t, fzJSON(map[string]any{"schemaVersion": 2, "manifests": []any{man}}))
		testkit.ReplaceWithFifo(t, filepath.Join(x.dir, "blobs", "sha256", man.Digest.Encoded()))
		l := testkit.OpenLayout(t, x.dir)
		testkit.Within(t, "Inspect, Summaries, Check", 10*time.Second, func() {
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
