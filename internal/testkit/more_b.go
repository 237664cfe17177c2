package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"oras.land/oras-go/v2/content"

	"github.com/ocipack/ocipack/layout"
)

// MustJSON marshals v to JSON, failing the test if it cannot.
func MustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Ingest stores b in l as a blob of mediaType and returns its descriptor.
func Ingest(t testing.TB, l *layout.Layout, mediaType string, b []byte) ocispec.Descriptor {
	t.Helper()
	d, err := l.Ingest(context.Background(), mediaType, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TagBlobAsManifest stores b (typically not a valid manifest) and tags it
// as an image manifest, returning its descriptor.
func TagBlobAsManifest(t testing.TB, l *layout.Layout, tag string, b []byte) ocispec.Descriptor {
	t.Helper()
	d := Ingest(t, l, ocispec.MediaTypeImageManifest, b)
	if err := l.Tag(context.Background(), d, tag); err != nil {
		t.Fatal(err)
	}
	return d
}

// Tag tags desc in l (a layout, a registry repository, a file store) with
// each of tags, failing the test if one cannot be set.
func Tag(t testing.TB, l content.Tagger, desc ocispec.Descriptor, tags ...string) {
	t.Helper()
	for _, tag := range tags {
		if err := l.Tag(context.Background(), desc, tag); err != nil {
			t.Fatalf("tag %s: %v", tag, err)
		}
	}
}
