package inspect_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/ocipack/ocipack/inspect"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
)

func ExampleSummaries() {
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
	defer l.Close()

	// Two tags on one packed file, as `ocipack pack` and `ocipack tag` make.
	notes := filepath.Join(tmp, "notes.txt")
	if err := os.WriteFile(notes, []byte("release notes\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	epoch := time.Unix(1700000000, 0)
	res, err := pack.Pack(ctx, l, "v1", []pack.Input{{Path: notes}}, pack.Options{SourceDateEpoch: &epoch})
	if err != nil {
		log.Fatal(err)
	}
	if err := l.Tag(ctx, res.Manifest, "latest"); err != nil {
		log.Fatal(err)
	}

	// What `ocipack ls` lists; any inspect.Target (a layout, or a
	// source.Source on an archive) will do.
	sums, err := inspect.Summaries(ctx, l)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range sums {
		fmt.Println(s.Tag, s.Files, s.Created, s.Digest == res.Manifest.Digest)
	}
	// And what `ocipack inspect bundle:v1` shows.
	in, err := inspect.Describe(ctx, l, "v1")
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range in.Files {
		fmt.Println(f.Title, f.Mode, f.Size)
	}
	// Output:
	// latest 1 2023-11-14T22:13:20Z true
	// v1 1 2023-11-14T22:13:20Z true
	// notes.txt 0644 14
}
