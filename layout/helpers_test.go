package layout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/layout"
)

// newLayout creates a fresh layout in a temporary directory.
func newLayout(t testing.TB) *layout.Layout {
	t.Helper()
	l, err := layout.OpenOrCreate(context.Background(), filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatalf("OpenOrCreate: %v", err)
	}
	return l
}

// storeManifest stores a one-layer image manifest whose layer holds body,
// with the given artifact type, and returns the manifest's descriptor
// (untagged).
func storeManifest(t testing.TB, l *layout.Layout, artifactType, body string) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	cfg, err := l.Ingest(ctx, ocispec.MediaTypeEmptyJSON, bytes.NewReader(ocispec.DescriptorEmptyJSON.Data))
	if err != nil {
		t.Fatal(err)
	}
	layer, err := l.Ingest(ctx, "application/octet-stream", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	layer.Annotations = map[string]string{ocispec.AnnotationTitle: "body.txt"}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType,
		Config:       cfg,
		Layers:       []ocispec.Descriptor{layer},
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := l.Ingest(ctx, ocispec.MediaTypeImageManifest, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	desc.ArtifactType = artifactType
	return desc
}

// readIndexFile parses the layout's index.json straight from disk.
func readIndexFile(t testing.TB, l *layout.Layout) ocispec.Index {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(l.Path(), "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatalf("index.json is not valid JSON: %v\n%s", err, b)
	}
	return idx
}

// dirNames lists the names in dir ("" entries when it does not exist fail
// the test).
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// tmpFiles lists what is left in the layout's temporary directory.
func tmpFiles(t testing.TB, l *layout.Layout) []string {
	t.Helper()
	return dirNames(t, filepath.Join(l.Path(), layout.WorkDir, "tmp"))
}

// blobFiles lists blobs/sha256.
func blobFiles(t testing.TB, l *layout.Layout) []string {
	t.Helper()
	return dirNames(t, filepath.Join(l.Path(), "blobs", "sha256"))
}

// emptyIndex is the index a new layout has.
var emptyIndex = ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}
