package layout_test

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/ocipack/ocipack/layout"
)

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseReference(t *testing.T) {
	tag128 := "a" + strings.Repeat("b", 127)
	tag129 := tag128 + "c"
	tests := []struct {
		in      string
		want    layout.Reference
		wantErr error // nil: must succeed
	}{
		{in: "path", want: layout.Reference{Path: "path"}},
		{in: "path:tag", want: layout.Reference{Path: "path", Tag: "tag"}},
		{in: "./a/b:v1.2", want: layout.Reference{Path: "./a/b", Tag: "v1.2"}},
		{in: "/abs/dir:latest", want: layout.Reference{Path: "/abs/dir", Tag: "latest"}},
		{in: "path@sha256:" + hex64, want: layout.Reference{Path: "path", Digest: digest.Digest("sha256:" + hex64)}},
		{in: "a:b@sha256:" + hex64, want: layout.Reference{Path: "a:b", Digest: digest.Digest("sha256:" + hex64)}},
		// The part after ':' is no tag: the whole string is the path.
		{in: "dir:with/slash", want: layout.Reference{Path: "dir:with/slash"}},
		{in: `C:\x`, want: layout.Reference{Path: `C:\x`}},
		{in: `C:\x\y:v1`, want: layout.Reference{Path: `C:\x\y`, Tag: "v1"}},
		{in: "path:", want: layout.Reference{Path: "path:"}},
		{in: ":tag", want: layout.Reference{Path: ":tag"}},
		// Tag grammar edges.
		{in: "pp:" + tag128, want: layout.Reference{Path: "pp", Tag: tag128}},
		{in: "pp:" + tag129, want: layout.Reference{Path: "pp:" + tag129}},
		{in: "pp:.hidden", want: layout.Reference{Path: "pp:.hidden"}},
		{in: "pp:-dash", want: layout.Reference{Path: "pp:-dash"}},
		{in: "pp:_under", want: layout.Reference{Path: "pp", Tag: "_under"}},
		{in: "pp:A.b-c_9", want: layout.Reference{Path: "pp", Tag: "A.b-c_9"}},
		{in: "pp:a+b", want: layout.Reference{Path: "pp:a+b"}},
		// Bad digests and empty input.
		{in: "path@sha256:abc", wantErr: layout.ErrInvalidReference},
		{in: "path@sha256:" + strings.ToUpper(hex64), wantErr: layout.ErrInvalidReference},
		{in: "path@sha256:" + hex64 + "0", wantErr: layout.ErrInvalidReference},
		{in: "path@md5:" + hex64[:32], wantErr: layout.ErrInvalidReference},
		{in: "@sha256:" + hex64, wantErr: layout.ErrInvalidReference},
		{in: "", wantErr: layout.ErrInvalidReference},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := layout.ParseReference(tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ParseReference(%q) = %+v, %v; want error %v", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseReference(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("ParseReference(%q) = %#v, want %#v", tc.in, got, tc.want)
			}
			// String gives back what parses to the same reference.
			again, err := layout.ParseReference(got.String())
			if err != nil || again != got {
				t.Fatalf("ParseReference(%q.String()=%q) = %+v, %v; want %+v", tc.in, got.String(), again, err, got)
			}
		})
	}
}

// TestParseReferenceDriveLetter: "C:dir" is a drive-relative path on
// Windows only; elsewhere a one-letter directory takes a tag like any other.
func TestParseReferenceDriveLetter(t *testing.T) {
	for _, in := range []string{"C:dir", "b:v1"} {
		got, err := layout.ParseReference(in)
		if err != nil {
			t.Fatalf("ParseReference(%q): %v", in, err)
		}
		want := layout.Reference{Path: in[:1], Tag: in[2:]}
		if runtime.GOOS == "windows" {
			want = layout.Reference{Path: in}
		}
		if got != want {
			t.Errorf("ParseReference(%q) = %#v, want %#v", in, got, want)
		}
	}
}

func TestReferenceRef(t *testing.T) {
	d := digest.Digest("sha256:" + hex64)
	for _, tc := range []struct {
		r    layout.Reference
		want string
	}{
		{layout.Reference{Path: "pp"}, ""},
		{layout.Reference{Path: "pp", Tag: "v1"}, "v1"},
		{layout.Reference{Path: "pp", Digest: d}, d.String()},
	} {
		if got := tc.r.Ref(); got != tc.want {
			t.Errorf("%+v.Ref() = %q, want %q", tc.r, got, tc.want)
		}
	}
}

func TestValidTag(t *testing.T) {
	tag128 := "a" + strings.Repeat("b", 127)
	for _, tc := range []struct {
		tag  string
		want bool
	}{
		{"v1", true},
		{"1.0.0-rc.1", true},
		{"_x", true},
		{"X", true},
		{tag128, true},
		{tag128 + "c", false},
		{"", false},
		{".x", false},
		{"-x", false},
		{"a/b", false},
		{"a:b", false},
		{"a@b", false},
		{"a b", false},
		{"é", false},
	} {
		if got := layout.ValidTag(tc.tag); got != tc.want {
			t.Errorf("ValidTag(%q) = %v, want %v", tc.tag, got, tc.want)
		}
	}
}
