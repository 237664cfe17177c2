package layout_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/layout"
)

func TestVerifyReader(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 1000) // 16000 bytes
	desc := ocispec.Descriptor{Digest: sha(content), Size: int64(len(content))}
	flipped := bytes.Clone(content)
	flipped[7777] ^= 0x20

	// Readers that deliver the content in different ways.
	wraps := map[string]func(io.Reader) io.Reader{
		"plain":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data+EOF": iotest.DataErrReader,
	}
	cases := []struct {
		name    string
		content []byte
		want    error // io.EOF for success
	}{
		{"exact", content, io.EOF},
		{"truncated", content[:len(content)-1], layout.ErrSizeMismatch},
		{"empty", nil, layout.ErrSizeMismatch},
		{"extra byte", append(bytes.Clone(content), 'x'), layout.ErrSizeMismatch},
		{"much longer", bytes.Repeat(content, 3), layout.ErrSizeMismatch},
		{"flipped byte", flipped, layout.ErrDigestMismatch},
	}
	for _, tc := range cases {
		for wname, wrap := range wraps {
			t.Run(tc.name+"/"+wname, func(t *testing.T) {
				v := layout.NewVerifyReader(wrap(bytes.NewReader(tc.content)), desc)
				got, err := readAllKeepErr(v, 4096)
				if tc.want == io.EOF {
					if err != io.EOF {
						t.Fatalf("err = %v, want io.EOF", err)
					}
					if !bytes.Equal(got, content) {
						t.Fatalf("read %d bytes, not the content", len(got))
					}
				} else if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				if int64(len(got)) > desc.Size {
					t.Errorf("returned %d bytes, more than the %d expected", len(got), desc.Size)
				}
				// The error sticks.
				if n, err2 := v.Read(make([]byte, 10)); n != 0 || err2 != err {
					t.Errorf("Read after the end = %d, %v; want 0, %v", n, err2, err)
				}
			})
		}
	}
}

// readAllKeepErr reads r to its first error and returns it as is (io.ReadAll
// hides io.EOF).
func readAllKeepErr(r io.Reader, bufSize int) ([]byte, error) {
	var out []byte
	buf := make([]byte, bufSize)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, err
		}
	}
}

func TestVerifyReaderEmptyBlob(t *testing.T) {
	desc := ocispec.Descriptor{Digest: sha(nil), Size: 0}
	if _, err := readAllKeepErr(layout.NewVerifyReader(strings.NewReader(""), desc), 10); err != io.EOF {
		t.Errorf("empty blob: %v, want io.EOF", err)
	}
	if _, err := readAllKeepErr(layout.NewVerifyReader(strings.NewReader("x"), desc), 10); !errors.Is(err, layout.ErrSizeMismatch) {
		t.Errorf("empty blob with a byte: %v, want ErrSizeMismatch", err)
	}
}

func TestVerifyReaderBadDescriptor(t *testing.T) {
	for name, desc := range map[string]ocispec.Descriptor{
		"invalid digest": {Digest: "sha256:xyz", Size: 1},
		"negative size":  {Digest: sha([]byte("x")), Size: -1},
	} {
		t.Run(name, func(t *testing.T) {
			v := layout.NewVerifyReader(strings.NewReader("x"), desc)
			n, err := v.Read(make([]byte, 10))
			if err == nil || err == io.EOF || n != 0 {
				t.Fatalf("Read = %d, %v; want 0 and an error", n, err)
			}
		})
	}
}
