package pack

// Internal tests of the compressors' settings (tar.go): the same input gives
// the same bytes whatever the concurrency and GOMAXPROCS, which is what lets
// "the same input gives the same digest on any machine" hold on machines
// with any number of CPUs.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	stdgzip "compress/gzip"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

// compressibleInput is n bytes of text-like data (about 3:1 with gzip).
func compressibleInput(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"func", "return", "err", "nil", "if", "for", "range", "package", "import", "the", "layout", "digest", " ", "\n", "\t", "{", "}", "(", ")"}
	var b bytes.Buffer
	for b.Len() < n {
		if r.IntN(50) == 0 {
			fmt.Fprintf(&b, "%x", r.Uint64())
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.Bytes()[:n]
}

// compressWith compresses in with c, written in chunks of varying sizes
// (as the tar writer writes), with the given settings.
func compressWith(t *testing.T, c Compression, in []byte, procs, zstdW, gzipW int) []byte {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	defer func(z, g int) { zstdWorkers, gzipWorkers = z, g }(zstdWorkers, gzipWorkers)
	zstdWorkers, gzipWorkers = zstdW, gzipW
	var out bytes.Buffer
	cw, err := compressor(&out, c)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(procs), uint64(zstdW*10+gzipW)))
	for p := in; len(p) > 0; {
		n := min(len(p), 1+r.IntN(100<<10))
		if _, err := cw.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestCompressorConcurrencyDeterministic: gzip (pgzip) and zstd (frames)
// give the same bytes with 1, 2 and 8 workers and GOMAXPROCS 1, 2 and 4,
// however the input is cut into writes, and the output decompresses to
// the input.
func TestCompressorConcurrencyDeterministic(t *testing.T) {
	// Several gzip blocks and zstd frames (256 KiB here), and a last
	// partial one.
	defer func(f int) { zstdFrameSize = f }(zstdFrameSize)
	zstdFrameSize = 256 << 10
	in := compressibleInput(3*gzipBlockSize + 12345)
	for _, c := range []Compression{Gzip, Zstd} {
		t.Run(string(c), func(t *testing.T) {
			var want []byte
			for _, procs := range []int{1, 2, 4} {
				for _, conc := range []int{1, 2, 8} {
					zc, gw := 1, 1
					if c == Zstd {
						zc = conc
					} else {
						gw = conc
					}
					got := compressWith(t, c, in, procs, zc, gw)
					if want == nil {
						want = got
						if back := decompress(t, c, got); !bytes.Equal(back, in) {
							t.Fatalf("does not decompress to its input (%d bytes back, want %d)", len(back), len(in))
						}
						continue
					}
					if !bytes.Equal(got, want) {
						t.Errorf("GOMAXPROCS %d, concurrency %d: %s, %d bytes; with 1 and 1: %s, %d bytes",
							procs, conc, digest.FromBytes(got), len(got), digest.FromBytes(want), len(want))
					}
				}
			}
		})
	}
}

func decompress(t *testing.T, c Compression, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch c {
	case Gzip:
		// The standard library's reader: pgzip's blocks make one gzip
		// member any reader takes.
		zr, err := stdgzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		if !zr.ModTime.IsZero() || zr.OS != 255 {
			t.Errorf("gzip header: mtime %v, OS %d; want none and 255 (unknown)", zr.ModTime, zr.OS)
		}
		r = zr
	case Zstd:
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPackDigestIndependentOfConcurrency: packing the same tree with the
// compressors' workers at 1, 2 and 4 and GOMAXPROCS at 1, 2 and 4 gives
// the same manifest digest.
func TestPackDigestIndependentOfConcurrency(t *testing.T) {
	if testing.Short() {
		t.Skip("packs a 1.5 MB tree 18 times")
	}
	src := filepath.Join(t.TempDir(), "tree")
	testkit.WriteTree(t, src, 100)
	ctx := context.Background()
	epoch := time.Unix(1700000000, 0).UTC()
	for _, c := range []Compression{Gzip, Zstd} {
		t.Run(string(c), func(t *testing.T) {
			var want digest.Digest
			for _, procs := range []int{1, 2, 4} {
				for _, conc := range []int{1, 2, 4} {
					func() {
						defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
						defer func(z, g int) { zstdWorkers, gzipWorkers = z, g }(zstdWorkers, gzipWorkers)
						zstdWorkers, gzipWorkers = conc, conc
						l, err := layout.OpenOrCreate(ctx, filepath.Join(t.TempDir(), "layout"))
						if err != nil {
							t.Fatal(err)
						}
						defer l.Close()
						res, err := Pack(ctx, l, "v1", []Input{{Path: src}}, Options{Compression: c, SourceDateEpoch: &epoch})
						if err != nil {
							t.Fatal(err)
						}
						if want == "" {
							want = res.Manifest.Digest
						} else if res.Manifest.Digest != want {
							t.Errorf("GOMAXPROCS %d, concurrency %d: manifest %s, want %s (layer %s)", procs, conc, res.Manifest.Digest, want, res.Layers[0].Digest)
						}
					}()
				}
			}
		})
	}
}

// TestPackFailureStopsCompressor: a pack that fails half way (here
// cancelled) leaves none of the compressor's goroutines running.
func TestPackFailureStopsCompressor(t *testing.T) {
	src := filepath.Join(t.TempDir(), "tree")
	testkit.WriteTree(t, src, 300)
	for _, c := range []Compression{Gzip, Zstd} {
		t.Run(string(c), func(t *testing.T) {
			l, err := layout.OpenOrCreate(context.Background(), filepath.Join(t.TempDir(), "layout"))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			before := runtime.NumGoroutine()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			opts := Options{Compression: c, Progress: func(done, total int64) {
				if done > total/2 {
					cancel()
				}
			}}
			if _, err := Pack(ctx, l, "v1", []Input{{Path: src}}, opts); err == nil {
				t.Fatal("Pack succeeded; want it cancelled")
			}
			deadline := time.Now().Add(5 * time.Second)
			for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if n := runtime.NumGoroutine(); n > before {
				buf := make([]byte, 1<<20)
				t.Errorf("%d goroutines after the failed pack, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
			}
		})
	}
}
