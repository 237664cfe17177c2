// WriteTree generates a deterministic, source-like directory tree
// for benchmarks: text-like files of mixed sizes in nested directories, a
// small version of bench/run's.

package testkit

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// words is the vocabulary of the generated files.
var words = []string{
	"func", "return", "if", "else", "for", "range", "err", "nil", "ctx", "string",
	"int64", "package", "import", "type", "struct", "interface", "map", "chan",
	"layout", "manifest", "digest", "blob", "tag", "index", "file", "directory",
	"the", "a", "of", "to", "in", "is", "with", "read", "write", "check", "size",
	"fmt.Errorf", "os.Open", "io.Copy", "json.Marshal", "filepath.Join", ":=", "=",
	"{", "}", "(", ")", "//", "==", "!=", "0", "1", "42", "4096",
}

// WriteTree writes files text-like files (200 B to 200 KB, mostly small,
// deterministic) into nested directories under dir and returns the bytes
// written; it fails the test on any error. The pack and unpack benchmarks
// share it.
func WriteTree(t testing.TB, dir string, files int) int64 {
	t.Helper()
	n, err := writeTree(dir, files)
	if err != nil {
		t.Fatalf("write tree %s: %v", dir, err)
	}
	return n
}

func writeTree(dir string, files int) (int64, error) {
	var seed [32]byte
	copy(seed[:], "ocipack pack benchmark tree")
	rng := rand.New(rand.NewChaCha8(seed))
	var dirs []string
	for a := range 6 {
		for b := range 4 {
			for c := range 3 {
				dirs = append(dirs, filepath.Join(fmt.Sprintf("d%d", a), fmt.Sprintf("e%d", b), fmt.Sprintf("f%d", c)))
			}
			dirs = append(dirs, filepath.Join(fmt.Sprintf("d%d", a), fmt.Sprintf("e%d", b)))
		}
	}
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return 0, err
		}
	}
	var total int64
	for i := range files {
		var size int
		lo, hi := 200.0, 8192.0
		switch p := rng.IntN(100); {
		case p >= 95:
			lo, hi = 65536, 204800
		case p >= 70:
			lo, hi = 8192, 65536
		}
		size = int(lo * math.Pow(hi/lo, rng.Float64()))
		f, err := os.Create(filepath.Join(dir, dirs[rng.IntN(len(dirs))], fmt.Sprintf("file%04d.go", i)))
		if err != nil {
			return 0, err
		}
		w := bufio.NewWriter(f)
		for n := 0; n < size; {
			word := words[rng.IntN(len(words))]
			sep := " "
			if rng.IntN(8) == 0 {
				sep = "\n\t"
			}
			if n+len(word)+len(sep) > size {
				word, sep = "x", ""
			}
			w.WriteString(word)
			w.WriteString(sep)
			n += len(word) + len(sep)
		}
		if err := w.Flush(); err != nil {
			return 0, err
		}
		if err := f.Close(); err != nil {
			return 0, err
		}
		total += int64(size)
	}
	return total, nil
}
