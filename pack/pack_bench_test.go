package pack_test

// Benchmarks of packing a directory tree (issue 5): walk, tar, compress,
// hash twice and store, for each compression. The tree is a small version
// of bench/run's: text-like files of mixed sizes in nested directories.
//
//	go test -run '^$' -bench PackDir -benchtime 5x ./pack

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
)

// BenchmarkPackDir packs a tree of 1,000 files (about 15 MB) into a
// layout, with each compression. MB/s is of uncompressed file content.
func BenchmarkPackDir(b *testing.B) {
	src := filepath.Join(b.TempDir(), "tree")
	total := testkit.WriteTree(b, src, 1000)
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
