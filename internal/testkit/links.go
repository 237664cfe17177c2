package testkit

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Outside makes a directory outside any layout holding two small files
// (one named like an upload), for tests that check nothing outside a layout
// is read, written or removed through a link; it returns the directory.
func Outside(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "outside")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"precious.txt", "blob-upload-123"} {
		WriteFile(t, filepath.Join(dir, n), "keep me: "+n)
	}
	return dir
}

// ReplaceWithSymlink replaces p (a file or a directory) by a symbolic link
// to target; it skips the test where links cannot be made.
func ReplaceWithSymlink(t testing.TB, p, target string) {
	t.Helper()
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Skipf("symlink: %v", err)
	}
}

// Within runs fn and fails the test if it has not returned after d (what
// names it): for code that once blocked for good, on a fifo for instance.
func Within(t testing.TB, what string, d time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: still running after %v", what, d)
	}
}
