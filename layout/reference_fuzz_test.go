package layout_test

import (
	"strings"
	"testing"

	"github.com/ocipack/ocipack/layout"
)

// FuzzParseReference checks ParseReference on any string: it never panics,
// a tag it returns is valid, a digest it returns is valid, the path is never
// empty, and String() of the result parses back to the same Reference.
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{
		"",
		"bundle",
		"./bundle:v1.2.0",
		"bundle:latest",
		"/abs/path/bundle:1.0_rc-1",
		"bundle@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"dir@x/bundle@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"bundle@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0",  // short
		"bundle@sha256:9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08", // upper case
		"bundle@sha512:" + strings.Repeat("ab", 64),
		"bundle@md5:d41d8cd98f00b204e9800998ecf8427e",
		"@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		":v1",
		"a:",
		"a::b",
		"C:\\dir",
		"C:dir",
		"dir:with/slash",
		"host:5000/repo:tag",
		"a@b",
		"a@b:c",
		"user@host:path:v1",
		"x:" + strings.Repeat("a", 128),
		"x:" + strings.Repeat("a", 129),
		"x:.hidden",
		"x:-dash",
		"x:_under",
		"x:v1\n",
		"x:\xff",
		"\x00:v1",
		"./bundle:docker.io/library/nginx:1.27",
		"bundle:localhost:5000/a/b:v1",
		"bundle:registry.example/app@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"bundle:registry.example/app:v1@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"C:\\bundle:docker.io/library/nginx:1.27",
		"a:b:docker.io/library/nginx:1.27",
		"bundle:nginx:1.27",
		".:0:0", // REPO:TAG, as serve --writable names an entry
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := layout.ParseReference(s)
		if err != nil {
			if s != "" && ref != (layout.Reference{}) {
				t.Errorf("ParseReference(%q) failed (%v) but returned %+v", s, err, ref)
			}
			return
		}
		if ref.Path == "" {
			t.Fatalf("ParseReference(%q) = %+v: empty path", s, ref)
		}
		if ref.Tag != "" && ref.Digest != "" {
			t.Fatalf("ParseReference(%q) = %+v: both a tag and a digest", s, ref)
		}
		// A name is a tag, a full name (docker.io/library/nginx:1.27) or,
		// for what a push to `serve --writable` stored, REPO:TAG.
		if ref.Tag != "" && !layout.ValidName(ref.Tag) && !layout.IsRepoName(ref.Tag) {
			t.Fatalf("ParseReference(%q) = %+v: invalid tag", s, ref)
		}
		if ref.Digest != "" {
			if err := ref.Digest.Validate(); err != nil {
				t.Fatalf("ParseReference(%q) = %+v: invalid digest: %v", s, ref, err)
			}
		}
		// Not every spelling is the canonical one (String), but the
		// canonical one must read back the same.
		again, err := layout.ParseReference(ref.String())
		if err != nil {
			t.Fatalf("ParseReference(%q) = %+v, whose String() %q does not parse: %v", s, ref, ref.String(), err)
		}
		if again != ref {
			t.Fatalf("ParseReference(%q) = %+v, but its String() %q parses as %+v", s, ref, ref.String(), again)
		}
		if r := ref.Ref(); r != ref.Tag && r != ref.Digest.String() {
			t.Fatalf("Ref() = %q for %+v", r, ref)
		}
	})
}
