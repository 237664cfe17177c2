package testkit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// Entry is what Snapshot records of one entry of a tree.
type Entry struct {
	// Type is the entry's type bits: 0 for a regular file, fs.ModeDir,
	// fs.ModeSymlink, fs.ModeNamedPipe and so on.
	Type fs.FileMode
	// Perm is the entry's permission bits.
	Perm fs.FileMode
	// Size is the size Lstat reports.
	Size int64
	// Digest is a regular file's content digest, else "".
	Digest digest.Digest
	// Target is a symbolic link's target, else "".
	Target string
	// ModTime is the modification time Lstat reports.
	ModTime time.Time
}

// Tree is a snapshot of a directory tree: its entries by slash-separated
// path relative to the root ("." is the root itself).
type Tree map[string]Entry

// Snapshot records every entry under root, root included, without following
// symbolic links. It returns nil when root does not exist and fails the test
// on any other error.
func Snapshot(t testing.TB, root string) Tree {
	t.Helper()
	if _, err := os.Lstat(root); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	out := Tree{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := Entry{Type: fi.Mode().Type(), Perm: fi.Mode().Perm(), Size: fi.Size(), ModTime: fi.ModTime()}
		switch {
		case fi.Mode().IsRegular():
			if e.Digest, err = fileDigest(p); err != nil {
				return err
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			if e.Target, err = os.Readlink(p); err != nil {
				return err
			}
		}
		out[filepath.ToSlash(rel)] = e
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", root, err)
	}
	return out
}

// Paths returns the tree's paths, sorted.
func (tr Tree) Paths() []string {
	out := make([]string, 0, len(tr))
	for p := range tr {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// View returns what view sees of each entry, by path.
func (tr Tree) View(view View) map[string]string {
	out := make(map[string]string, len(tr))
	for p, e := range tr {
		out[p] = view(e)
	}
	return out
}

// A View is the part of an entry a comparison looks at, as a string.
type View func(Entry) string

// Content views an entry's type and what it holds: a file's digest, a
// link's target.
func Content(e Entry) string {
	switch {
	case e.Type == 0:
		return "file " + e.Digest.String()
	case e.Type&fs.ModeSymlink != 0:
		return "symlink -> " + e.Target
	case e.Type.IsDir():
		return "dir"
	}
	return e.Type.String()
}

// ContentExec is Content and, for a file, whether any execute bit is set.
func ContentExec(e Entry) string {
	if e.Type == 0 {
		return fmt.Sprintf("file exec=%v %s", e.Perm&0o111 != 0, e.Digest)
	}
	return Content(e)
}

// ContentPerm is Content and, for files and directories, the permission
// bits (except on Windows, which does not keep them).
func ContentPerm(e Entry) string {
	if runtime.GOOS != "windows" && (e.Type == 0 || e.Type.IsDir()) {
		return fmt.Sprintf("%s %v", Content(e), e.Perm)
	}
	return Content(e)
}

// TypeSize views an entry's type and size, as Lstat reports them.
func TypeSize(e Entry) string {
	return fmt.Sprintf("%v %d", e.Type, e.Size)
}

// DiffTrees lists how got differs from want as seen through view: entries
// missing, changed and extra, one line each, sorted by path. The root "."
// is compared like any entry, except that where want holds entries but not
// the root (as SnapshotPaths gives), the root of got is not extra.
func DiffTrees(want, got Tree, view View) []string {
	var out []string
	for _, p := range want.Paths() {
		g, ok := got[p]
		switch w := want[p]; {
		case !ok:
			out = append(out, fmt.Sprintf("%s: missing (want %s)", p, view(w)))
		case view(g) != view(w):
			out = append(out, fmt.Sprintf("%s: %s, want %s", p, view(g), view(w)))
		}
	}
	for _, p := range got.Paths() {
		if _, ok := want[p]; !ok && (p != "." || len(want) == 0) {
			out = append(out, fmt.Sprintf("%s: unexpected (%s)", p, view(got[p])))
		}
	}
	return out
}

// SameTree fails the test (with t.Errorf, once per difference) where got
// differs from want as seen through view; what says what is compared.
// It fails too when want is empty, so that a comparison with nothing
// cannot pass by accident.
func SameTree(t testing.TB, what string, want, got Tree, view View) {
	t.Helper()
	if len(want) == 0 {
		t.Errorf("%s: empty expectation", what)
		return
	}
	for _, d := range DiffTrees(want, got, view) {
		t.Errorf("%s: %s", what, d)
	}
}

// CompareDirs fails the test where the tree under got differs from the one
// under want in content, type, link targets or permissions (ContentPerm).
func CompareDirs(t testing.TB, want, got string) {
	t.Helper()
	SameTree(t, got, Snapshot(t, want), Snapshot(t, got), ContentPerm)
}

// CompareFiles fails the test unless the file got holds what the file want
// holds, with the same permissions (except on Windows).
func CompareFiles(t testing.TB, want, got string) {
	t.Helper()
	w := ReadFile(t, want)
	g, err := os.ReadFile(got)
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	if string(w) != string(g) {
		t.Errorf("%s differs from %s", got, want)
	}
	wfi, _ := os.Stat(want)
	gfi, _ := os.Stat(got)
	if runtime.GOOS != "windows" && wfi.Mode().Perm() != gfi.Mode().Perm() {
		t.Errorf("%s: mode %v, want %v", got, gfi.Mode().Perm(), wfi.Mode().Perm())
	}
}

// SnapshotPaths is what a directory holding copies of paths (files or
// directories) under their base names would snapshot as, but for the
// directory itself ("."): each path's entries below its base name.
func SnapshotPaths(t testing.TB, paths ...string) Tree {
	t.Helper()
	out := Tree{}
	for _, p := range paths {
		for k, e := range Snapshot(t, p) {
			out[path.Join(filepath.Base(p), k)] = e
		}
	}
	return out
}

// fileDigest reads the file at p through, and returns its digest.
func fileDigest(p string) (digest.Digest, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return digest.FromReader(f)
}

// Untouched views an entry's type, permission bits and content and, for a
// regular file, its modification time to the nanosecond: what an entry
// nobody wrote to keeps (a directory's time changes with its entries).
func Untouched(e Entry) string {
	s := fmt.Sprintf("%s %v", Content(e), e.Type|e.Perm)
	if e.Type == 0 {
		s += fmt.Sprintf(" mtime=%d", e.ModTime.UnixNano())
	}
	return s
}

// Unchanged fails the test where the tree at root differs, as seen through
// Untouched, from before, a Snapshot of it taken earlier (nil where root
// did not exist: then root must still not exist).
func Unchanged(t testing.TB, before Tree, root string) {
	t.Helper()
	for _, d := range DiffTrees(before, Snapshot(t, root), Untouched) {
		t.Errorf("%s changed: %s", root, d)
	}
}
