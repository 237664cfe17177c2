package testkit

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
)

// RandomBytes returns n deterministic, incompressible bytes drawn from a
// ChaCha8 stream keyed by seed.
func RandomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	randomSource(seed).Read(b)
	return b
}

func randomSource(seed uint64) *rand.ChaCha8 {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	return rand.NewChaCha8(key)
}

// WriteRandomFile writes size incompressible bytes (the stream of
// RandomBytes with seed) to path, creating its parent directories, and
// returns path. It writes in 1 MiB pieces, so size may be large.
func WriteRandomFile(t testing.TB, path string, size int64, seed uint64) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	src := randomSource(seed)
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		src.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
		left -= n
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// WriteFile writes content to path (mode 0644), creating its parent
// directories, and returns path.
func WriteFile[C string | []byte](t testing.TB, path string, content C) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// ReadFile returns the content of path, failing the test if it cannot.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FileDigest returns the sha256 digest of the file at path.
func FileDigest(t testing.TB, path string) digest.Digest {
	t.Helper()
	d, err := fileDigest(path)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// FlipByte inverts one bit of the byte at offset off of the file at path
// (off < 0 counts from the end), in place.
func FlipByte(t testing.TB, path string, off int64) {
	t.Helper()
	b := ReadFile(t, path)
	if off < 0 {
		off += int64(len(b))
	}
	if off < 0 || off >= int64(len(b)) {
		t.Fatalf("%s has %d bytes, cannot flip byte %d", path, len(b), off)
	}
	b[off] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// DirNames returns the names in directory dir, sorted, failing the test if
// it cannot be read.
func DirNames(t testing.TB, dir string) []string {
	t.Helper()
	names, err := dirNames(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	return names
}

// DirNamesIfAny is DirNames, but a directory that does not exist has no
// names, and an error fails the test with t.Errorf (so it may be called
// from any goroutine).
func DirNamesIfAny(t testing.TB, dir string) []string {
	t.Helper()
	names, err := dirNames(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read %s: %v", dir, err)
	}
	return names
}

func dirNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, err
}

// FlipByteMiddle is FlipByte at the middle byte of the file.
func FlipByteMiddle(t testing.TB, path string) {
	t.Helper()
	FlipByte(t, path, int64(len(ReadFile(t, path))/2))
}
