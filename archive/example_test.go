package archive_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/ocipack/ocipack/archive"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
)

// exampleBundle creates, in a new temporary directory tmp, the layout
// tmp/bundle and packs a file in it as tag v1 (with a fixed
// SourceDateEpoch, so that its digests are stable).
func exampleBundle(ctx context.Context) (l *layout.Layout, tmp string) {
	tmp, err := os.MkdirTemp("", "ocipack-example-")
	if err != nil {
		log.Fatal(err)
	}
	l, err = layout.OpenOrCreate(ctx, filepath.Join(tmp, "bundle"))
	if err != nil {
		log.Fatal(err)
	}
	f := filepath.Join(tmp, "model.bin")
	if err := os.WriteFile(f, make([]byte, 1000), 0o644); err != nil {
		log.Fatal(err)
	}
	epoch := time.Unix(1700000000, 0)
	if _, err := pack.Pack(ctx, l, "v1", []pack.Input{{Path: f}}, pack.Options{SourceDateEpoch: &epoch}); err != nil {
		log.Fatal(err)
	}
	return l, tmp
}

func ExampleExportFile() {
	ctx := context.Background()
	l, tmp := exampleBundle(ctx)
	defer os.RemoveAll(tmp)
	defer l.Close()

	// Every tag (nil) into one seekable .tar.zst; Split would cut it into
	// volumes of that many bytes, PATH.001, PATH.002 ...
	p := filepath.Join(tmp, "bundle.tar.zst")
	rep, err := archive.ExportFile(ctx, l, nil, p, archive.ExportOptions{Compression: archive.CompressionFor(p)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rep.Tags, rep.Blobs, rep.BlobBytes)
	// Output:
	// [v1] 3 1606
}

func ExampleImportDir() {
	ctx := context.Background()
	l, tmp := exampleBundle(ctx)
	defer os.RemoveAll(tmp)
	p := filepath.Join(tmp, "bundle.tar")
	if _, err := archive.ExportFile(ctx, l, []string{"v1"}, p, archive.ExportOptions{}); err != nil {
		log.Fatal(err)
	}
	l.Close()

	// On the other side of the air gap: a new layout directory, filled
	// with the archive's blobs and tags; importing again stores nothing.
	dst := filepath.Join(tmp, "imported")
	for range 2 {
		rep, err := archive.ImportDir(ctx, []string{p}, dst, archive.ImportOptions{})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(rep.Tags, rep.Blobs, rep.Skipped)
	}
	// Output:
	// [v1] 3 0
	// [v1] 0 3
}
