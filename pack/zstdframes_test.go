package pack

// Internal tests of pack's zstd layers: independent frames of
// zstdFrameSize compressed in parallel (internal/zstdframes), the same
// digest whatever the number of workers.

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/unpack"
)

// zfTree is a generated tree of small files plus a random file of 5 MiB +
// 7 bytes: its tar spans several frames of the real size.
func zfTree(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "tree")
	testkit.WriteTree(t, src, 200)
	b := make([]byte, 5<<20+7)
	r := rand.New(rand.NewPCG(7, 8))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(filepath.Join(src, "random.bin"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return src
}

// zfPack packs src with zstd and the given workers, GOMAXPROCS and frame
// size, and returns the layout and its result.
func zfPack(t *testing.T, src string, workers, procs, frame int, c Compression) (*layout.Layout, *Result) {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	defer func(w, f int) { zstdWorkers, zstdFrameSize = w, f }(zstdWorkers, zstdFrameSize)
	zstdWorkers, zstdFrameSize = workers, frame
	l := testkit.NewLayout(t)
	epoch := time.Unix(1700000000, 0).UTC()
	res, err := Pack(context.Background(), l, "v1", []Input{{Path: src}}, Options{Compression: c, SourceDateEpoch: &epoch})
	if err != nil {
		t.Fatal(err)
	}
	return l, res
}

// TestPackZstdFramesAnyWorkers: a tree with random data larger than
// several frames packs to the same manifest and layer digests with 1, 2
// and 8 workers (and GOMAXPROCS 1 and 8); the layer is the zstd media
// type, decompresses with a plain zstd decoder to exactly the tar the
// uncompressed pack stores (the tar itself does not change with the
// compression), and unpacks to the tree.
func TestPackZstdFramesAnyWorkers(t *testing.T) {
	src := zfTree(t)
	lnone, none := zfPack(t, src, 1, 2, zstdFrameSize, None)
	tarBytes := testkit.FetchBytes(t, lnone, none.Layers[0])
	if len(tarBytes) < 3*zstdFrameSize {
		t.Fatalf("the tar is %d bytes, not several frames of %d", len(tarBytes), zstdFrameSize)
	}
	var want *Result
	for _, workers := range []int{1, 2, 8} {
		for _, procs := range []int{1, 8} {
			l, res := zfPack(t, src, workers, procs, zstdFrameSize, Zstd)
			if want == nil {
				want = res
				d := res.Layers[0]
				if d.MediaType != MediaTypeTarZstd {
					t.Errorf("media type %s, want %s", d.MediaType, MediaTypeTarZstd)
				}
				if got, w := d.Annotations[layout.AnnotationContentDigest], none.Layers[0].Digest.String(); got != w {
					t.Errorf("content digest %s, but the uncompressed pack's tar is %s", got, w)
				}
				zr, err := zstd.NewReader(bytes.NewReader(testkit.FetchBytes(t, l, d)))
				if err != nil {
					t.Fatal(err)
				}
				back, err := io.ReadAll(zr)
				zr.Close()
				if err != nil {
					t.Fatalf("plain zstd decoder: %v", err)
				}
				if !bytes.Equal(back, tarBytes) {
					t.Errorf("decompresses to %d bytes, not the %d-byte tar of the uncompressed pack", len(back), len(tarBytes))
				}
				dest := filepath.Join(t.TempDir(), "out")
				if _, err := unpack.Unpack(context.Background(), l, "v1", dest, unpack.Options{}); err != nil {
					t.Fatalf("Unpack: %v", err)
				}
				testkit.CompareDirs(t, src, filepath.Join(dest, "tree"))
				continue
			}
			if res.Manifest.Digest != want.Manifest.Digest || res.Layers[0].Digest != want.Layers[0].Digest {
				t.Errorf("%d workers, GOMAXPROCS %d: manifest %s layer %s; with 1 worker: %s, %s",
					workers, procs, res.Manifest.Digest, res.Layers[0].Digest, want.Manifest.Digest, want.Layers[0].Digest)
			}
		}
	}
}

// TestPackZstdFrameEdge: with 512-byte frames every tar (a multiple of
// 512 bytes) ends exactly at a frame's end; it packs to the same digest
// with 1 and 8 workers and unpacks to the tree.
func TestPackZstdFrameEdge(t *testing.T) {
	src := filepath.Join(t.TempDir(), "tree")
	testkit.WriteTree(t, src, 20)
	l1, r1 := zfPack(t, src, 1, 2, 512, Zstd)
	_, r8 := zfPack(t, src, 8, 2, 512, Zstd)
	if r1.Layers[0].Digest != r8.Layers[0].Digest {
		t.Errorf("512-byte frames: %s with 1 worker, %s with 8", r1.Layers[0].Digest, r8.Layers[0].Digest)
	}
	dest := filepath.Join(t.TempDir(), "out")
	if _, err := unpack.Unpack(context.Background(), l1, "v1", dest, unpack.Options{}); err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	testkit.CompareDirs(t, src, filepath.Join(dest, "tree"))
}
