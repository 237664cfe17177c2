package layout_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/inspect"
	"github.com/ocipack/ocipack/layout"
)

// The bounds the fuzz targets rely on, checked with inputs too large for a
// fuzzer to build: deeply nested JSON, absurd sizes claimed by descriptors,
// and absurdly large files, each refused quickly and without loading it.

// boundsQuick is how long a refusal may take (generous: CI machines are
// slow and the race detector slower).
const boundsQuick = 5 * time.Second

// allocated returns the bytes allocated while fn ran.
func allocated(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

func nested(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

func TestIndexRefusesDeepNesting(t *testing.T) {
	ctx := context.Background()
	for name, idx := range map[string]string{
		"bare array":        nested(10_000),
		"manifests":         `{"schemaVersion":2,"manifests":` + nested(10_000) + `}`,
		"unknown field":     `{"schemaVersion":2,"x":` + nested(10_000) + `}`,
		"annotation":        `{"schemaVersion":2,"manifests":[{"annotations":{"a":` + nested(10_000) + `}}]}`,
		"a million":         `{"schemaVersion":2,"x":` + nested(1_000_000) + `}`,
		"objects":           `{"schemaVersion":2,"x":` + strings.Repeat(`{"a":`, 10_000) + `1` + strings.Repeat(`}`, 10_000) + `}`,
		"descriptor claims": `{"schemaVersion":2,"manifests":[{"digest":"sha256:` + strings.Repeat("a", 64) + `","size":9223372036854775807,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"org.opencontainers.image.ref.name":"v1"}}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			x := newFzFixture(t, []byte(idx))
			l, err := layout.Open(ctx, x.dir)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, idxErr := l.Index(ctx)
			if name != "descriptor claims" && !errors.Is(idxErr, layout.ErrCorrupt) {
				t.Errorf("Index: %v, want ErrCorrupt", idxErr)
			}
			sums, err := inspect.Summaries(ctx, l)
			if idxErr != nil && err == nil || idxErr == nil && (len(sums) != 1 || sums[0].Error == "") {
				t.Errorf("Summaries: %+v, %v", sums, err)
			}
			if _, err := inspect.Describe(ctx, l, "v1"); err == nil {
				t.Error("Inspect succeeded")
			}
			rep, err := l.Check(ctx, layout.CheckOptions{})
			if err != nil || rep.OK() {
				t.Errorf("Check: %v, %+v", err, rep)
			}
			if d := time.Since(start); d > boundsQuick {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestManifestRefusesDeepNestingAndHugeClaims(t *testing.T) {
	ctx := context.Background()
	for name, m := range map[string]string{
		"annotations": `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"a":` + nested(10_000) + `}}`,
		"layers":      `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":` + nested(10_000) + `}`,
		"bare":        nested(10_000),
		"huge layer":  `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:` + strings.Repeat("a", 64) + `","size":-1},"layers":[{"digest":"sha256:` + strings.Repeat("b", 64) + `","size":9223372036854775807}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			desc := fzDesc(ocispec.MediaTypeImageManifest, []byte(m))
			desc.Annotations = map[string]string{ocispec.AnnotationRefName: "v1"}
			x := newFzFixture(t, fzJSON(map[string]any{"schemaVersion": 2, "manifests": []any{desc}}), []byte(m))
			l, err := layout.Open(ctx, x.dir)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if _, err := layout.ReadManifest(ctx, l, desc); !errors.Is(err, layout.ErrCorrupt) {
				t.Errorf("ReadManifest: %v, want ErrCorrupt", err)
			}
			if _, err := inspect.Describe(ctx, l, "v1"); name != "huge layer" && !errors.Is(err, layout.ErrCorrupt) {
				t.Errorf("Inspect: %v, want ErrCorrupt", err)
			}
			if rep, err := l.Check(ctx, layout.CheckOptions{}); err != nil || rep.OK() {
				t.Errorf("Check: %v, %+v", err, rep)
			}
			if d := time.Since(start); d > boundsQuick {
				t.Errorf("took %v", d)
			}
		})
	}
	// A descriptor claiming an absurd size is refused before anything is
	// read.
	x := newFzFixture(t, []byte(`{"schemaVersion":2}`))
	l, err := layout.Open(ctx, x.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{layout.MaxManifestSize + 1, 1 << 62, -1} {
		d := x.manifest
		d.Size = size
		if n := allocated(func() {
			if _, err := layout.ReadManifest(ctx, l, d); !errors.Is(err, layout.ErrSizeMismatch) {
				t.Errorf("ReadManifest of a %d-byte claim: %v, want ErrSizeMismatch", size, err)
			}
		}); n > 1<<20 {
			t.Errorf("ReadManifest of a %d-byte claim allocated %d bytes", size, n)
		}
	}
}

// TestHugeLayoutFilesRefused gives index.json and oci-layout an absurd size
// (sparse files: nothing is written): they are refused without being read.
func TestHugeLayoutFilesRefused(t *testing.T) {
	ctx := context.Background()
	x := newFzFixture(t, []byte(`{"schemaVersion":2}`))
	if err := os.Truncate(filepath.Join(x.dir, ocispec.ImageIndexFile), 64<<30); err != nil {
		t.Skipf("cannot make a sparse file: %v", err)
	}
	l, err := layout.Open(ctx, x.dir)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if n := allocated(func() {
		if _, err := l.Index(ctx); !errors.Is(err, layout.ErrCorrupt) {
			t.Errorf("Index: %v, want ErrCorrupt", err)
		}
		if _, err := l.Tags(ctx); !errors.Is(err, layout.ErrCorrupt) {
			t.Errorf("Tags: %v, want ErrCorrupt", err)
		}
		if rep, err := l.Check(ctx, layout.CheckOptions{}); err != nil || rep.OK() {
			t.Errorf("Check: %v, %+v", err, rep)
		}
	}); n > 16<<20 {
		t.Errorf("refusing a huge index.json allocated %d MiB", n>>20)
	}
	if d := time.Since(start); d > boundsQuick {
		t.Errorf("refusing a huge index.json took %v", d)
	}

	x = newFzFixture(t, []byte(`{"schemaVersion":2}`))
	if err := os.Truncate(filepath.Join(x.dir, ocispec.ImageLayoutFile), 1<<40); err != nil {
		t.Skipf("cannot make a sparse file: %v", err)
	}
	start = time.Now()
	if n := allocated(func() {
		if _, err := layout.Open(ctx, x.dir); !errors.Is(err, layout.ErrNotLayout) {
			t.Errorf("Open: %v, want ErrNotLayout", err)
		}
	}); n > 16<<20 {
		t.Errorf("refusing a huge oci-layout allocated %d MiB", n>>20)
	}
	if d := time.Since(start); d > boundsQuick {
		t.Errorf("refusing a huge oci-layout took %v", d)
	}
}
