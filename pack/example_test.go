package pack_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
)

func ExamplePack() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "ocipack-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)

	// A script to pack. Its mode is set explicitly, whatever the umask.
	script := filepath.Join(tmp, "deploy.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho deploying\n"), 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.Chmod(script, 0o755); err != nil {
		log.Fatal(err)
	}

	l, err := layout.OpenOrCreate(ctx, filepath.Join(tmp, "bundle"))
	if err != nil {
		log.Fatal(err)
	}
	// With a fixed SourceDateEpoch the manifest digest is the same on any
	// machine, at any time.
	epoch := time.Unix(1700000000, 0)
	res, err := pack.Pack(ctx, l, "v1", []pack.Input{pack.ParseInput(script + ":text/x-shellscript")}, pack.Options{
		ArtifactType:    "application/vnd.example.deploy.v1",
		SourceDateEpoch: &epoch,
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range res.Layers {
		fmt.Println(d.Annotations["org.opencontainers.image.title"], d.MediaType, d.Size, d.Annotations[layout.AnnotationFileMode])
	}
	fmt.Println(res.Manifest.ArtifactType)
	fmt.Println(res.Manifest.Digest)
	// Output:
	// deploy.sh text/x-shellscript 25 0755
	// application/vnd.example.deploy.v1
	// sha256:a8c987f7e9671900ba8854145c137ba9f6ea9ee58321370ef3c9cb8b964ef766
}
