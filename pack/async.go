package pack

import (
	"io"
	"sync"
)

// asyncWriter hands what is written to it to w on another goroutine, in
// chunks of a fixed size, so that w (a compressor working on one CPU) and
// the code writing into it (reading files, building the tar, hashing it)
// run at the same time. What w receives is the same bytes in the same
// order; only how they are cut into writes changes, which does not change
// a stream compressor's output. A chunk is handed over whole: a few large
// hand-overs cost less than the compressor's own asynchronous mode, which
// hands over every 128 KiB block (and wakes a goroutine on the other CPU
// each time).
type asyncWriter struct {
	w    io.WriteCloser
	buf  []byte      // the chunk being filled
	full chan []byte // chunks for the goroutine
	free chan []byte // chunks written, to fill again
	done chan error  // the goroutine's result: w's first error or Close's

	mu  sync.Mutex
	err error // w's first error, so that Write stops early

	closed bool // Close or abort was called
}

// newAsyncWriter starts the goroutine writing to w; chunks of chunk bytes,
// at most inFlight of them waiting for it. Close (or abort) must be called.
func newAsyncWriter(w io.WriteCloser, chunk, inFlight int) *asyncWriter {
	a := &asyncWriter{
		w:    w,
		buf:  make([]byte, 0, chunk),
		full: make(chan []byte, inFlight),
		free: make(chan []byte, inFlight+1),
		done: make(chan error, 1),
	}
	for range inFlight {
		a.free <- make([]byte, 0, chunk)
	}
	go a.run()
	return a
}

func (a *asyncWriter) run() {
	var err error
	for b := range a.full {
		if err == nil {
			if _, err = a.w.Write(b); err != nil {
				a.mu.Lock()
				a.err = err
				a.mu.Unlock()
			}
		}
		a.free <- b[:0]
	}
	a.done <- err
}

func (a *asyncWriter) failed() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// Write copies p into the current chunk, handing each full chunk over.
func (a *asyncWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := copy(a.buf[len(a.buf):cap(a.buf)], p)
		a.buf = a.buf[:len(a.buf)+k]
		p = p[k:]
		n += k
		if len(a.buf) == cap(a.buf) {
			if err := a.failed(); err != nil {
				return n, err
			}
			a.full <- a.buf
			a.buf = <-a.free
		}
	}
	return n, nil
}

// Close hands over the last chunk, waits until w has written everything,
// and closes w.
func (a *asyncWriter) Close() error {
	if a.closed {
		return nil
	}
	a.closed = true
	if len(a.buf) > 0 {
		a.full <- a.buf
		a.buf = nil
	}
	close(a.full)
	if err := <-a.done; err != nil {
		release(a.w)
		return err
	}
	return a.w.Close()
}

// abort stops the goroutine without waiting for w to write what it was
// given (its output is abandoned) and releases w.
func (a *asyncWriter) abort() {
	if a.closed {
		return
	}
	a.closed = true
	close(a.full)
	<-a.done
	release(a.w)
}
