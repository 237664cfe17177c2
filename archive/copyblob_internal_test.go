package archive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

// TestCopyBlob checks export's verified, pipelined blob copy against the
// checks of layout.VerifyReader it replaces, with real files.
func TestCopyBlob(t *testing.T) {
	const size = 3<<20 + 77
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{3}).Read(data)
	desc := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: size}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		testkit.WriteFile(t, p, b)
		return p
	}
	other := bytes.Clone(data)
	other[size/2] ^= 1
	errFull := errors.New("disk full")
	for _, c := range []struct {
		name    string
		content []byte
		w       func(io.Writer) io.Writer
		err     error
		msg     string
	}{
		{name: "intact", content: data},
		{name: "longer", content: append(bytes.Clone(data), 'x'), err: layout.ErrSizeMismatch, msg: "more than the"},
		{name: "shorter", content: data[:size-1], err: layout.ErrSizeMismatch, msg: "truncated at"},
		{name: "other", content: other, err: layout.ErrDigestMismatch, msg: "content hashes to"},
		{name: "write fails", content: data, w: func(w io.Writer) io.Writer { return &failAfter{w: w, n: 1 << 20, err: errFull} }, err: errFull},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := os.Open(write(c.name, c.content))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			out, err := os.Create(filepath.Join(dir, c.name+".out"))
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			var w io.Writer = out
			if c.w != nil {
				w = c.w(out)
			}
			err = copyBlob(context.Background(), w, f, desc)
			if c.err == nil {
				if err != nil {
					t.Fatal(err)
				}
				got, _ := os.ReadFile(out.Name())
				if !bytes.Equal(got, data) {
					t.Fatal("copy differs")
				}
				return
			}
			if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v, want %v (%q)", err, c.err, c.msg)
			}
			if fi, _ := out.Stat(); fi.Size() > size {
				t.Errorf("%d bytes written, more than the blob's %d", fi.Size(), size)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := copyBlob(ctx, io.Discard, bytes.NewReader(data), desc); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

// failAfter fails the writes past n bytes.
type failAfter struct {
	w   io.Writer
	n   int
	err error
}

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n < len(p) {
		return 0, f.err
	}
	f.n -= len(p)
	return f.w.Write(p)
}
