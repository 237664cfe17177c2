//go:build unix

package testkit

import (
	"os"
	"syscall"
	"testing"
)

// ReplaceWithFifo replaces p (if there) by a fifo, and releases a reader
// still blocked on it when the test ends; it skips the test where fifos
// cannot be made.
func ReplaceWithFifo(t testing.TB, p string) {
	t.Helper()
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	t.Cleanup(func() {
		if f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
}
