package unpack_test

// Benchmarks of unpacking a directory layer (issue 5): fetch, verify,
// decompress, extract into staging, move into place, for each compression.
// The tree is packed once with the pack package.
//
//	go test -run '^$' -bench UnpackDir -benchtime 5x ./unpack

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
	"github.com/ocipack/ocipack/unpack"
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
// into nested directories under dir and returns the bytes written. It is
// pack_bench_test.go's generator.
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

// BenchmarkUnpackDir unpacks a packed tree of 1,000 files (about 15 MB)
// into a new directory, for each compression. MB/s is of uncompressed file
// content. The destination is removed (untimed) after each iteration.
func BenchmarkUnpackDir(b *testing.B) {
	ctx := context.Background()
	src := filepath.Join(b.TempDir(), "tree")
	total := benchTree(b, src, 1000)
	l, err := layout.OpenOrCreate(ctx, filepath.Join(b.TempDir(), "layout"))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	comps := []pack.Compression{pack.Gzip, pack.Zstd, pack.None}
	for _, c := range comps {
		if _, err := pack.Pack(ctx, l, string(c), []pack.Input{{Path: src}}, pack.Options{Compression: c}); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range comps {
		b.Run(string(c), func(b *testing.B) {
			out := filepath.Join(b.TempDir(), "out")
			b.SetBytes(total)
			for b.Loop() {
				if _, err := unpack.Unpack(ctx, l, string(c), out, unpack.Options{}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := os.RemoveAll(out); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
