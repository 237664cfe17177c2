package hashcopy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

// random returns n pseudo-random bytes.
func random(n int) []byte {
	b := make([]byte, n)
	var seed [32]byte
	copy(seed[:], "hashcopy test")
	rand.NewChaCha8(seed).Read(b)
	return b
}

// serialCopy is the serial copy Copy replaces (layout's copyHashing before
// it): fill a BufferSize buffer, hash it, write it.
func serialCopy(ctx context.Context, w io.Writer, h hash.Hash, r io.Reader) (int64, error) {
	buf := make([]byte, BufferSize)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, rerr := fill(r, buf)
		if m > 0 {
			h.Write(buf[:m])
			if _, err := w.Write(buf[:m]); err != nil {
				return n, &WriteError{Err: err}
			}
			n += int64(m)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// checkNoLeak fails t if, after a bounded wait, more goroutines run than
// before.
func checkNoLeak(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after the copy, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var sizes = []int{0, 1, 4096, BufferSize - 1, BufferSize, BufferSize + 1, 2 * BufferSize, Buffers*BufferSize + 7, 13*BufferSize + 12345}

// TestCopyFiles copies real files of many sizes into real files, through
// FileWriter, and checks the content, the count and the digest.
func TestCopyFiles(t *testing.T) {
	dir := t.TempDir()
	all := random(sizes[len(sizes)-1])
	for _, size := range sizes {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := all[:size]
			srcPath := filepath.Join(dir, fmt.Sprintf("src-%d", size))
			if err := os.WriteFile(srcPath, data, 0o644); err != nil {
				t.Fatal(err)
			}
			src, err := os.Open(srcPath)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			dst, err := os.Create(filepath.Join(dir, fmt.Sprintf("dst-%d", size)))
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			before := runtime.NumGoroutine()
			h := sha256.New()
			n, err := Copy(context.Background(), NewFileWriter(dst), h, src)
			if err != nil {
				t.Fatal(err)
			}
			checkNoLeak(t, before)
			if n != int64(size) {
				t.Errorf("copied %d bytes, want %d", n, size)
			}
			if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
				t.Errorf("hash %x, want %x", h.Sum(nil), want)
			}
			got, err := os.ReadFile(dst.Name())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("destination differs from the source (%d bytes, want %d)", len(got), len(data))
			}
		})
	}
}

// TestCopyShortReads uses readers that return few bytes per Read (and EOF
// with the last bytes): pieces are still filled, and the result is the
// same as the serial copy's.
func TestCopyShortReads(t *testing.T) {
	data := random(3*BufferSize + 999)
	for name, mk := range map[string]func(io.Reader) io.Reader{
		"half":     iotest.HalfReader,
		"data-eof": iotest.DataErrReader,
		"odd":      func(r io.Reader) io.Reader { return &chunkReader{r: r, max: 4093} },
	} {
		t.Run(name, func(t *testing.T) {
			var got bytes.Buffer
			h := sha256.New()
			n, err := Copy(context.Background(), &got, h, mk(bytes.NewReader(data)))
			if err != nil || n != int64(len(data)) {
				t.Fatalf("Copy = %d, %v; want %d, nil", n, err, len(data))
			}
			want := sha256.Sum256(data)
			if !bytes.Equal(got.Bytes(), data) || !bytes.Equal(h.Sum(nil), want[:]) {
				t.Error("content or hash differs")
			}
		})
	}
}

// chunkReader returns at most max bytes per Read.
type chunkReader struct {
	r   io.Reader
	max int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(p) > c.max {
		p = p[:c.max]
	}
	return c.r.Read(p)
}

// failingReader returns data, then err instead of io.EOF.
func failingReader(data []byte, err error) io.Reader {
	return io.MultiReader(bytes.NewReader(data), iotest.ErrReader(err))
}

