package unpack_test

// Benchmark of unpacking a regular-file layer (issue 5): fetch, verify and
// write into staging, move into place. The file is packed once with the
// pack package.
//
//	go test -run '^$' -bench UnpackFile -benchtime 5x ./unpack

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

// BenchmarkUnpackFile64MiB unpacks one 64 MiB file of random bytes into a
// new directory. The destination is removed (untimed) after each
// iteration.
func BenchmarkUnpackFile64MiB(b *testing.B) {
	const size = 64 << 20
	ctx := context.Background()
	src := filepath.Join(b.TempDir(), "big.bin")
	if err := os.WriteFile(src, testkit.RandomBytes(7, size), 0o644); err != nil {
		b.Fatal(err)
	}
	l, err := layout.OpenOrCreate(ctx, filepath.Join(b.TempDir(), "layout"))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	if _, err := pack.Pack(ctx, l, "v1", []pack.Input{{Path: src}}, pack.Options{}); err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(b.TempDir(), "out")
	b.SetBytes(size)
	for b.Loop() {
		if _, err := unpack.Unpack(ctx, l, "v1", out, unpack.Options{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := os.RemoveAll(out); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
