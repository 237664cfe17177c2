// Package zstdframes compresses a stream with zstd as a series of
// independent frames, several frames at a time on as many CPUs.
//
// The input is cut into frames of at most FrameSize bytes (and, where the
// caller asks with EndFrame, at points of its choosing); each frame is
// compressed on its own by one of Workers goroutines, each with its own
// single-threaded encoder, and the frames are written out in their order.
// A frame's bytes depend only on its input and the level, so the output
// depends on where the frames are cut (the frame size and the EndFrame
// calls), never on the number of workers, GOMAXPROCS or the machine: the
// same input gives the same digest on 1 core or 64.
//
// Concatenated zstd frames are one valid zstd stream: any zstd decoder
// reads the output as it reads a single frame. Each frame carries zstd's
// content checksum.
//
// Memory is bounded whatever the length of the stream: about
// (Workers + 2) frames of input and as many of output are held at once,
// plus one encoder for each worker.
package zstdframes

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
)

// DefaultFrameSize is the frame size when Options.FrameSize is 0: large
// enough that cutting the input into frames costs well under 1% of the
// compressed size on source code, small enough that a few frames in flight
// for each CPU stay in a few MiB.
const DefaultFrameSize = 1 << 20

// MaxFrameSize is the largest frame size accepted.
const MaxFrameSize = 64 << 20

// ErrClosed is returned by Write, ReadFrom and EndFrame after Close or
// Abort.
var ErrClosed = errors.New("zstd frame writer already closed")

// Options controls a Writer. The zero value is usable.
type Options struct {
	// FrameSize is the most input bytes one frame holds; 0 means
	// DefaultFrameSize. It changes the output (and so its digest).
	FrameSize int
	// Workers is how many frames are compressed at once; 0 means
	// GOMAXPROCS. It never changes the output, only the speed and the
	// memory.
	Workers int
	// Level is the encoder's level; 0 means zstd.SpeedDefault (about
	// `zstd -3`). It changes the output.
	Level zstd.EncoderLevel
	// OnFrame, if set, is called for each frame once it is written to
	// the output, in order, with its compressed and uncompressed sizes
	// (a seek table's entries). It is called from another goroutine than
	// the one writing to the Writer, never from two at once, and its last
	// call happens before Close returns.
	OnFrame func(compressed, uncompressed int)
}

// job is one frame on its way through a worker to the output.
type job struct {
	in   []byte // the frame's input; handed back to the pool once compressed
	n    int    // len(in)
	out  []byte // the compressed frame
	done chan struct{}
}

// Writer compresses what is written to it into independent zstd frames
// and writes them to the underlying writer in order. It is not safe for
// concurrent use. Close (or Abort) must be called to release its
// goroutines.
type Writer struct {
	w       io.Writer
	size    int
	onFrame func(int, int)

	buf   []byte      // the frame being filled
	jobs  chan *job   // frames for the workers
	order chan *job   // the same frames, in order, for the writer goroutine
	free  chan []byte // input buffers to fill again
	outs  chan []byte // output buffers to compress into again
	done  chan struct{}
	wg    sync.WaitGroup

	mu  sync.Mutex
	err error // the first error writing to w

	aborted atomic.Bool
	frames  int  // frames handed to the workers
	closed  bool // Close or Abort was called
}

// NewWriter returns a Writer writing zstd frames to w.
func NewWriter(w io.Writer, opts Options) (*Writer, error) {
	size := opts.FrameSize
	if size == 0 {
		size = DefaultFrameSize
	}
	if size < 0 || size > MaxFrameSize {
		return nil, fmt.Errorf("zstd frame size %d: use 1 byte to %d MiB", size, MaxFrameSize>>20)
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	level := opts.Level
	if level == 0 {
		level = zstd.SpeedDefault
	}
	// The window: the frame size rounded up to a power of two. A frame
	// never refers back past its own start, so a larger window (8 MiB
	// at the default level) changes no byte of the output; it would only
	// cost each encoder a history buffer of that size.
	window := zstd.MinWindowSize
	for window < size && window < zstd.MaxWindowSize {
		window <<= 1
	}
	encs := make([]*zstd.Encoder, workers)
	for i := range encs {
		// One single-threaded encoder a worker: EncodeAll of one frame
		// gives the same bytes whichever encoder runs it.
		enc, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(level),
			zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(true),
			zstd.WithWindowSize(window),
			zstd.WithZeroFrames(true)) // empty input: one empty frame, still a zstd stream
		if err != nil {
			return nil, fmt.Errorf("zstd encoder: %w", err)
		}
		encs[i] = enc
	}
	z := &Writer{
		w:       w,
		size:    size,
		onFrame: opts.OnFrame,
		buf:     make([]byte, 0, size),
		jobs:    make(chan *job, workers),
		// At most workers frames wait for the writer goroutine: with the
		// one being filled and the one being written, workers+2 frames
		// of input and of output exist at once.
		order: make(chan *job, workers),
		free:  make(chan []byte, workers+3),
		outs:  make(chan []byte, workers+3),
		done:  make(chan struct{}),
	}
	for _, enc := range encs {
		z.wg.Add(1)
		go z.work(enc)
	}
	go z.emit()
	return z, nil
}