// TestCopyReadError: an error from the source other than io.EOF (here
// io.ErrUnexpectedEOF, and another) fails the copy after the bytes read
// before it are written, exactly as the serial copy does.
func TestCopyReadError(t *testing.T) {
	errDisk := errors.New("disk on fire")
	for _, size := range []int{0, 10, BufferSize, 5*BufferSize + 3} {
		for _, rerr := range []error{io.ErrUnexpectedEOF, errDisk} {
			t.Run(fmt.Sprint(size, rerr), func(t *testing.T) {
				data := random(size)
				before := runtime.NumGoroutine()
				var got, want bytes.Buffer
				n, err := Copy(context.Background(), &got, sha256.New(), failingReader(data, rerr))
				checkNoLeak(t, before)
				wn, werr := serialCopy(context.Background(), &want, sha256.New(), failingReader(data, rerr))
				if err != rerr || werr != rerr {
					t.Fatalf("Copy error %v (serial %v), want %v", err, werr, rerr)
				}
				if n != wn || n != int64(size) || !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Errorf("Copy wrote %d bytes, serial %d, want %d", n, wn, size)
				}
			})
		}
	}
}

// limitedWriter fails every write once it has written limit bytes (a
// write crossing the limit writes nothing), and counts the writes tried
// after the first failure.
type limitedWriter struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	limit     int
	failed    bool
	afterFail int
	errToGive error
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed {
		w.afterFail++
	}
	if w.buf.Len()+len(p) > w.limit {
		w.failed = true
		return 0, w.errToGive
	}
	return w.buf.Write(p)
}

// TestCopyWriteError: a failed write stops the copy with a *WriteError
// wrapping the writer's error; nothing is written after it, and the count
// is of the bytes written before it.
func TestCopyWriteError(t *testing.T) {
	errFull := errors.New("no space left")
	data := random(9*BufferSize + 17)
	for _, limit := range []int{0, BufferSize - 1, 3 * BufferSize, 8*BufferSize + 1} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			before := runtime.NumGoroutine()
			w := &limitedWriter{limit: limit, errToGive: errFull}
			src := bytes.NewReader(data)
			h := sha256.New()
			n, err := Copy(context.Background(), w, h, src)
			checkNoLeak(t, before)
			var we *WriteError
			if !errors.As(err, &we) || !errors.Is(err, errFull) || err.Error() != errFull.Error() {
				t.Fatalf("error %v (%T), want a *WriteError of %v", err, err, errFull)
			}
			sw := &limitedWriter{limit: limit, errToGive: errFull}
			sn, _ := serialCopy(context.Background(), sw, sha256.New(), bytes.NewReader(data))
			if n != sn || int(n) != w.buf.Len() || !bytes.Equal(w.buf.Bytes(), data[:n]) {
				t.Errorf("count %d (serial %d), written %d", n, sn, w.buf.Len())
			}
			if w.afterFail != 0 {
				t.Errorf("%d writes after the failed one", w.afterFail)
			}
			// Nothing was read past the piece whose write failed, and h
			// has consumed exactly what was read.
			read := len(data) - src.Len()
			if read != min(int(n)+BufferSize, len(data)) {
				t.Errorf("read %d bytes for %d written", read, n)
			}
			if want := sha256.Sum256(data[:read]); !bytes.Equal(h.Sum(nil), want[:]) {
				t.Errorf("hash is not of the %d bytes read", read)
			}
		})
	}
}

// TestCopyWriteErrorWinsOverReadError: when the piece read with a source
// error cannot be written, the write error is reported (as serially).
func TestCopyWriteErrorWinsOverReadError(t *testing.T) {
	data := random(2*BufferSize + 5)
	errFull := errors.New("no space left")
	w := &limitedWriter{limit: 2 * BufferSize, errToGive: errFull}
	_, err := Copy(context.Background(), w, sha256.New(), failingReader(data, io.ErrUnexpectedEOF))
	if !errors.Is(err, errFull) {
		t.Fatalf("error %v, want %v", err, errFull)
	}
}

// cancelReader cancels its context once it has returned at bytes.
type cancelReader struct {
	r      io.Reader
	at     int
	n      int
	cancel context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	if c.n >= c.at {
		c.cancel()
	}
	return n, err
}

