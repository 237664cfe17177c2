package unpack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/unpack"
)

// ExampleUnpack packs one file into a fresh layout by hand, then restores
// it with Unpack, the way `ocipack unpack LAYOUT:v1 -o DIR` does.
func ExampleUnpack() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "ocipack-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)

	// A layout with one file layer, tagged v1.
	l, err := layout.OpenOrCreate(ctx, filepath.Join(tmp, "layout"))
	if err != nil {
		log.Fatal(err)
	}
	file, err := l.Ingest(ctx, "text/plain", strings.NewReader("hello\n"))
	if err != nil {
		log.Fatal(err)
	}
	file.Annotations = map[string]string{
		ocispec.AnnotationTitle:   "hello.txt",
		layout.AnnotationFileMode: "0644",
	}
	if _, err := l.Ingest(ctx, ocispec.MediaTypeEmptyJSON, strings.NewReader("{}")); err != nil {
		log.Fatal(err)
	}
	b, _ := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.DescriptorEmptyJSON,
		Layers:    []ocispec.Descriptor{file},
	})
	m, err := l.Ingest(ctx, ocispec.MediaTypeImageManifest, strings.NewReader(string(b)))
	if err != nil {
		log.Fatal(err)
	}
	if err := l.Tag(ctx, m, "v1"); err != nil {
		log.Fatal(err)
	}

	// Restore it.
	dest := filepath.Join(tmp, "out")
	res, err := unpack.Unpack(ctx, l, "v1", dest, unpack.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range res.Files {
		fmt.Println(f.Title, f.Size, f.Dir)
	}
	content, _ := os.ReadFile(filepath.Join(dest, "hello.txt"))
	fmt.Print(string(content))
	// Output:
	// hello.txt 6 false
	// hello
}