// work compresses frames until there are no more.
func (z *Writer) work(enc *zstd.Encoder) {
	defer z.wg.Done()
	defer enc.Close()
	for j := range z.jobs {
		// After an abort or a failed write nothing more is written:
		// the frames left are only handed back.
		if !z.aborted.Load() && z.failed() == nil {
			var out []byte
			select {
			case out = <-z.outs:
			default:
				// Room for the largest frame, so that EncodeAll
				// never grows it.
				out = make([]byte, 0, enc.MaxEncodedSize(z.size))
			}
			j.out = enc.EncodeAll(j.in, out[:0])
		}
		select {
		case z.free <- j.in[:0]:
		default:
		}
		j.in = nil
		close(j.done)
	}
}

// emit writes the compressed frames to w in order.
func (z *Writer) emit() {
	defer close(z.done)
	for j := range z.order {
		<-j.done
		if z.failed() == nil && !z.aborted.Load() {
			if _, err := z.w.Write(j.out); err != nil {
				z.mu.Lock()
				z.err = err
				z.mu.Unlock()
			} else if z.onFrame != nil {
				z.onFrame(len(j.out), j.n)
			}
		}
		if j.out != nil {
			select {
			case z.outs <- j.out[:0]:
			default:
			}
		}
	}
}

func (z *Writer) failed() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.err
}

// submit hands the frame being filled to the workers and starts another.
func (z *Writer) submit() error {
	if err := z.failed(); err != nil {
		return err
	}
	j := &job{in: z.buf, n: len(z.buf), done: make(chan struct{})}
	z.order <- j // waits while workers frames wait to be written: memory stays bounded
	z.jobs <- j
	z.frames++
	select {
	case b := <-z.free:
		z.buf = b
	default:
		z.buf = make([]byte, 0, z.size)
	}
	return nil
}

// Write compresses p. An error writing to the underlying writer is
// returned by a later Write (or by Close).
func (z *Writer) Write(p []byte) (int, error) {
	if z.closed {
		return 0, ErrClosed
	}
	n := 0
	for len(p) > 0 {
		k := copy(z.buf[len(z.buf):z.size], p)
		z.buf = z.buf[:len(z.buf)+k]
		p, n = p[k:], n+k
		if len(z.buf) == z.size {
			if err := z.submit(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// ReadFrom compresses what r holds up to its end, reading into the frames
// directly.
func (z *Writer) ReadFrom(r io.Reader) (int64, error) {
	if z.closed {
		return 0, ErrClosed
	}
	var n int64
	for {
		k, err := r.Read(z.buf[len(z.buf):z.size])
		z.buf = z.buf[:len(z.buf)+k]
		n += int64(k)
		if len(z.buf) == z.size {
			if serr := z.submit(); serr != nil {
				return n, serr
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// EndFrame ends the current frame here if it holds at least min bytes
// (and at least one), so that what is written next starts a new frame: a
// point a reader can later start decompressing from.
func (z *Writer) EndFrame(min int) error {
	if z.closed {
		return ErrClosed
	}
	if len(z.buf) > 0 && len(z.buf) >= min {
		return z.submit()
	}
	return z.failed()
}

// Close compresses and writes what is left, waits for every frame to be
// written and returns the first error writing them. An empty input gives
// one empty frame. Close does not close the underlying writer.
func (z *Writer) Close() error {
	if z.closed {
		return z.failed()
	}
	var err error
	if len(z.buf) > 0 || z.frames == 0 {
		err = z.submit()
	}
	z.stop()
	if err != nil {
		return err
	}
	return z.failed()
}

// Abort stops the Writer without writing what is not written yet (its
// output is abandoned) and releases its goroutines. After Close it does
// nothing.
func (z *Writer) Abort() {
	if z.closed {
		return
	}
	z.aborted.Store(true)
	z.stop()
}

func (z *Writer) stop() {
	z.closed = true
	close(z.order)
	close(z.jobs)
	<-z.done
	z.wg.Wait()
	z.buf = nil
}
