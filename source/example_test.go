package source_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/ocipack/ocipack/archive"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
	"github.com/ocipack/ocipack/source"
)

func ExampleOpen() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "ocipack-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)

	// A layout with one tag, exported as a compressed archive.
	lay := filepath.Join(tmp, "bundle")
	l, err := layout.OpenOrCreate(ctx, lay)
	if err != nil {
		log.Fatal(err)
	}
	app := filepath.Join(tmp, "app.conf")
	if err := os.WriteFile(app, []byte("port = 8080\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	if _, err := pack.Pack(ctx, l, "v1", []pack.Input{{Path: app}}, pack.Options{}); err != nil {
		log.Fatal(err)
	}
	tarZst := filepath.Join(tmp, "bundle.tar.zst")
	if _, err := archive.ExportFile(ctx, l, nil, tarZst, archive.ExportOptions{Compression: archive.Zstd}); err != nil {
		log.Fatal(err)
	}
	l.Close()

	// The same calls read the layout directory and the archive, in place.
	for _, p := range []string{lay, tarZst} {
		s, err := source.Open(ctx, p)
		if err != nil {
			log.Fatal(err)
		}
		tags, err := s.Tags(ctx)
		if err != nil {
			log.Fatal(err)
		}
		// Ref("") picks the only tag; with several it fails with an
		// *AmbiguousError that names them.
		ref, err := s.Ref(ctx, "")
		if err != nil {
			log.Fatal(err)
		}
		desc, err := s.Resolve(ctx, ref)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(filepath.Base(p), source.IsArchive(p), tags, ref, desc.MediaType)
		s.Close()
	}
	// Output:
	// bundle false [v1] v1 application/vnd.oci.image.manifest.v1+json
	// bundle.tar.zst true [v1] v1 application/vnd.oci.image.manifest.v1+json
}