// TestCopyCancel: a cancelled context stops the copy between pieces with
// the context's error, and no goroutine is left.
func TestCopyCancel(t *testing.T) {
	data := random(20 * BufferSize)
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var got bytes.Buffer
		n, err := Copy(ctx, &got, sha256.New(), bytes.NewReader(data))
		if !errors.Is(err, context.Canceled) || n != 0 || got.Len() != 0 {
			t.Fatalf("Copy = %d, %v; want 0, context.Canceled", n, err)
		}
	})
	for _, at := range []int{1, BufferSize, 3*BufferSize + 1, 10 * BufferSize} {
		t.Run(fmt.Sprint(at), func(t *testing.T) {
			before := runtime.NumGoroutine()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var got bytes.Buffer
			src := &cancelReader{r: bytes.NewReader(data), at: at, cancel: cancel}
			h := sha256.New()
			n, err := Copy(ctx, &got, h, src)
			checkNoLeak(t, before)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("error %v, want context.Canceled", err)
			}
			if n != int64(got.Len()) || !bytes.Equal(got.Bytes(), data[:n]) || n >= int64(len(data)) {
				t.Errorf("count %d, written %d of %d", n, got.Len(), len(data))
			}
			if src.n > at+BufferSize {
				t.Errorf("read %d bytes after cancelling at %d", src.n, at)
			}
			if want := sha256.Sum256(data[:src.n]); !bytes.Equal(h.Sum(nil), want[:]) {
				t.Errorf("hash is not of the %d bytes read", src.n)
			}
		})
	}
}

// blockingWriter blocks every write until release is closed.
type blockingWriter struct {
	started chan struct{}
	once    sync.Once
	release chan struct{}
	n       int
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	b.once.Do(func() { close(b.started) })
	<-b.release
	b.n += len(p)
	return len(p), nil
}

// TestCopyCancelWhileWriteBlocks: with the writer stuck, cancelling makes
// the reader stop; Copy returns once the stuck write comes back, never
// before (the writer is the caller's again when Copy returns).
func TestCopyCancelWhileWriteBlocks(t *testing.T) {
	before := runtime.NumGoroutine()
	data := random(20 * BufferSize)
	ctx, cancel := context.WithCancel(context.Background())
	w := &blockingWriter{started: make(chan struct{}), release: make(chan struct{})}
	src := bytes.NewReader(data)
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := Copy(ctx, w, sha256.New(), src)
		done <- result{n, err}
	}()
	<-w.started
	cancel()
	select {
	case r := <-done:
		t.Fatalf("Copy returned %v while a write was blocked", r)
	case <-time.After(50 * time.Millisecond):
	}
	close(w.release)
	r := <-done
	checkNoLeak(t, before)
	if !errors.Is(r.err, context.Canceled) || r.n != int64(w.n) {
		t.Fatalf("Copy = %d, %v; want %d, context.Canceled", r.n, r.err, w.n)
	}
	if read := len(data) - src.Len(); read > Buffers*BufferSize {
		t.Errorf("read %d bytes with the writer stuck: more than the ring", read)
	}
}

// TestCopyManyConcurrent runs copies at once (for the race detector).
func TestCopyManyConcurrent(t *testing.T) {
	data := random(6*BufferSize + 1)
	want := sha256.Sum256(data)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			var got bytes.Buffer
			h := sha256.New()
			if _, err := Copy(context.Background(), &got, h, bytes.NewReader(data)); err != nil {
				t.Error(err)
			}
			if !bytes.Equal(got.Bytes(), data) || !bytes.Equal(h.Sum(nil), want[:]) {
				t.Error("content or hash differs")
			}
		})
	}
	wg.Wait()
}

