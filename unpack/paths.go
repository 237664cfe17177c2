package unpack

import (
	"errors"
	"fmt"
	"path"
	"runtime"
	"strings"
)

// Lexical checks on the names that come from the artifact: layer titles,
// tar entry names, hard-link names and symlink targets. All of them are
// slash-separated, whatever the platform. These checks give clear errors;
// os.Root confines the writes again, in the kernel, whatever they miss.

// stagingPrefix starts the name of the staging directory Unpack creates
// inside the destination. Titles may not start with it.
const stagingPrefix = ".ocipack-unpack-"

// maxLinkHops bounds how many symlinks are followed when resolving a symlink
// target, as the kernel bounds it (ELOOP).
const maxLinkHops = 40

// caseInsensitive is true where the usual file systems fold case, so that
// "A" and "a" name one file.
var caseInsensitive = runtime.GOOS == "windows" || runtime.GOOS == "darwin" || runtime.GOOS == "ios"

// foldKey returns the key under which a path is recorded in maps that stand
// for the file system: the path itself, or its lower-case form where the
// file system folds case.
func foldKey(p string) string {
	if caseInsensitive {
		return strings.ToLower(p)
	}
	return p
}

// checkRelative returns why name is not a safe relative slash path, or nil.
// It refuses empty names, NUL bytes, backslashes (a separator on Windows,
// so "..\x" would escape there), absolute paths, Windows volume names
// ("C:", "//host/share"), ':' on Windows (drive-relative paths, alternate
// data streams) and any ".." component, even one that cleans away
// ("a/../b"): a name that needs it is not one a packer writes.
func checkRelative(name string) error {
	if fault := lexicalFault(name); fault != "" {
		return errors.New("it " + fault)
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return errors.New(`it contains a ".." component`)
		}
	}
	return nil
}

// hasVolumeName reports whether p starts like a Windows path with a volume:
// a drive letter and a colon ("C:", "c:x"), or a UNC prefix.
func hasVolumeName(p string) bool {
	if len(p) >= 2 && p[1] == ':' && (p[0] >= 'a' && p[0] <= 'z' || p[0] >= 'A' && p[0] <= 'Z') {
		return true
	}
	return strings.HasPrefix(p, "//") || strings.HasPrefix(p, `\\`)
}

// cleanTitle checks an org.opencontainers.image.title annotation and returns
// it cleaned: relative, slash-separated, without "." components or trailing
// slash. The error says what is wrong; the caller wraps it in ErrUnsafePath.
func cleanTitle(title string) (string, error) {
	if err := checkRelative(title); err != nil {
		return "", err
	}
	c := path.Clean(title)
	if c == "." {
		return "", errors.New("it names the destination directory itself")
	}
	if first, _, _ := strings.Cut(c, "/"); strings.HasPrefix(first, stagingPrefix) {
		return "", fmt.Errorf("%q is reserved for ocipack's staging directories", stagingPrefix+"*")
	}
	return c, nil
}

// titlesOverlap reports whether two cleaned titles name the same path or
// one is a parent of the other, comparing without case where the file
// system folds case.
func titlesOverlap(a, b string) bool {
	a, b = foldKey(a), foldKey(b)
	return a == b || strings.HasPrefix(a, b+"/") || strings.HasPrefix(b, a+"/")
}

// cleanArchiveName checks a tar entry name (or a hard link's Linkname, which
// uses the same convention) and returns it cleaned, with any "./" prefix
// and trailing slash removed.
func cleanArchiveName(name string) (string, error) {
	if err := checkRelative(name); err != nil {
		return "", err
	}
	return path.Clean(name), nil
}

// relToPrefix returns where the cleaned archive name lies relative to the
// directory prefix: "." for the prefix itself, "a/b" for "prefix/a/b". ok
// is false when name is outside prefix.
func relToPrefix(name, prefix string) (rel string, ok bool) {
	if name == prefix {
		return ".", true
	}
	if rest, found := strings.CutPrefix(name, prefix+"/"); found {
		return rest, true
	}
	return "", false
}

// checkLinkTarget checks a symlink's target lexically: it must be a
// non-empty relative path (no absolute path, volume name, backslash or NUL);
// unlike entry names it may contain "..", as long as it stays inside the
// root (see resolveLink).
func checkLinkTarget(target string) error {
	if fault := lexicalFault(target); fault != "" {
		return errors.New("the target " + fault)
	}
	return nil
}

// lexicalFault says why p, a slash path, is not a non-empty relative path
// that means the same on every OS ("is empty", "contains a NUL byte", ...),
// or returns "". checkRelative and checkLinkTarget name the path in front.
func lexicalFault(p string) string {
	switch {
	case p == "":
		return "is empty"
	case strings.ContainsRune(p, 0):
		return "contains a NUL byte"
	case strings.ContainsRune(p, '\\'):
		return "contains a backslash"
	case strings.HasPrefix(p, "/"):
		return "is absolute"
	case hasVolumeName(p):
		return "starts with a Windows volume name"
	case runtime.GOOS == "windows" && strings.ContainsRune(p, ':'):
		return "contains ':'"
	}
	return ""
}

// resolveLink resolves the target of the symlink at linkRel (a path relative
// to the layer root), following the archive's own symlinks (links maps each
// one's foldKey to its target) the way the kernel would, and fails when
// any step leaves the root. A plain lexical check is not enough: with
// "d/x -> .." a link "y -> d/x/.." is lexically "d" but really the root's
// parent.
//
// Components that do not exist are taken lexically, which is stricter than
// the kernel (it would stop there) and keeps a dangling link from escaping
// once the missing directory is created.
func resolveLink(links map[string]string, linkRel, target string) error {
	hops := 0
	_, err := resolveFrom(links, parentComponents(linkRel), target, &hops)
	return err
}

// parentComponents returns the components of rel's parent directory.
func parentComponents(rel string) []string {
	dir := path.Dir(rel)
	if dir == "." {
		return nil
	}
	return strings.Split(dir, "/")
}

// parentDirs returns the paths of rel's parent directories, from the top:
// "a" and "a/b" for "a/b/c"; none for a name at the root.
func parentDirs(rel string) []string {
	comps := parentComponents(rel)
	dirs := make([]string, len(comps))
	for i := range comps {
		dirs[i] = strings.Join(comps[:i+1], "/")
	}
	return dirs
}

// resolveFrom follows target from the directory whose components are dir,
// and returns the components of where it ends.
func resolveFrom(links map[string]string, dir []string, target string, hops *int) ([]string, error) {
	cur := append([]string(nil), dir...)
	for _, c := range strings.Split(target, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return nil, errors.New("it resolves outside the layer's directory")
			}
			cur = cur[:len(cur)-1]
			continue
		}
		cur = append(cur, c)
		next, isLink := links[foldKey(strings.Join(cur, "/"))]
		if !isLink {
			continue
		}
		if *hops++; *hops > maxLinkHops {
			return nil, errors.New("it goes through too many levels of symbolic links")
		}
		var err error
		if cur, err = resolveFrom(links, cur[:len(cur)-1], next, hops); err != nil {
			return nil, err
		}
	}
	return cur, nil
}
