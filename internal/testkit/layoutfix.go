package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"

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

// NewLayout creates an empty layout in a new temporary directory and
// closes it when the test ends.
func NewLayout(t testing.TB) *layout.Layout {
	t.Helper()
	l, err := layout.OpenOrCreate(context.Background(), filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatalf("OpenOrCreate: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// StoreManifest stores a one-layer image manifest whose layer (titled
// body.txt) holds body, with the given artifact type and the empty config,
// and returns the manifest's descriptor (untagged).
func StoreManifest(t testing.TB, l *layout.Layout, artifactType, body string) ocispec.Descriptor {
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

// PushJSON pushes v, marshalled to JSON, as a blob of mediaType into target
// (a layout or a registry repository), content already there being fine,
// tags it when tag is not empty, and returns its descriptor.
func PushJSON(t testing.TB, target oras.Target, mediaType string, v any, tag string) ocispec.Descriptor {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	d := content.NewDescriptorFromBytes(mediaType, b)
	if err := target.Push(context.Background(), d, bytes.NewReader(b)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		t.Fatalf("push %s: %v", mediaType, err)
	}
	if tag != "" {
		if err := target.Tag(context.Background(), d, tag); err != nil {
			t.Fatalf("tag %s: %v", tag, err)
		}
	}
	return d
}

// OpenLayout opens the existing layout at dir and closes it when the test
// ends.
func OpenLayout(t testing.TB, dir string) *layout.Layout {
	t.Helper()
	l, err := layout.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// Manifest resolves ref in l and reads the image manifest it names.
func Manifest(t testing.TB, l *layout.Layout, ref string) (ocispec.Descriptor, *ocispec.Manifest) {
	t.Helper()
	ctx := context.Background()
	desc, err := l.Resolve(ctx, ref)
	if err != nil {
		t.Fatalf("resolve %s: %v", ref, err)
	}
	m, err := layout.ReadManifest(ctx, l, desc)
	if err != nil {
		t.Fatalf("read manifest %s: %v", ref, err)
	}
	return desc, m
}

// Tags lists the tags of l, in the order l lists them, and checks that each
// tag's descriptor carries its name as the ref.name annotation.
func Tags(t testing.TB, l *layout.Layout) []string {
	t.Helper()
	tags, err := l.Tags(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tg := range tags {
		if tg.Descriptor.Annotations[ocispec.AnnotationRefName] != tg.Tag {
			t.Errorf("tag %q: descriptor annotation says %q", tg.Tag, tg.Descriptor.Annotations[ocispec.AnnotationRefName])
		}
		out = append(out, tg.Tag)
	}
	return out
}

// DockerAuths returns the "auths" of the Docker config.json in dir (as
// DOCKER_CONFIG names it); a missing file has none.
func DockerAuths(t testing.TB, dir string) map[string]map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Auths map[string]map[string]string `json:"auths"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("config.json: %v\n%s", err, b)
	}
	return cfg.Auths
}

// PushReferrer stores in target (a layout or a registry repository) an
// artifact manifest of artifactType whose subject is subject, with the
// empty config and one layer of layerType holding data, the way an SBOM or
// signing tool does: the blobs, then the manifest, whose descriptor (with
// artifactType) it returns. Content already there is fine.
func PushReferrer(t testing.TB, target oras.Target, subject ocispec.Descriptor, artifactType, layerType string, data []byte) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	push := func(d ocispec.Descriptor, b []byte) {
		t.Helper()
		if err := target.Push(ctx, d, bytes.NewReader(b)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
			t.Fatalf("push %s: %v", d.MediaType, err)
		}
	}
	layer := content.NewDescriptorFromBytes(layerType, data)
	push(layer, data)
	push(ocispec.DescriptorEmptyJSON, ocispec.DescriptorEmptyJSON.Data)
	subj := ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	b, err := json.Marshal(ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType,
		Config:       ocispec.DescriptorEmptyJSON,
		Layers:       []ocispec.Descriptor{layer},
		Subject:      &subj,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, b)
	m.ArtifactType = artifactType
	push(m, b)
	return m
}
