package testkit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/layout"
)

// The layout fixtures read and damage an OCI image layout directory from its
// files, the way a user (or a crash) would, without going through the
// layout package's API.

// ReadIndex parses the index.json of the layout at dir.
func ReadIndex(t testing.TB, dir string) ocispec.Index {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatalf("index.json: %v", err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatalf("index.json does not parse: %v\n%s", err, b)
	}
	return idx
}

// IndexTags returns the tags index.json of the layout at dir lists (the
// org.opencontainers.image.ref.name annotations) and the digest each names.
// A tag listed twice fails the test.
func IndexTags(t testing.TB, dir string) map[string]string {
	t.Helper()
	tags := map[string]string{}
	for _, d := range ReadIndex(t, dir).Manifests {
		if tag := d.Annotations[ocispec.AnnotationRefName]; tag != "" {
			if _, dup := tags[tag]; dup {
				t.Errorf("index.json lists tag %q twice", tag)
			}
			tags[tag] = d.Digest.String()
		}
	}
	return tags
}

// BlobPath returns the path of blob d ("sha256:<hex>") in the layout at dir.
func BlobPath(dir string, d string) string {
	return filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(d, "sha256:"))
}

// BlobFiles returns the names of the files in blobs/sha256 of the layout at
// dir (hex digests), sorted; none when the directory does not exist.
func BlobFiles(t testing.TB, dir string) []string {
	t.Helper()
	return DirNamesIfAny(t, filepath.Join(dir, "blobs", "sha256"))
}

// BlobDigests is BlobFiles as digests ("sha256:<hex>").
func BlobDigests(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	for _, n := range BlobFiles(t, dir) {
		out = append(out, "sha256:"+n)
	}
	return out
}

// TmpFiles returns the names of the temporary files in the work directory
// of the layout at dir; none when there is no such directory.
func TmpFiles(t testing.TB, dir string) []string {
	t.Helper()
	return DirNamesIfAny(t, filepath.Join(dir, layout.WorkDir, "tmp"))
}

// FileDigestOf returns the digest of blob content b, as a string.
func FileDigestOf(b []byte) string { return digest.FromBytes(b).String() }
