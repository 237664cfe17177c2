package pack_test

// Benchmarks of packing a directory tree (issue 5): walk, tar, compress,
// hash twice and store, for each compression. The tree is a small version
// of bench/run's: text-like files of mixed sizes in nested directories.
//
//	go test -run '^$' -bench PackDir -benchtime 5x ./pack

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
)

// benchWords is the vocabulary of the generated files.
var benchWords = []string{
	"func", "return", "if", "else", "for", "range", "err", "nil", "ctx", "string",
	"int64", "package", "import", "type", "struct", "interface", "map", "chan",
	"layout", "manifest", "digest", "blob", "tag", "index", "file", "directory",
	"the", "a", "of", "to", "in", "is", "with", "read", "write", "check", "size",
	"fmt.Errorf", "os.Open", "io.Copy", "json.Marshal", "filepath.Join", ":=", "=",
	"{", "}", "(", ")", "//", "==", "!=", "0", "1", "42", "4096",
}

// benchTree writes files text-like files (200 B to 200 KB, mostly small)
// into nested directories under dir and returns the bytes written.
func benchTree(tb testing.TB, dir string, files int) int64 {
	tb.Helper()
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
			tb.Fatal(err)
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
			tb.Fatal(err)
		}
		w := bufio.NewWriter(f)
		for n := 0; n < size; {
			word := benchWords[rng.IntN(len(benchWords))]
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
			tb.Fatal(err)
		}
		if err := f.Close(); err != nil {
			tb.Fatal(err)
		}
		total += int64(size)
	}
	return total
}

// BenchmarkPackDir packs a tree of 1,000 files (about 15 MB) into a
// layout, with each compression. MB/s is of uncompressed file content.
func BenchmarkPackDir(b *testing.B) {
	src := filepath.Join(b.TempDir(), "tree")
	total := benchTree(b, src, 1000)
	for _, c := range []pack.Compression{pack.Gzip, pack.Zstd, pack.None} {
		b.Run(string(c), func(b *testing.B) {
			ctx := context.Background()
			l, err := layout.OpenOrCreate(ctx, filepath.Join(b.TempDir(), "layout"))
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			b.SetBytes(total)
			for b.Loop() {
				if _, err := pack.Pack(ctx, l, "v1", []pack.Input{{Path: src}}, pack.Options{Compression: c}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
