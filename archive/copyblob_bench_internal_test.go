package archive

// Benchmark of export's blob copy (issue 5): a 64 MiB blob file read,
// verified and written into a tar in a file, with the serial copy export
// used before (copyCtx through layout.VerifyReader) and with copyBlob
// (hashcopy).
//
//	go test -run '^$' -bench CopyBlob -benchtime 10x ./archive

import (
	"archive/tar"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/hashcopy"
	"github.com/ocipack/ocipack/layout"
)

func BenchmarkCopyBlob64MiB(b *testing.B) {
	const size = 64 << 20
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{5}).Read(data)
	dir := b.TempDir()
	src := filepath.Join(dir, "blob")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		b.Fatal(err)
	}
	desc := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: size}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		copy func(tw *tar.Writer, f *os.File) error
	}{
		{"serial", func(tw *tar.Writer, f *os.File) error {
			_, err := copyCtx(ctx, tw, layout.NewVerifyReader(f, desc), nil)
			return err
		}},
		{"copyBlob", func(tw *tar.Writer, f *os.File) error { return copyBlob(ctx, tw, f, desc) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			// The archive's writes go through hashcopy.FileWriter, as
			// ExportFile's do.
			b.SetBytes(size)
			for b.Loop() {
				f, err := os.Open(src)
				if err != nil {
					b.Fatal(err)
				}
				out, err := os.Create(filepath.Join(dir, "out.tar"))
				if err != nil {
					b.Fatal(err)
				}
				tw := tar.NewWriter(hashcopy.NewFileWriter(out))
				if err := tw.WriteHeader(&tar.Header{Name: "blob", Size: size, Mode: 0o644}); err != nil {
					b.Fatal(err)
				}
				if err := c.copy(tw, f); err != nil {
					b.Fatal(err)
				}
				if err := tw.Close(); err != nil {
					b.Fatal(err)
				}
				f.Close()
				// Freeing its pages is not the copy's cost.
				b.StopTimer()
				out.Close()
				os.Remove(out.Name())
				b.StartTimer()
			}
		})
	}
}
