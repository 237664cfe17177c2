package pack_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
)

// Helpers of pack.go's tests. Their names start with "pt" so as not to
// clash with the other test files of package pack_test.

// ptEpoch is the SourceDateEpoch of these tests.
var ptEpoch = time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC) // 1700000000

// ptWrite writes body to root/rel with mode perm (set with Chmod, whatever
// the umask), creating parents.
func ptWrite(t testing.TB, root, rel, body string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		t.Fatal(err)
	}
	return p
}

// ptTree builds the tree most tests pack, under parent/name:
//
//	run.sh             0755
//	data.txt           0644
//	a/b/c/deep.txt     0600
//	a/b/sibling.txt
//	a-b.txt            (sorts between "a" and "a/..." bytewise)
//	empty/             an empty directory
//	link -> a/b/c/deep.txt
//	dirlink -> a/b
//	hard1, a/hard2     two names of one file
func ptTree(t testing.TB, parent, name string) string {
	t.Helper()
	root := filepath.Join(parent, name)
	ptWrite(t, root, "run.sh", "#!/bin/sh\necho hi\n", 0o755)
	ptWrite(t, root, "data.txt", "some data\n", 0o644)
	ptWrite(t, root, "a/b/c/deep.txt", "deep\n", 0o600)
	ptWrite(t, root, "a/b/sibling.txt", "sibling\n", 0o644)
	ptWrite(t, root, "a-b.txt", "dash\n", 0o644)
	if err := os.Mkdir(filepath.Join(root, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a/b/c/deep.txt", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a/b", filepath.Join(root, "dirlink")); err != nil {
		t.Fatal(err)
	}
	ptWrite(t, root, "hard1", "linked twice\n", 0o644)
	if err := os.Link(filepath.Join(root, "hard1"), filepath.Join(root, "a", "hard2")); err != nil {
		t.Fatal(err)
	}
	// Directory modes, whatever the umask.
	for _, d := range []string{"", "a", "a/b", "a/b/c", "empty"} {
		if err := os.Chmod(filepath.Join(root, filepath.FromSlash(d)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// ptBlob reads a blob, verified.
func ptBlob(t testing.TB, l *layout.Layout, d ocispec.Descriptor) []byte {
	t.Helper()
	b, err := layout.ReadBlob(context.Background(), l, d, 1<<30)
	if err != nil {
		t.Fatalf("blob %s: %v", d.Digest, err)
	}
	return b
}

// ptDecompress returns a directory layer's tar, decompressed according to
// its media type.
func ptDecompress(t testing.TB, mediaType string, b []byte) []byte {
	t.Helper()
	switch mediaType {
	case pack.MediaTypeTarGzip:
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return out
	case pack.MediaTypeTarZstd:
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		out, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return out
	case pack.MediaTypeTar:
		return b
	}
	t.Fatalf("not a directory media type: %s", mediaType)
	return nil
}

// ptTarHeaders lists the headers of a tar.
func ptTarHeaders(t testing.TB, b []byte) []*tar.Header {
	t.Helper()
	var out []*tar.Header
	for _, e := range testkit.TarEntries(t, bytes.NewReader(b)) {
		out = append(out, e.Header)
	}
	return out
}