// TestFileWriter writes more than WriteBackInterval through a FileWriter,
// at an offset, and into a pipe (where write-back is not possible).
func TestFileWriter(t *testing.T) {
	data := random(2*WriteBackInterval + 3)
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("head")); err != nil {
		t.Fatal(err)
	}
	w := NewFileWriter(f)
	for p := data; len(p) > 0; p = p[min(len(p), 1<<20):] {
		if _, err := w.Write(p[:min(len(p), 1<<20)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" && w.synced != 4+2*WriteBackInterval {
		t.Errorf("write-back started up to %d, want %d", w.synced, 4+2*WriteBackInterval)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if string(got[:4]) != "head" || !bytes.Equal(got[4:], data) {
		t.Error("file content differs")
	}

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	go io.Copy(io.Discard, pr)
	pwr := NewFileWriter(pw)
	if _, err := pwr.Write(data); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if pwr.off != -1 {
		t.Errorf("write-back still tried on a pipe (offset %d)", pwr.off)
	}
}

// The benchmarks copy 64 MiB from a file into a new file in the test's
// temporary directory (not synced), and into io.Discard, serially and with
// Copy.
//
//	go test -run '^$' -bench . -benchtime 10x ./internal/hashcopy
func BenchmarkCopy(b *testing.B) {
	const size = 64 << 20
	dir := b.TempDir()
	srcPath := filepath.Join(dir, "src")
	if err := os.WriteFile(srcPath, random(size), 0o644); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, impl := range []struct {
		name string
		copy func(context.Context, io.Writer, hash.Hash, io.Reader) (int64, error)
	}{{"serial", serialCopy}, {"pipelined", Copy}} {
		for _, to := range []string{"file", "discard"} {
			b.Run(impl.name+"/"+to, func(b *testing.B) {
				b.SetBytes(size)
				for b.Loop() {
					src, err := os.Open(srcPath)
					if err != nil {
						b.Fatal(err)
					}
					var dst io.Writer = io.Discard
					var f *os.File
					if to == "file" {
						if f, err = os.Create(filepath.Join(dir, "dst")); err != nil {
							b.Fatal(err)
						}
						dst = f
					}
					if _, err := impl.copy(ctx, dst, sha256.New(), src); err != nil {
						b.Fatal(err)
					}
					src.Close()
					if f != nil {
						// Freeing its pages is not the copy's cost.
						b.StopTimer()
						f.Close()
						os.Remove(f.Name())
						b.StartTimer()
					}
				}
			})
		}
	}
}

// shortWriter takes at most max bytes of each Write and, breaking the
// io.Writer contract, reports no error for the rest (or, with bogus,
// claims more bytes than it was given).
type shortWriter struct {
	buf   bytes.Buffer
	after int // Writes are whole until after bytes are written
	max   int
	bogus bool
}

func (w *shortWriter) Write(p []byte) (int, error) {
	if w.buf.Len() < w.after {
		return w.buf.Write(p)
	}
	if w.bogus {
		return len(p) + 1, nil
	}
	n, _ := w.buf.Write(p[:min(len(p), w.max)])
	return n, nil
}

// TestCopyShortWrite: a writer that takes fewer bytes than given with no
// error fails the copy with io.ErrShortWrite (as io.Copy does), counting
// only what it took, so that no hashed byte is silently missing from dst;
// one that claims more than it was given fails too.
func TestCopyShortWrite(t *testing.T) {
	data := random(6*BufferSize + 5)
	for _, tc := range []struct {
		name  string
		after int
		size  int
	}{
		{"single piece", 0, 1000},
		{"first piece", 0, len(data)},
		{"mid-way", 3 * BufferSize, len(data)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			w := &shortWriter{after: tc.after, max: 100}
			n, err := Copy(context.Background(), w, sha256.New(), bytes.NewReader(data[:tc.size]))
			checkNoLeak(t, before)
			var we *WriteError
			if !errors.As(err, &we) || !errors.Is(err, io.ErrShortWrite) {
				t.Fatalf("error %v (%T), want a *WriteError of io.ErrShortWrite", err, err)
			}
			if n != int64(w.buf.Len()) || n != int64(tc.after+100) || !bytes.Equal(w.buf.Bytes(), data[:n]) {
				t.Errorf("count %d, written %d, want %d", n, w.buf.Len(), tc.after+100)
			}
		})
	}
	t.Run("bogus count", func(t *testing.T) {
		w := &shortWriter{after: BufferSize, bogus: true}
		n, err := Copy(context.Background(), w, sha256.New(), bytes.NewReader(data))
		var we *WriteError
		if !errors.As(err, &we) || err.Error() != errInvalidWrite.Error() || n != BufferSize {
			t.Fatalf("Copy = %d, %v; want %d, a *WriteError of %v", n, err, BufferSize, errInvalidWrite)
		}
	})
}
