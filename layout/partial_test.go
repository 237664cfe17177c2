package layout_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

func partialBlob(n int) ([]byte, ocispec.Descriptor) {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{'p'}).Read(b)
	return b, ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(b), Size: int64(n)}
}

// openWriter opens a Writer on d in l, failing the test if it cannot.
func openWriter(t *testing.T, l *layout.Layout, d ocispec.Descriptor) *layout.Writer {
	t.Helper()
	w, err := l.OpenWriter(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func assertStored(t *testing.T, ctx context.Context, l *layout.Layout, want []byte, d ocispec.Descriptor) {
	t.Helper()
	if got := testkit.FetchBytes(t, l, d); !bytes.Equal(got, want) {
		t.Fatalf("stored blob differs from what was downloaded")
	}
	if entries, _ := os.ReadDir(l.TempDir()); len(entries) != 0 {
		t.Errorf("temporary area after commit: %v", entries)
	}
}

// A partial download kept by Close continues where it stopped, after its
// bytes are hashed again; Commit stores the blob.
func TestPartialResume(t *testing.T) {
	ctx := t.Context()
	l := testkit.NewLayout(t)
	data, d := partialBlob(3<<20 + 17)
	p := openWriter(t, l, d)
	if _, err := p.Write(data[:1<<20]); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = openWriter(t, l, d)
	if p.Offset() != 1<<20 {
		t.Fatalf("reopened at %d, want %d", p.Offset(), 1<<20)
	}
	if _, err := p.Write(data[p.Offset():]); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write([]byte{0}); !errors.Is(err, layout.ErrSizeMismatch) {
		t.Errorf("a byte past the blob's size: %v, want ErrSizeMismatch", err)
	}
	if err := p.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	assertStored(t, ctx, l, data, d)
	if _, err := l.OpenWriter(ctx, d); !errors.Is(err, layout.ErrAlreadyExists) {
		t.Errorf("OpenWriter of a stored blob: %v, want ErrAlreadyExists", err)
	}
}

// Bytes on disk are not trusted: a byte damaged while the download was
// stopped makes Commit fail with ErrDigestMismatch, which discards the
// partial download, and the next try starts over.
func TestPartialDamaged(t *testing.T) {
	ctx := t.Context()
	l := testkit.NewLayout(t)
	data, d := partialBlob(1 << 20)
	p := openWriter(t, l, d)
	p.Write(data[:1000])
	p.Close()
	path := filepath.Join(l.TempDir(), "partial-sha256-"+d.Digest.Encoded())
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{data[500] ^ 1}, 500)
	f.Close()
	p = openWriter(t, l, d)
	p.Write(data[p.Offset():])
	if err := p.Commit(ctx); !errors.Is(err, layout.ErrDigestMismatch) || !bytes.Contains([]byte(err.Error()), []byte(d.Digest.String())) {
		t.Fatalf("commit of damaged bytes: %v, want ErrDigestMismatch naming %s", err, d.Digest)
	}
	if ok, _ := l.Exists(ctx, d); ok {
		t.Fatal("a blob that does not match its digest was stored")
	}
	p = openWriter(t, l, d)
	if p.Offset() != 0 {
		t.Fatalf("after a mismatch the download continues at %d, want 0", p.Offset())
	}
	p.Write(data)
	if err := p.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	assertStored(t, ctx, l, data, d)
}

// One download of a blob at a time: a second OpenWriter is refused.
func TestPartialBusy(t *testing.T) {
	ctx := t.Context()
	l := testkit.NewLayout(t)
	_, d := partialBlob(4096)
	p := openWriter(t, l, d)
	l2 := testkit.OpenLayout(t, l.Path())
	if _, err := l2.OpenWriter(ctx, d); !errors.Is(err, layout.ErrWriterBusy) {
		t.Errorf("second OpenWriter: %v, want ErrWriterBusy", err)
	}
	p.Close()
	p2, err := l2.OpenWriter(ctx, d)
	if err != nil {
		t.Fatalf("OpenWriter after Close: %v", err)
	}
	p2.Close()
}

// Segments written in any order are joined in order, hashed, and stored;
// a Commit with a gap before a segment is refused (and keeps the bytes), and a file with a segment
// name that is not one of ours is ignored and removed.
func TestPartialSegments(t *testing.T) {
	ctx := t.Context()
	l := testkit.NewLayout(t)
	data, d := partialBlob(10 << 20)
	p := openWriter(t, l, d)
	starts := []int64{7 << 20, 3 << 20}
	for i, s := range starts {
		end := int64(len(data))
		if i == 1 {
			end = 7 << 20
		}
		f, err := p.OpenSegment(s)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(data[s:end])
		f.Close()
	}
	os.WriteFile(filepath.Join(l.TempDir(), "partial-sha256-"+d.Digest.Encoded()+".at-zzz"), []byte("x"), 0o600)
	segs, err := p.Segments()
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 2 || segs[0].Start != 3<<20 || segs[1].Start != 7<<20 || segs[0].Len != 4<<20 {
		t.Fatalf("segments %+v", segs)
	}
	if _, err := p.OpenSegment(int64(len(data))); err == nil {
		t.Error("a segment at the blob's end was opened")
	}
	if err := p.Commit(ctx); !errors.Is(err, layout.ErrSizeMismatch) {
		t.Errorf("commit with bytes 0-3M missing: %v, want ErrSizeMismatch", err)
	}
	p.Write(data[:3<<20])
	if err := p.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	assertStored(t, ctx, l, data, d)
}

// Sections splits what a Writer lacks into ranges that are filled at the
// same time; a writer reopened after some of them were cut short lists
// only the rest, and Commit joins them into the blob.
func TestWriterSections(t *testing.T) {
	ctx := t.Context()
	l := testkit.NewLayout(t)
	data, d := partialBlob(10 << 20)
	w := openWriter(t, l, d)
	secs, err := w.Sections(4, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(secs) != 4 || secs[0].Start != 0 || secs[3].End != int64(len(data)) {
		t.Fatalf("sections %+v, want 4 covering the blob", secs)
	}
	for i, s := range secs {
		if i > 0 && s.Start != secs[i-1].End {
			t.Fatalf("section %d starts at %d, the one before ends at %d", i, s.Start, secs[i-1].End)
		}
		half := s.Start + (s.End-s.Start)/2 // each cut half way
		if _, err := s.ReadFrom(bytes.NewReader(data[s.Start:half])); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	w = openWriter(t, l, d)
	defer w.Close()
	rest, err := w.Sections(4, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 4 || w.Offset() != rest[0].Start {
		t.Fatalf("after a cut: sections %+v, offset %d", rest, w.Offset())
	}
	var wg sync.WaitGroup
	for i, s := range rest {
		if want := secs[i].Start + (secs[i].End-secs[i].Start)/2; s.Start != want || s.End != secs[i].End {
			t.Errorf("section %d after a cut: %d-%d, want %d-%d", i, s.Start, s.End, want, secs[i].End)
		}
		wg.Go(func() {
			if _, err := s.ReadFrom(bytes.NewReader(data[s.Start:s.End])); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	w.Close()
	assertStored(t, ctx, l, data, d)
}
