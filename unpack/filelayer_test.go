package unpack_test

// Regular-file layers are hashed and written concurrently (hashcopy). These
// tests serve blobs that lie about themselves from a target whose Fetch
// does not check sizes (as a registry or an archive might), and check that
// each lie is caught and named as VerifyReader names it, that a
// verification failure wins over the failure it caused, and that multi-MiB
// content arrives intact.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/unpack"
)

// lyingTarget is a layout whose Fetch of one blob returns other content.
type lyingTarget struct {
	*layout.Layout
	blob    digest.Digest
	content func() io.Reader
}

func (t *lyingTarget) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	if d.Digest == t.blob {
		return io.NopCloser(t.content()), nil
	}
	return t.Layout.Fetch(ctx, d)
}

var _ oras.ReadOnlyTarget = (*lyingTarget)(nil)

func TestFileLayerVerification(t *testing.T) {
	const size = 5<<20 + 123 // several hashcopy pieces
	data := testkit.RandomBytes(7, size)
	other := bytes.Clone(data)
	other[size-1] ^= 1
	errDisk := errors.New("disk gone")
	for _, c := range []struct {
		name    string
		content func() io.Reader
		opts    unpack.Options
		err     error
		msg     string
	}{
		{name: "intact", content: func() io.Reader { return bytes.NewReader(data) }},
		{name: "longer", content: func() io.Reader { return io.MultiReader(bytes.NewReader(data), strings.NewReader("x")) },
			err: layout.ErrSizeMismatch, msg: "more than the"},
		{name: "shorter", content: func() io.Reader { return bytes.NewReader(data[:size-1]) },
			err: layout.ErrSizeMismatch, msg: "truncated at"},
		{name: "other content", content: func() io.Reader { return bytes.NewReader(other) },
			err: layout.ErrDigestMismatch, msg: "content hashes to"},
		{name: "read error", content: func() io.Reader { return io.MultiReader(bytes.NewReader(data[:3<<20]), iotest.ErrReader(errDisk)) },
			err: errDisk},
		{name: "unexpected EOF", content: func() io.Reader {
			return io.MultiReader(bytes.NewReader(data[:3<<20]), iotest.ErrReader(io.ErrUnexpectedEOF))
		}, err: io.ErrUnexpectedEOF},
		// The directory layer before takes 1 MiB of the budget, so the
		// file runs out of it while it is written.
		{name: "over MaxSize", content: func() io.Reader { return bytes.NewReader(data) },
			opts: unpack.Options{MaxSize: size + 512<<10}, err: unpack.ErrTooLarge, msg: "MaxSize"},
		// The budget runs out first, but the blob is bad: that is what
		// is reported (the rest of the blob is read to find out).
		{name: "over MaxSize and bad", content: func() io.Reader { return bytes.NewReader(other) },
			opts: unpack.Options{MaxSize: size + 512<<10}, err: layout.ErrDigestMismatch, msg: "content hashes to"},
		{name: "over MaxSize and longer", content: func() io.Reader {
			return io.MultiReader(bytes.NewReader(data), strings.NewReader("xyz"))
		}, opts: unpack.Options{MaxSize: size + 512<<10}, err: layout.ErrSizeMismatch, msg: "more than the"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := testkit.NewLayout(t)
			fl := ingest(t, l, mtFile, data)
			fl.Annotations = map[string]string{ocispec.AnnotationTitle: "big.bin"}
			zeros := strings.Repeat("\x00", 1<<20)
			pushManifest(t, l, fileLayer(t, l, "a.txt", "a", ""),
				dirLayer(t, l, "d", mtTarGzip, "gzip", makeTar(t, fileE("d/zeros", zeros, 0))), fl)
			target := &lyingTarget{Layout: l, blob: fl.Digest, content: c.content}
			parent := tempDir(t)
			dest := filepath.Join(parent, "out")
			before := testkit.Snapshot(t, parent)
			opts := c.opts
			var last, total int64
			opts.Progress = func(d, t int64) { last, total = d, t }
			_, err := unpack.Unpack(context.Background(), target, "v1", dest, opts)
			if c.err == nil {
				if err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(filepath.Join(dest, "big.bin"))
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("big.bin differs (%d bytes, %v)", len(got), err)
				}
				if last != total {
					t.Errorf("progress ended at %d of %d", last, total)
				}
				return
			}
			if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), `"big.bin"`) {
				t.Fatalf("err = %v, want %v (%q) naming the layer", err, c.err, c.msg)
			}
			testkit.Unchanged(t, before, parent)
		})
	}
}

// TestFileLayerCancel cancels while a large file layer is copied.
func TestFileLayerCancel(t *testing.T) {
	data := testkit.RandomBytes(7, 8<<20)
	l := testkit.NewLayout(t)
	fl := ingest(t, l, mtFile, data)
	fl.Annotations = map[string]string{ocispec.AnnotationTitle: "big.bin"}
	pushManifest(t, l, fl)
	parent := tempDir(t)
	before := testkit.Snapshot(t, parent)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := unpack.Unpack(ctx, l, "v1", filepath.Join(parent, "out"), unpack.Options{Progress: func(done, total int64) {
		if done > 2<<20 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	testkit.Unchanged(t, before, parent)
}
