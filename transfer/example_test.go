package transfer_test

import (
	"context"
	"fmt"
	"log"

	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/transfer"
)

// Push needs a registry, so this example is compiled but not run.
func ExamplePush() {
	ctx := context.Background()
	l, err := layout.Open(ctx, "./bundle")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	dst, err := transfer.ParseReference("registry.example.com/apps/tool:v1")
	if err != nil {
		log.Fatal(err)
	}
	// The layout's tag v1 goes up with its referrers (SBOMs, signatures);
	// an interrupted push resumes its chunked uploads when run again.
	res, err := transfer.Push(ctx, l, "v1", dst, dst.Reference, transfer.Options{Referrers: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Manifests, res.Bytes)
}

// Pull needs a registry, so this example is compiled but not run.
func ExamplePull() {
	ctx := context.Background()
	l, err := layout.OpenOrCreate(ctx, "./bundle")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	src, err := transfer.ParseReference("registry.example.com/apps/tool:v1")
	if err != nil {
		log.Fatal(err)
	}
	// Large blobs download in parallel ranges and resume where an
	// interrupted pull stopped; the result is checked before it is tagged.
	res, err := transfer.Pull(ctx, src, l, "v1", transfer.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Manifests, res.Bytes)
}
