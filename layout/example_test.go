package layout_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/layout"
)

func ExampleOpenOrCreate() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "ocipack-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)

	l, err := layout.OpenOrCreate(ctx, filepath.Join(tmp, "bundle"))
	if err != nil {
		log.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(l.Path(), "oci-layout"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(b))
	tags, err := l.Tags(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("tags:", len(tags))
	// Output:
	// {"imageLayoutVersion":"1.0.0"}
	// tags: 0
}

// newExampleLayout creates a layout in a new temporary directory and
// returns it with the function that closes and removes it.
func newExampleLayout(ctx context.Context) (*layout.Layout, func()) {
	tmp, err := os.MkdirTemp("", "ocipack-example-")
	if err != nil {
		log.Fatal(err)
	}
	l, err := layout.OpenOrCreate(ctx, tmp)
	if err != nil {
		os.RemoveAll(tmp)
		log.Fatal(err)
	}
	return l, func() {
		l.Close()
		os.RemoveAll(tmp)
	}
}

func ExampleLayout_Ingest() {
	ctx := context.Background()
	l, remove := newExampleLayout(ctx)
	defer remove()

	desc, err := l.Ingest(ctx, "text/plain", strings.NewReader("hello\n"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(desc.MediaType, desc.Size, desc.Digest)

	// Read it back, verified against its digest.
	rc, err := l.Fetch(ctx, desc)
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(layout.NewVerifyReader(rc, desc))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", b)
	// Output:
	// text/plain 6 sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03
	// "hello\n"
}

func ExampleParseReference() {
	for _, s := range []string{"./bundle", "./bundle:v1.2.0", "./bundle@sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"} {
		ref, err := layout.ParseReference(s)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("path=%s tag=%q digest=%q\n", ref.Path, ref.Tag, ref.Digest)
	}
	// Output:
	// path=./bundle tag="" digest=""
	// path=./bundle tag="v1.2.0" digest=""
	// path=./bundle tag="" digest="sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
}

func ExampleLayout_Tag() {
	ctx := context.Background()
	l, remove := newExampleLayout(ctx)
	defer remove()

	// A minimal image manifest: the empty config, no layers.
	if _, err := l.Ingest(ctx, ocispec.MediaTypeEmptyJSON, strings.NewReader("{}")); err != nil {
		log.Fatal(err)
	}
	manifest := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.empty.v1+json",` +
		`"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`
	desc, err := l.Ingest(ctx, ocispec.MediaTypeImageManifest, strings.NewReader(manifest))
	if err != nil {
		log.Fatal(err)
	}
	for _, tag := range []string{"v1", "latest"} {
		if err := l.Tag(ctx, desc, tag); err != nil {
			log.Fatal(err)
		}
	}
	tags, err := l.Tags(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range tags {
		fmt.Println(t.Tag, t.Descriptor.Digest == desc.Digest)
	}
	got, err := l.Resolve(ctx, "v1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Digest == desc.Digest)
	// Output:
	// latest true
	// v1 true
	// true
}
