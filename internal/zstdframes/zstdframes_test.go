package zstdframes

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
)

// textInput is n bytes of text-like data.
func textInput(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"func", "return", "err", "nil", "if", "for", "range", "package", "import", " ", "\n", "\t", "{", "}"}
	var b bytes.Buffer
	for b.Len() < n {
		if r.IntN(50) == 0 {
			fmt.Fprintf(&b, "%x", r.Uint64())
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.Bytes()[:n]
}

// randomInput is n incompressible bytes.
func randomInput(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// compress writes in to a Writer in chunks of random sizes (seeded by
// seed) and returns the output and the frames OnFrame reported.
func compress(t *testing.T, in []byte, opts Options, seed uint64) ([]byte, [][2]int) {
	t.Helper()
	var out bytes.Buffer
	var frames [][2]int
	opts.OnFrame = func(c, u int) { frames = append(frames, [2]int{c, u}) }
	z, err := NewWriter(&out, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 0))
	for p := in; len(p) > 0; {
		n := min(len(p), 1+r.IntN(3*opts.FrameSize/2))
		if _, err := z.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), frames
}

// reference compresses in frame by frame on one goroutine: what the
// Writer must give whatever its workers.
func reference(t *testing.T, in []byte, size int) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true), zstd.WithZeroFrames(true))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var out []byte
	for len(in) > size {
		out = enc.EncodeAll(in[:size], out)
		in = in[size:]
	}
	return enc.EncodeAll(in, out)
}

func decode(t *testing.T, b []byte) []byte {
	t.Helper()
	d, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	out, err := io.ReadAll(d)
	if err != nil {
		t.Fatalf("decompress: %v", err)
	}
	return out
}

// TestSameBytesAnyWorkers: 1, 2 and 8 workers (and GOMAXPROCS 1 and 8)
// give the same bytes as compressing frame by frame on one goroutine, for
// text and for random data of several frames and a partial one, however
// the input is cut into writes; the output decompresses to the input.
func TestSameBytesAnyWorkers(t *testing.T) {
	const size = 64 << 10
	for name, in := range map[string][]byte{"text": textInput(7*size + 12345), "random": randomInput(5*size + 1)} {
		t.Run(name, func(t *testing.T) {
			want := reference(t, in, size)
			for _, procs := range []int{1, 8} {
				for _, workers := range []int{1, 2, 8} {
					func() {
						defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
						got, frames := compress(t, in, Options{FrameSize: size, Workers: workers}, uint64(workers*10+procs))
						if !bytes.Equal(got, want) {
							t.Errorf("GOMAXPROCS %d, %d workers: %s (%d bytes); frame by frame: %s (%d bytes)",
								procs, workers, digest.FromBytes(got), len(got), digest.FromBytes(want), len(want))
						}
						if n := (len(in) + size - 1) / size; len(frames) != n {
							t.Errorf("%d frames reported, want %d", len(frames), n)
						}
						c, u := 0, 0
						for _, f := range frames {
							c, u = c+f[0], u+f[1]
						}
						if c != len(got) || u != len(in) {
							t.Errorf("frames add up to %d compressed, %d uncompressed; want %d, %d", c, u, len(got), len(in))
						}
					}()
				}
			}
			if back := decode(t, want); !bytes.Equal(back, in) {
				t.Fatalf("does not decompress to its input (%d bytes back, want %d)", len(back), len(in))
			}
		})
	}
}

// TestFrameBoundaries: an input of exactly 3 frames gives 3 frames (no
// empty one after them); an empty input gives one empty frame, which
// decompresses to nothing; one byte gives one frame.
func TestFrameBoundaries(t *testing.T) {
	const size = 32 << 10
	in := textInput(3 * size)
	got, frames := compress(t, in, Options{FrameSize: size, Workers: 2}, 1)
	if len(frames) != 3 {
		t.Errorf("exactly 3 frames of input: %d frames, want 3: %v", len(frames), frames)
	}
	for i, f := range frames {
		if f[1] != size {
			t.Errorf("frame %d holds %d bytes, want %d", i, f[1], size)
		}
	}
	if !bytes.Equal(decode(t, got), in) {
		t.Error("3 frames: does not decompress to the input")
	}

	for _, in := range [][]byte{nil, {'x'}} {
		got, frames := compress(t, in, Options{FrameSize: size, Workers: 2}, 1)
		if len(frames) != 1 || frames[0][1] != len(in) || frames[0][0] != len(got) {
			t.Errorf("%d bytes in: frames %v, want one of %d bytes (%d compressed)", len(in), frames, len(in), len(got))
		}
		if !bytes.HasPrefix(got, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
			t.Errorf("%d bytes in: output %x is no zstd frame", len(in), got)
		}
		if back := decode(t, got); !bytes.Equal(back, in) {
			t.Errorf("%d bytes in: %q back", len(in), back)
		}
	}
}

