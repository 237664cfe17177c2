package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
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

// CopyExpect copies srcRef of src to dst as dstRef with oras.Copy and
// fails the test (naming what) unless it copies want's digest.
func CopyExpect(t testing.TB, what string, src oras.ReadOnlyTarget, srcRef string, dst oras.Target, dstRef string, want ocispec.Descriptor) {
	t.Helper()
	got, err := oras.Copy(context.Background(), src, srcRef, dst, dstRef, oras.DefaultCopyOptions)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got.Digest != want.Digest {
		t.Fatalf("%s: copied %s, want %s", what, got.Digest, want.Digest)
	}
}

// FetchBytes fetches the blob d from f and reads it whole (without
// verifying it: callers that test verification check it themselves).
func FetchBytes(t testing.TB, f content.Fetcher, d ocispec.Descriptor) []byte {
	t.Helper()
	rc, err := f.Fetch(context.Background(), d)
	if err != nil {
		t.Fatalf("fetch %s: %v", d.Digest, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", d.Digest, err)
	}
	return b
}
