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

// TarSpans lists the entries of the uncompressed tar b, failing the test
// if b is not a valid tar.
func TarSpans(t testing.TB, b []byte) []TarSpan {
	t.Helper()
	r := bytes.NewReader(b)
	tr := tar.NewReader(r)
	var out []TarSpan
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		pos := int64(len(b)) - int64(r.Len())
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, TarSpan{Name: h.Name, Typeflag: h.Typeflag, Header: pos - 512, Data: pos, Size: h.Size, Body: body})
	}
}