// TestEndFrame: EndFrame cuts a frame where asked once it holds min
// bytes, not before; the frames are the same whatever the workers.
func TestEndFrame(t *testing.T) {
	in := textInput(200 << 10)
	cuts := []int{1000, 1010, 50 << 10, 50<<10 + 100, 150 << 10}
	run := func(workers int) ([]byte, [][2]int) {
		var out bytes.Buffer
		var frames [][2]int
		z, err := NewWriter(&out, Options{FrameSize: 64 << 10, Workers: workers, OnFrame: func(c, u int) { frames = append(frames, [2]int{c, u}) }})
		if err != nil {
			t.Fatal(err)
		}
		prev := 0
		for _, c := range cuts {
			z.Write(in[prev:c])
			if err := z.EndFrame(512); err != nil {
				t.Fatal(err)
			}
			prev = c
		}
		z.Write(in[prev:])
		if err := z.Close(); err != nil {
			t.Fatal(err)
		}
		return out.Bytes(), frames
	}
	got1, frames := run(1)
	// 1000 (cut), 10 (under 512: no cut), 50<<10-1000 with the 10 (cut),
	// 100 (no cut), 64<<10 (full), 36<<10 (cut at 150<<10), 50<<10 (end).
	want := []int{1000, 50<<10 - 1000, 64 << 10, 36 << 10, 50 << 10}
	var sizes []int
	for _, f := range frames {
		sizes = append(sizes, f[1])
	}
	if fmt.Sprint(sizes) != fmt.Sprint(want) {
		t.Errorf("frames of %v bytes, want %v", sizes, want)
	}
	if got8, _ := run(8); !bytes.Equal(got8, got1) {
		t.Error("8 workers cut or compressed differently from 1")
	}
	if !bytes.Equal(decode(t, got1), in) {
		t.Error("does not decompress to the input")
	}
}

// TestReadFrom: io.Copy into a Writer (its ReadFrom) gives the same bytes
// as Write.
func TestReadFrom(t *testing.T) {
	in := textInput(300 << 10)
	want, _ := compress(t, in, Options{FrameSize: 64 << 10, Workers: 2}, 5)
	var out bytes.Buffer
	z, err := NewWriter(&out, Options{FrameSize: 64 << 10, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	// A reader giving at most 1000 bytes a read.
	if _, err := io.Copy(z, io.LimitReader(&chunkReader{b: in}, int64(len(in)))); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("ReadFrom gave %d bytes, Write %d, not the same", out.Len(), len(want))
	}
}

type chunkReader struct{ b []byte }

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 1000)], c.b)
	c.b = c.b[n:]
	return n, nil
}

var errFull = errors.New("disk full")

// failAfter accepts n bytes, then fails.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		f.n = 0
		return 0, errFull
	}
	f.n -= len(p)
	return len(p), nil
}

// waitGoroutines fails t if more goroutines than before are still
// running after a bounded wait.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	for i := 0; i < 500 && runtime.NumGoroutine() > before; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines left, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestWriteError: a failing output reaches Write (soon after) and Close;
// Abort and Close leave no goroutine behind; nothing is accepted after
// Close.
func TestWriteError(t *testing.T) {
	before := runtime.NumGoroutine()
	in := randomInput(64 << 10)
	z, err := NewWriter(&failAfter{n: 100 << 10}, Options{FrameSize: 16 << 10, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for i := 0; i < 1000 && werr == nil; i++ {
		_, werr = z.Write(in)
	}
	if !errors.Is(werr, errFull) {
		t.Errorf("Write after the output failed: %v, want %v", werr, errFull)
	}
	if err := z.Close(); !errors.Is(err, errFull) {
		t.Errorf("Close after the output failed: %v, want %v", err, errFull)
	}
	if _, err := z.Write(in); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
	z.Abort()

	z, err = NewWriter(io.Discard, Options{FrameSize: 16 << 10, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	z.Write(in)
	z.Abort()
	if err := z.EndFrame(0); !errors.Is(err, ErrClosed) {
		t.Errorf("EndFrame after Abort: %v, want ErrClosed", err)
	}
	waitGoroutines(t, before)

	if _, err := NewWriter(io.Discard, Options{FrameSize: -1}); err == nil {
		t.Error("a negative frame size was accepted")
	}
}

// BenchmarkZstdFrames compresses 16 MiB of text-like data with the
// default frame size and 1, 2 and (if more) GOMAXPROCS workers:
//
//	go test -run '^$' -bench ZstdFrames ./internal/zstdframes
func BenchmarkZstdFrames(b *testing.B) {
	in := textInput(16 << 20)
	counts := []int{1, 2}
	if n := runtime.GOMAXPROCS(0); n > 2 {
		counts = append(counts, n)
	}
	for _, workers := range counts {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				z, err := NewWriter(io.Discard, Options{Workers: workers})
				if err != nil {
					b.Fatal(err)
				}
				z.Write(in)
				if err := z.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
