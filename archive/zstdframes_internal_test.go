package archive

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// seqSeekable is the seekable stream frameWriter wrote before it
// compressed in parallel: each frame compressed in turn with EncodeAll,
// cut at maxFrame and at the given boundaries (offsets where a frame
// holding at least minFrame ends). Kept here as the reference the
// parallel writer must match byte for byte.
func seqSeekable(t *testing.T, data []byte, cuts []int) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var out []byte
	var frames [][2]int
	start := 0
	emit := func(end int) {
		n := len(out)
		out = enc.EncodeAll(data[start:end], out)
		frames = append(frames, [2]int{len(out) - n, end - start})
		start = end
	}
	for _, c := range append(cuts, len(data)) {
		for c-start >= maxFrame {
			emit(start + maxFrame)
		}
		if c-start >= minFrame || (c == len(data) && c > start) {
			emit(c)
		}
	}
	var sizes [][2]uint32
	for _, f := range frames {
		sizes = append(sizes, [2]uint32{uint32(f[0]), uint32(f[1])})
	}
	return appendSeekTable(out, sizes)
}

// TestFrameWriterSameBytesAnyCPUs: the seekable stream is byte for byte
// what the one-frame-at-a-time writer wrote, with GOMAXPROCS 1 and 4 (1
// and 4 workers), boundaries included; so archives exported before and
// after keep their digests.
func TestFrameWriterSameBytesAnyCPUs(t *testing.T) {
	data := make([]byte, 10<<20+5)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range data {
		data[i] = byte(r.IntN(20))
	}
	cuts := []int{1000, 300 << 10, 310 << 10, 6 << 20, 6<<20 + 100<<10}
	want := seqSeekable(t, data, cuts)
	for _, procs := range []int{1, 4} {
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			var out bytes.Buffer
			fw, err := newFrameWriter(&out)
			if err != nil {
				t.Fatal(err)
			}
			prev := 0
			for _, c := range cuts {
				fw.Write(data[prev:c])
				if err := fw.boundary(); err != nil {
					t.Fatal(err)
				}
				prev = c
			}
			fw.Write(data[prev:])
			if err := fw.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("GOMAXPROCS %d: %d bytes, not the %d the sequential writer gives", procs, out.Len(), len(want))
			}
		}()
	}
}

// TestFrameWriterAbort: abort after a failure leaves no goroutine.
func TestFrameWriterAbort(t *testing.T) {
	before := runtime.NumGoroutine()
	fw, err := newFrameWriter(&bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(make([]byte, 9<<20))
	fw.abort()
	for i := 0; i < 500 && runtime.NumGoroutine() > before; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after abort, %d before", n, before)
	}
}
