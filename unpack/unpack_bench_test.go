package unpack_test

// Benchmarks of unpacking a directory layer (issue 5): fetch, verify,
// decompress, extract into staging, move into place, for each compression.
// The tree is packed once with the pack package.
//
//	go test -run '^$' -bench UnpackDir -benchtime 5x ./unpack

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
	"github.com/ocipack/ocipack/unpack"
)

// BenchmarkUnpackDir unpacks a packed tree of 1,000 files (about 15 MB)
// into a new directory, for each compression. MB/s is of uncompressed file
// content. The destination is removed (untimed) after each iteration.
func BenchmarkUnpackDir(b *testing.B) {
	ctx := context.Background()
	src := filepath.Join(b.TempDir(), "tree")
	total := testkit.WriteTree(b, src, 1000)
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
