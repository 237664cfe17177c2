// Package hashcopy copies a stream to a writer while hashing it, with the
// hashing and the writing of each buffer running at the same time.
//
// A serial copy that hashes costs read + hash + write; SHA-256 alone is
// about as slow as reading and writing together. Copy reads into a small
// ring of buffers and writes each buffer on the calling goroutine while
// another goroutine hashes it, so that the copy takes about
// max(hash, read + write) on a machine with two or more CPUs. Memory use
// is Buffers × BufferSize whatever the size of the stream.
//
// (A third goroutine, to write while the next buffer is read, was slower
// on a two-core machine: three busy goroutines on two cores spend more on
// handing the cores around than the extra overlap gains.)
//
// FileWriter, for the writes, asks the kernel (on Linux) to start writing
// a file back to disk as it is written, so that the final fsync has little
// left to do.
package hashcopy

import (
	"context"
	"errors"
	"hash"
	"io"
	"sync"
)

const (
	// BufferSize is the size of each buffer: Copy hashes and writes the
	// stream in pieces of this size (the last one shorter).
	BufferSize = 1 << 20
	// Buffers is the number of buffers one Copy uses at most: the
	// hashing may lag behind the reading and writing by Buffers-1 of
	// them.
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

// piece is one buffer of the stream, n bytes long, on its way to the
// hashing goroutine.
type piece struct {
	buf *[]byte
	n   int
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

// write writes p to dst, as io.Copy does: a write that takes fewer bytes
// than given without saying why fails with io.ErrShortWrite, so that a
// misbehaving writer cannot drop bytes that were hashed.
func write(dst io.Writer, p []byte) (int, error) {
	n, err := dst.Write(p)
	if n < 0 || n > len(p) {
		n, err = 0, errInvalidWrite
	}
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	return n, err
}

// errInvalidWrite is io.Copy's own error for a Write that claims more (or
// fewer than no) bytes than it was given.
var errInvalidWrite = errors.New("invalid write result")

// Copy copies src to dst and writes the same bytes to h, until src returns
// io.EOF, and returns the number of bytes written to dst. The stream is
// read in BufferSize pieces, each read in full (several Reads) before it is
// hashed and written, in order; ctx is checked before each piece is read.
//
// Reads and writes happen as in a serial copy, on the calling goroutine:
// piece k is written before piece k+1 is read. The first error wins: a
// failed dst.Write (returned as a *WriteError; nothing more is read; a
// Write that takes fewer bytes than given with no error fails with
// io.ErrShortWrite, as in io.Copy), a
// cancelled ctx, or an error from src other than io.EOF (returned as it
// is, after the bytes read with it are hashed and written;
// io.ErrUnexpectedEOF is such an error, not an end). The count is of the
// bytes written to dst. h has consumed every byte read from src, also on
// error (with a failed write, that is the piece whose write failed too), so
// a caller that wants the digest of the whole stream after a failure can
// count what src gave and go on hashing the rest.
//
// Content of at most one piece is copied without a goroutine. Longer
// content is hashed by one goroutine, up to Buffers-1 pieces behind; Copy
// returns only once it has hashed every piece read, so no goroutine
// outlives Copy and h is the caller's again. A read or write blocked in
// src or dst delays the return until it comes back, as in a serial copy.
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
			if n, err := write(dst, (*first)[:m]); err != nil {
				return int64(n), &WriteError{Err: err}
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
// more content may follow. The calling goroutine reads each piece and
// writes it, as a serial copy does, but hands the hashing to a goroutine
// that works through the pieces meanwhile, up to Buffers pieces behind.
// (Reading and writing on one goroutine rather than two keeps as many
// goroutines busy as a two-core machine has cores, and means that nothing
// is read past a failed write.)
func pipeline(ctx context.Context, dst io.Writer, h hash.Hash, src io.Reader, first *[]byte) (int64, error) {
	// free holds the buffers the hashing goroutine is done with; toHash
	// carries the pieces to hash, in order. Both have room for every
	// buffer of the ring, so that sending on them never blocks.
	free := make(chan *[]byte, Buffers)
	toHash := make(chan piece, Buffers)
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		for p := range toHash {
			h.Write((*p.buf)[:p.n])
			free <- p.buf
		}
	}()

	allocated := 1
	buf, m := first, len(*first)
	var (
		written    int64
		rerr, werr error
	)
	for {
		// Hashed (on the other goroutine) while it is written here.
		toHash <- piece{buf: buf, n: m}
		var k int
		k, werr = write(dst, (*buf)[:m])
		written += int64(k)
		if werr != nil {
			break
		}
		if rerr != nil {
			break // the bytes read with the error are hashed and written first
		}
		if rerr = ctx.Err(); rerr != nil {
			break
		}
		// A buffer the hashing is done with, or a new one while the
		// ring is not full, or wait for one.
		select {
		case buf = <-free:
		default:
			if allocated < Buffers {
				buf = bufPool.Get().(*[]byte)
				allocated++
			} else {
				buf = <-free // the hashing always finishes a piece
			}
		}
		m, rerr = fill(src, *buf)
		if m == 0 {
			free <- buf
			break // rerr != nil: fill returns no bytes only with an error
		}
	}
	close(toHash)
	<-hashed
	// Every piece has been hashed: the ring is back in free.
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
