package layout

import (
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strings"

	"github.com/opencontainers/go-digest"
)

// tagPattern is the OCI distribution-spec tag grammar.
var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// ValidTag reports whether s is a valid tag: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}.
func ValidTag(s string) bool { return tagPattern.MatchString(s) }

// Reference names a layout directory and, optionally, one entry in it.
//
// It is written PATH, PATH:TAG, PATH:NAME or PATH@sha256:HEX, as `oras
// --oci-layout` reads it, where NAME is an entry's full name (see
// IsFullName): ./bundle:docker.io/library/nginx:1.27.
type Reference struct {
	// Path is the layout directory.
	Path string
	// Tag is the entry's name, if one was given: a plain tag ("v1") or a
	// full name ("docker.io/library/nginx:1.27", see ValidName).
	Tag string
	// Digest is the manifest digest, if one was given.
	Digest digest.Digest
}

// Ref returns the tag or the digest as a string, "" when neither was given.
func (r Reference) Ref() string {
	if r.Digest != "" {
		return r.Digest.String()
	}
	return r.Tag
}

// String returns the reference in the form ParseReference reads.
func (r Reference) String() string {
	switch {
	case r.Digest != "":
		return r.Path + "@" + r.Digest.String()
	case r.Tag != "":
		return r.Path + ":" + r.Tag
	}
	return r.Path
}

// ParseReference parses PATH, PATH:TAG, PATH:NAME or PATH@ALG:HEX.
//
// A tag is whatever follows the last ':' when it is a valid tag and the part
// before it is not empty; otherwise the whole string is the path (so that
// "C:\dir" or "dir:with/slash" stay paths). A digest follows the last '@'.
//
// A full name (see IsFullName) holds ':' and '@' itself, so where a ':' is
// followed by a full name (./bundle:docker.io/library/nginx:1.27,
// ./bundle:registry.example/app@sha256:…), the PATH is the longest of the
// possible paths that exists as a directory; when none exists, the PATH
// ends at the first ':' that a full name follows. A name without a host,
// REPO:TAG (see IsRepoName: ./served:team/app:1.0), is read so only where
// its PATH exists as a directory. Strings with neither after a ':' are read
// as before, without looking at the file system.
func ParseReference(s string) (Reference, error) {
	plain, err := parsePlainReference(s)
	var full, repo []Reference
	for i := 1; i < len(s); i++ {
		if s[i] != ':' || isWindowsDrive(s[:i]) {
			continue
		}
		switch {
		case IsFullName(s[i+1:]):
			full = append(full, Reference{Path: s[:i], Tag: s[i+1:]})
		case IsRepoName(s[i+1:]):
			repo = append(repo, Reference{Path: s[:i], Tag: s[i+1:]})
		}
	}
	// REPO:TAG (what a push to `ocipack serve --writable` names) counts
	// only where its PATH exists as a directory: elsewhere "a:b:v1" stays
	// the path "a:b" with tag v1, as it always was.
	var repoDirs []Reference
	for _, c := range repo {
		if isDir(c.Path) {
			repoDirs = append(repoDirs, c)
		}
	}
	if len(full) == 0 && len(repoDirs) == 0 {
		return plain, err
	}
	candidates := append(full, repoDirs...)
	if err == nil {
		candidates = append(candidates, plain)
	}
	best := Reference{}
	for _, c := range candidates {
		if len(c.Path) > len(best.Path) && isDir(c.Path) {
			best = c
		}
	}
	if best.Path != "" {
		return best, nil
	}
	if len(full) == 0 {
		return plain, err
	}
	return full[0], nil
}

// isDir reports whether path exists as a directory.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// parsePlainReference is ParseReference of PATH, PATH:TAG or PATH@ALG:HEX.
func parsePlainReference(s string) (Reference, error) {
	if s == "" {
		return Reference{}, fmt.Errorf("%w: empty layout reference", ErrInvalidReference)
	}
	if i := strings.LastIndex(s, "@"); i >= 0 && strings.Contains(s[i+1:], ":") {
		d, err := digest.Parse(s[i+1:])
		if err != nil {
			return Reference{}, fmt.Errorf("%w: %q: bad digest %q: %v", ErrInvalidReference, s, s[i+1:], err)
		}
		if i == 0 {
			return Reference{}, fmt.Errorf("%w: %q: no layout path before '@'", ErrInvalidReference, s)
		}
		return Reference{Path: s[:i], Digest: d}, nil
	}
	if i := strings.LastIndex(s, ":"); i > 0 && ValidTag(s[i+1:]) && !isWindowsDrive(s[:i]) {
		return Reference{Path: s[:i], Tag: s[i+1:]}, nil
	}
	return Reference{Path: s}, nil
}

// isWindowsDrive reports whether s is a lone drive letter such as "C", so
// that "C:dir" is read as a path, not as path "C" with tag "dir". Only on
// Windows: elsewhere "b:v1" is the layout directory "b" with tag "v1".
func isWindowsDrive(s string) bool {
	return runtime.GOOS == "windows" && len(s) == 1 && (s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z')
}
