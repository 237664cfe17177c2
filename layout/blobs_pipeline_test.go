package layout_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/hashcopy"
	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

// pipelineContent is several hashcopy pieces long, so that Push and Ingest
// hash and write it on two goroutines.
func pipelineContent() []byte {
	b := make([]byte, 5*hashcopy.BufferSize+3)
	var seed [32]byte
	copy(seed[:], "layout pipeline")
	rand.NewChaCha8(seed).Read(b)
	return b
}

// failAfter returns data[:at], then err.
func failAfter(data []byte, at int, err error) io.Reader {
	return io.MultiReader(bytes.NewReader(data[:at]), &errReader{err})
}

type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }

// cancelAfter cancels its context once it has returned at bytes.
type cancelAfter struct {
	r      io.Reader
	at, n  int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n += n; c.n >= c.at {
		c.cancel()
	}
	return n, err
}

// TestPushPipelinedRefused: content long enough to be hashed while it is
// written is still verified before it becomes visible. A digest mismatch
// found only at the end, a source failing mid-way, and a context cancelled
// mid-way each leave no blob and no temporary file.
func TestPushPipelinedRefused(t *testing.T) {
	content := pipelineContent()
	good := ocispec.Descriptor{MediaType: "x/y", Digest: sha(content), Size: int64(len(content))}
	flipped := bytes.Clone(content)
	flipped[len(flipped)-2] ^= 1 // in the last piece
	errDisk := errors.New("disk on fire")

	for _, tc := range []struct {
		name string
		r    func(cancel context.CancelFunc) io.Reader
		want error
	}{
		{"digest mismatch in the last piece", func(context.CancelFunc) io.Reader { return bytes.NewReader(flipped) }, layout.ErrDigestMismatch},
		{"source fails mid-way", func(context.CancelFunc) io.Reader {
			return failAfter(content, 3*hashcopy.BufferSize+7, errDisk)
		}, errDisk},
		{"source ends early", func(context.CancelFunc) io.Reader {
			return failAfter(content, 3*hashcopy.BufferSize, io.EOF)
		}, layout.ErrSizeMismatch},
		{"cancelled mid-way", func(cancel context.CancelFunc) io.Reader {
			return &cancelAfter{r: bytes.NewReader(content), at: 2 * hashcopy.BufferSize, cancel: cancel}
		}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			l := testkit.NewLayout(t)
			err := l.Push(ctx, good, tc.r(cancel))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Push: %v, want %v", err, tc.want)
			}
			if b := testkit.BlobFiles(t, l.Path()); len(b) != 0 {
				t.Errorf("blobs stored after a refused Push: %v", b)
			}
			if tmp := testkit.TmpFiles(t, l.Path()); len(tmp) != 0 {
				t.Errorf("temporary files left: %v", tmp)
			}
			if ok, _ := l.Exists(context.Background(), good); ok {
				t.Errorf("Exists after a refused Push")
			}
		})
	}

	t.Run("then the right content is stored", func(t *testing.T) {
		l := testkit.NewLayout(t)
		if err := l.Push(context.Background(), good, bytes.NewReader(flipped)); !errors.Is(err, layout.ErrDigestMismatch) {
			t.Fatalf("Push of flipped content: %v, want ErrDigestMismatch", err)
		}
		if err := l.Push(context.Background(), good, bytes.NewReader(content)); err != nil {
			t.Fatal(err)
		}
		if got := testkit.FetchBytes(t, l, good); !bytes.Equal(got, content) {
			t.Errorf("stored content differs (%d bytes, want %d)", len(got), len(content))
		}
	})
}

// TestIngestPipelinedReadError: Ingest of a source failing mid-way stores
// nothing and leaves no temporary file.
func TestIngestPipelinedReadError(t *testing.T) {
	content := pipelineContent()
	errDisk := errors.New("disk on fire")
	l := testkit.NewLayout(t)
	if _, err := l.Ingest(context.Background(), "x/y", failAfter(content, 4*hashcopy.BufferSize+1, errDisk)); !errors.Is(err, errDisk) {
		t.Fatalf("Ingest: %v, want %v", err, errDisk)
	}
	if b := testkit.BlobFiles(t, l.Path()); len(b) != 0 {
		t.Errorf("blobs stored: %v", b)
	}
	if tmp := testkit.TmpFiles(t, l.Path()); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}
