package archive_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/archive"
	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

// genReader yields n pseudo-random bytes without holding them.
type genReader struct {
	n, off int64
	x      uint64
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.off >= g.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.n-g.off)]
	for i := range p {
		if i%8 == 0 {
			g.x ^= g.x << 13
			g.x ^= g.x >> 7
			g.x ^= g.x << 17
		}
		p[i] = byte(g.x >> (8 * (i % 8)))
	}
	g.off += int64(len(p))
	return len(p), nil
}

// allocDuring returns the bytes allocated while fn ran.
func allocDuring(t *testing.T, fn func()) uint64 {
	t.Helper()
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	t.Logf("allocated %.1f MiB, heap %.1f MiB", float64(b.TotalAlloc-a.TotalAlloc)/(1<<20), float64(b.HeapAlloc)/(1<<20))
	return b.TotalAlloc - a.TotalAlloc
}

func TestMemoryDoesNotGrowWithBlobSize(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 256 MiB several times")
	}
	const size = 256 << 20
	const budget = 48 << 20 // generous: buffers are 1 MiB
	ctx := context.Background()
	src := testkit.NewLayout(t)
	blob, err := src.Ingest(ctx, "application/octet-stream", &genReader{n: size, x: 88172645463325252})
	if err != nil {
		t.Fatal(err)
	}
	blob.Annotations = map[string]string{ocispec.AnnotationTitle: "big.bin"}
	cfg, err := src.Ingest(ctx, ocispec.MediaTypeEmptyJSON, jsonReader(t, map[string]any{}))
	if err != nil {
		t.Fatal(err)
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{blob}}
	m.SchemaVersion = 2
	desc, err := src.Ingest(ctx, ocispec.MediaTypeImageManifest, jsonReader(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Tag(ctx, desc, "big"); err != nil {
		t.Fatal(err)
	}

	p := filepath.Join(t.TempDir(), "big.tar")
	if n := allocDuring(t, func() {
		if _, err := archive.ExportFile(ctx, src, nil, p, archive.ExportOptions{}); err != nil {
			t.Fatal(err)
		}
	}); n > budget {
		t.Fatalf("export of a %d MiB blob allocated %d MiB", size>>20, n>>20)
	}
	dst := testkit.NewLayout(t)
	if n := allocDuring(t, func() {
		if _, err := archive.Import(ctx, []string{p}, dst, archive.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
	}); n > budget {
		t.Fatalf("import of a %d MiB blob allocated %d MiB", size>>20, n>>20)
	}
	if fi, err := os.Stat(filepath.Join(dst.Path(), "blobs", blob.Digest.Algorithm().String(), blob.Digest.Encoded())); err != nil || fi.Size() != size {
		t.Fatalf("imported blob: %v", err)
	}
	// Read in place: Fetch streams it.
	r, err := archive.Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n := allocDuring(t, func() {
		rc, err := r.Fetch(ctx, blob)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if _, err := io.Copy(io.Discard, layout.NewVerifyReader(rc, blob)); err != nil {
			t.Fatal(err)
		}
	}); n > budget {
		t.Fatalf("fetch of a %d MiB blob allocated %d MiB", size>>20, n>>20)
	}
}

func jsonReader(t *testing.T, v any) io.Reader {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return &byteReader{b: b}
}

type byteReader struct{ b []byte }

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
