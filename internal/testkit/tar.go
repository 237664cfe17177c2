package testkit

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
)

// TarSpan is where one entry of an uncompressed tar lies, and what it
// holds.
type TarSpan struct {
	// Name and Typeflag are the entry's header fields.
	Name     string
	Typeflag byte
	// Header and Data are the offsets of the entry's (last) header block
	// and of its content.
	Header, Data int64
	// Size is the content's size, as the header says.
	Size int64
	// Body is the content.
	Body []byte
}

// TarEntry is one entry of a tar: its header and its content.
type TarEntry struct {
	Header *tar.Header
	Body   []byte
}

// TarEntries reads the whole tar stream r (uncompressed: wrap a gzip or
// zstd reader around it first), failing the test if it is not a valid tar.
func TarEntries(t testing.TB, r io.Reader) []TarEntry {
	t.Helper()
	var out []TarEntry
	walkTar(t, r, func(h *tar.Header, body []byte) {
		out = append(out, TarEntry{Header: h, Body: body})
	})
	return out
}

// walkTar calls fn for every entry of the tar r, with its content.
func walkTar(t testing.TB, r io.Reader, fn func(*tar.Header, []byte)) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read tar entry %s: %v", h.Name, err)
		}
		fn(h, body)
	}
}

// TarSpans lists the entries of the uncompressed tar b, failing the test
// if b is not a valid tar.
func TarSpans(t testing.TB, b []byte) []TarSpan {
	t.Helper()
	r := bytes.NewReader(b)
	var out []TarSpan
	walkTar(t, r, func(h *tar.Header, body []byte) {
		// The body has been read: the reader stands at its end, rounded
		// up to a block by the next Next only.
		data := int64(len(b)) - int64(r.Len()) - int64(len(body))
		out = append(out, TarSpan{Name: h.Name, Typeflag: h.Typeflag, Header: data - 512, Data: data, Size: h.Size, Body: body})
	})
	return out
}
