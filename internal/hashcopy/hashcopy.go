// Package hashcopy copies a stream to a writer while hashing it, with the
// hashing and the writing of each buffer running at the same time.
//
// A serial copy that hashes costs read + hash + write; SHA-256 alone is
// about as slow as reading and writing together. Copy reads on the calling
// goroutine into a small ring of buffers and hands each full buffer both to
// a goroutine that hashes it and to one that writes it, so that the copy
// takes about max(hash, read + write) on a machine with two or more CPUs.
// Memory use is Buffers × BufferSize whatever the size of the stream.
//
// FileWriter, for the writes, asks the kernel (on Linux) to start writing
// a file back to disk as it is written, so that the final fsync has little
// left to do.
package hashcopy

import (
	"context"
	"hash"
	"io"
	"sync"
	"sync/atomic"
)

const (
	// BufferSize is the size of each buffer: Copy hashes and writes the
	// stream in pieces of this size (the last one shorter).
	BufferSize = 1 << 20
	// Buffers is the number of buffers one Copy uses at most: one being
	// read into while up to Buffers-1 wait to be hashed or written.
	Buffers = 4
)

// WriteError is the error Copy returns when dst.Write fails: Err is what
// dst.Write returned. It lets a caller tell a failed write from a failed
// read (whose error Copy returns as it is).
type WriteError struct {
	// Err is the error dst.Write returned.
	Err error
}

// Error returns Err's message.
func (e *WriteError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *WriteError) Unwrap() error { return e.Err }

// bufPool holds BufferSize buffers between copies.
var bufPool = sync.Pool{New: func() any { b := make([]byte, BufferSize); return &b }}

// chunk is one buffer of the stream, in flight to the hashing and the
// writing goroutine. The second of them to be done with it returns the
// buffer to the ring.
type chunk struct {
	buf  *[]byte
	n    int
	refs atomic.Int32
}

// fill reads from src until buf is full or src fails or ends. Only a clean
// io.EOF ends the content: any other error (io.ErrUnexpectedEOF included)
// is returned as a failure.
func fill(src io.Reader, buf []byte) (int, error) {
	m := 0
	var err error
	for m < len(buf) && err == nil {
		var k int
		k, err = src.Read(buf[m:])
		m += k
	}
	return m, err
}

// Copy copies src to dst and writes the same bytes to h, until src returns
// io.EOF, and returns the number of bytes written to dst. The stream is
// read in BufferSize pieces, each read in full (several Reads) before it is
// hashed and written, in order; ctx is checked before each piece is read.
//
// The first error wins: a failed dst.Write (returned as a *WriteError; the
// pieces after it are not written), a cancelled ctx, or an error from src
// other than io.EOF (returned as it is, after the bytes read with it are
// hashed and written; io.ErrUnexpectedEOF is such an error, not an end).
// The count is of the bytes written to dst. h has consumed every byte read
// from src, also on error: as src is read ahead of dst (by up to Buffers
// pieces), that may be more than was written, and a caller that wants the
// digest of the whole stream after a failed write can count what src gave
// and go on hashing the rest.
//
// Content of at most one piece is copied on the calling goroutine. Longer
// content is hashed and written by two goroutines while the calling one
// reads ahead (at most Buffers pieces in flight); Copy returns only once
// both have finished, so no goroutine outlives it and h, dst and src are
// the caller's again. A read or write blocked in src or dst delays the
// return until it comes back, as in a serial copy.
func Copy(ctx context.Context, dst io.Writer, h hash.Hash, src io.Reader) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	first := bufPool.Get().(*[]byte)
	m, rerr := fill(src, *first)
	if rerr != nil {
		// The whole content fits one piece (or src failed within it): no
		// goroutines.
		defer bufPool.Put(first)
		if m > 0 {
			h.Write((*first)[:m])
			if _, err := dst.Write((*first)[:m]); err != nil {
				return 0, &WriteError{Err: err}
			}
		}
		if rerr == io.EOF {
			return int64(m), nil
		}
		return int64(m), rerr
	}
	return pipeline(ctx, dst, h, src, first)
}

// pipeline is Copy once the first piece, first, has been read in full and
// more content may follow.
func pipeline(ctx context.Context, dst io.Writer, h hash.Hash, src io.Reader, first *[]byte) (int64, error) {
	var (
		// free holds the buffers of the ring that nobody uses; it has
		// room for all of them, so that returning one never blocks.
		free = make(chan *[]byte, Buffers)
		// toHash and toWrite carry the pieces in stream order. At most
		// Buffers pieces exist, so sending never blocks either.
		toHash  = make(chan *chunk, Buffers)
		toWrite = make(chan *chunk, Buffers)
		// stop is closed by the writing goroutine when dst.Write fails.
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		written int64 // owned by the writing goroutine until wg.Wait
		werr    error // likewise
	)
	release := func(c *chunk) {
		if c.refs.Add(-1) == 0 {
			free <- c.buf
		}
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for c := range toHash {
			h.Write((*c.buf)[:c.n])
			release(c)
		}
	}()
	go func() {
		defer wg.Done()
		for c := range toWrite {
			if werr == nil {
				if _, err := dst.Write((*c.buf)[:c.n]); err != nil {
					werr = err
					close(stop)
				} else {
					written += int64(c.n)
				}
			}
			release(c)
		}
	}()

	allocated := 1
	buf, m := first, len(*first)
	var rerr error
	for {
		c := &chunk{buf: buf, n: m}
		c.refs.Store(2)
		toHash <- c
		toWrite <- c
		buf = nil
		if rerr != nil {
			break // the bytes read with the error are hashed and written first
		}
		if rerr = ctx.Err(); rerr != nil {
			break
		}
		if isClosed(stop) {
			break // a write failed: read no further
		}
		// Take a free buffer, or allocate one while the ring is not full,
		// or wait for one.
		select {
		case buf = <-free:
		default:
			if allocated < Buffers {
				buf = bufPool.Get().(*[]byte)
				allocated++
			} else {
				select {
				case buf = <-free:
				case <-stop:
				case <-ctx.Done():
					rerr = ctx.Err()
				}
			}
		}
		if buf == nil {
			break // a write failed, or ctx is done
		}
		m, rerr = fill(src, *buf)
		if m == 0 {
			free <- buf
			break // rerr != nil: fill returns no bytes only with an error
		}
	}
	close(toHash)
	close(toWrite)
	wg.Wait()
	// Every piece has been released: the ring is back in free.
	for range allocated {
		bufPool.Put(<-free)
	}
	switch {
	case werr != nil:
		return written, &WriteError{Err: werr}
	case rerr == io.EOF:
		return written, nil
	}
	return written, rerr
}

// isClosed reports whether c is closed.
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
