package unpack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/ocipack/ocipack/layout"
)

// Streaming plumbing: blobs are read once, verified as they are read,
// decompressed on the fly, and counted against Options.MaxSize. Nothing is
// held in memory beyond fixed-size buffers.

const (
	// bufSize is the size of the buffers blobs and files are copied with.
	bufSize = 1 << 20
	// maxZstdWindow bounds the zstd window, and so the decoder's memory.
	// 128 MiB is what `zstd --long` (window log 27) uses; larger windows
	// need `--long=28` or more and are refused.
	maxZstdWindow = 128 << 20
	// tarBlockSize is charged against MaxSize for each tar header, so that
	// an archive of millions of empty entries is bounded too.
	tarBlockSize = 512
)

// blobStream reads a blob through layout's VerifyReader (size and digest),
// checking ctx before each read and reporting progress. It remembers the
// first error the blob itself produced, so that a verification failure can
// be reported instead of whatever it caused downstream (a tar or gzip
// parse error, say).
type blobStream struct {
	ctx    context.Context
	vr     *layout.VerifyReader
	onRead func(n int64) // may be nil
	err    error         // first error from vr other than io.EOF
}

// Read implements io.Reader.
func (b *blobStream) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := b.vr.Read(p)
	if n > 0 && b.onRead != nil {
		b.onRead(int64(n))
	}
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// readCounter counts the bytes read from r and reports them to onRead
// (which may be nil).
type readCounter struct {
	r      io.Reader
	n      int64
	onRead func(n int64)
}

// Read implements io.Reader.
func (c *readCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if n > 0 && c.onRead != nil {
		c.onRead(int64(n))
	}
	return n, err
}

// errTooLong is fileSink's refusal of the bytes past a blob's size.
var errTooLong = errors.New("blob longer than its descriptor says")

// fileSink writes a regular-file layer's content to f: at most size bytes
// (more fails with errTooLong, the blob being longer than its descriptor
// says), each charged to budget before it is written.
type fileSink struct {
	f      *os.File
	w      io.Writer // writes to f, when not nil (else f itself)
	size   int64
	n      int64
	budget *budget
}

// Write implements io.Writer.
func (s *fileSink) Write(p []byte) (int, error) {
	if s.n+int64(len(p)) > s.size {
		return 0, errTooLong
	}
	if err := s.budget.charge(int64(len(p))); err != nil {
		return 0, err
	}
	w := s.w
	if w == nil {
		w = s.f
	}
	n, err := w.Write(p)
	s.n += int64(n)
	return n, err
}

// budget counts the bytes written (decompressed) against Options.MaxSize,
// over all layers.
type budget struct {
	max, used int64
}

// charge adds n bytes and fails with ErrTooLarge once the total exceeds max.
func (b *budget) charge(n int64) error {
	b.used += n
	if b.exceeded() {
		return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, b.max)
	}
	return nil
}

// exceeded reports whether more than max bytes have been charged.
func (b *budget) exceeded() bool { return b.used > b.max }

// budgetReader charges every byte read from r to b.
type budgetReader struct {
	r io.Reader
	b *budget
}

// Read implements io.Reader.
func (r *budgetReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		if berr := r.b.charge(int64(n)); berr != nil {
			return n, berr
		}
	}
	return n, err
}

// copyBuffer copies src to dst with buf. Unlike io.CopyBuffer it never
// hands the copy to dst.ReadFrom (which for *os.File would use its own
// small buffer), so the 1 MiB buffer is what is used.
func copyBuffer(dst io.Writer, src io.Reader, buf []byte) (int64, error) {
	var written int64
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			m, werr := dst.Write(buf[:n])
			written += int64(m)
			if werr != nil {
				return written, werr
			}
			if m != n {
				return written, io.ErrShortWrite
			}
		}
		if rerr == io.EOF {
			return written, nil
		}
		if rerr != nil {
			return written, rerr
		}
	}
}

// drain reads r to its end, discarding the content.
func drain(r io.Reader, buf []byte) error {
	_, err := copyBuffer(io.Discard, r, buf)
	return err
}

// compression is how a directory layer's tar is compressed.
type compression int

const (
	compressionNone compression = iota
	compressionGzip
	compressionZstd
)

// String names the compression for messages.
func (c compression) String() string {
	switch c {
	case compressionGzip:
		return "gzip"
	case compressionZstd:
		return "zstd"
	}
	return "none"
}

// Magic numbers of the compressed formats.
var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// compressionOf chooses how to decompress a directory layer: from the media
// type's suffix ("+gzip"/".gzip", "+zstd"/".zstd", ".tar"/"+tar" for none)
// when it says, and otherwise from the first bytes of the content.
func compressionOf(mediaType string, head []byte) compression {
	mt := strings.ToLower(mediaType)
	if i := strings.IndexByte(mt, ';'); i >= 0 { // parameters
		mt = strings.TrimSpace(mt[:i])
	}
	switch {
	case strings.HasSuffix(mt, "+gzip"), strings.HasSuffix(mt, ".gzip"):
		return compressionGzip
	case strings.HasSuffix(mt, "+zstd"), strings.HasSuffix(mt, ".zstd"):
		return compressionZstd
	case strings.HasSuffix(mt, ".tar"), strings.HasSuffix(mt, "+tar"):
		return compressionNone
	}
	switch {
	case len(head) >= len(gzipMagic) && string(head[:len(gzipMagic)]) == string(gzipMagic):
		return compressionGzip
	case len(head) >= len(zstdMagic) && string(head[:len(zstdMagic)]) == string(zstdMagic):
		return compressionZstd
	}
	return compressionNone
}

// decompress returns a reader of the decompressed content of br and a
// function that releases the decoder.
func decompress(c compression, br *bufio.Reader) (io.Reader, func(), error) {
	switch c {
	case compressionGzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("read gzip header: %w", err)
		}
		return zr, func() { zr.Close() }, nil
	case compressionZstd:
		zr, err := zstd.NewReader(br,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(maxZstdWindow),
		)
		if err != nil {
			return nil, nil, fmt.Errorf("start zstd decoder: %w", err)
		}
		return zr, zr.Close, nil
	}
	return br, func() {}, nil
}
