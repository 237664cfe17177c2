package main

// Names that survive the trip: entries pulled without a destination tag
// keep their full source names; commands address them by full name; an
// archive `docker save` or `ctr export` wrote keeps two images that share
// a tag under different names.

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

// TestNamesPullFullName pulls from a real registry: without LAYOUT:TAG
// the entry is named by its full name in both annotations (by tag and by
// digest), with one it is the plain tag as before; two repositories'
// "1.27" live side by side and are addressed by full name.
func TestNamesPullFullName(t *testing.T) {
	registryIsolateDocker(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	work := t.TempDir()
	one, two := filepath.Join(work, "one"), filepath.Join(work, "two")
	testkit.WriteFile(t, filepath.Join(work, "a.txt"), "a")
	testkit.WriteFile(t, filepath.Join(work, "b.txt"), "b")
	registryMustRun(t, nil, "", "pack", one+":1.27", filepath.Join(work, "a.txt"))
	registryMustRun(t, nil, "", "pack", two+":1.27", filepath.Join(work, "b.txt"))
	nameA, nameB := reg.Host+"/library/nginx:1.27", reg.Host+"/mirror/nginx:1.27"
	registryMustRun(t, nil, "", "push", one+":1.27", nameA, "--plain-http", "-q")
	registryMustRun(t, nil, "", "push", two+":1.27", nameB, "--plain-http", "-q")
	da := registryArtifactOf(t, one, "1.27").manifest
	db := registryArtifactOf(t, two, "1.27").manifest

	dst := filepath.Join(work, "dst")
	r := registryMustRun(t, nil, "", "pull", nameA, dst, "--plain-http", "-q")
	if !strings.Contains(r.stdout, "-> "+dst+":"+nameA) {
		t.Errorf("pull summary %q does not name %s", r.stdout, nameA)
	}
	registryMustRun(t, nil, "", "pull", nameB, dst, "--plain-http", "-q")
	byDigest := reg.Host + "/library/nginx@" + da.String()
	registryMustRun(t, nil, "", "pull", byDigest, dst, "--plain-http", "-q")
	registryMustRun(t, nil, "", "pull", nameA, dst+":v1", "--plain-http", "-q")

	idx := testkit.ReadIndex(t, dst)
	got := map[string]digest.Digest{}
	for _, e := range idx.Manifests {
		name := e.Annotations[ocispec.AnnotationRefName]
		got[name] = e.Digest
		want := name
		if name == "v1" {
			want = ""
		}
		if c := e.Annotations[layout.AnnotationImageName]; c != want {
			t.Errorf("entry %q: io.containerd.image.name %q, want %q", name, c, want)
		}
	}
	want := map[string]digest.Digest{nameA: da, nameB: db, byDigest: da, "v1": da}
	if len(got) != len(want) {
		t.Errorf("index.json names %v, want %v", got, want)
	}
	for n, d := range want {
		if got[n] != d {
			t.Errorf("name %q -> %s, want %s", n, got[n], d)
		}
	}

	// Addressed by full name; the shared tag alone is ambiguous.
	for n, d := range map[string]digest.Digest{nameA: da, nameB: db, byDigest: da} {
		r := registryMustRun(t, nil, "", "inspect", dst+":"+n, "--json")
		var in struct{ Digest digest.Digest }
		if err := json.Unmarshal([]byte(r.stdout), &in); err != nil || in.Digest != d {
			t.Errorf("inspect %s: digest %s (%v), want %s", n, in.Digest, err, d)
		}
	}
	r = registryRun(t, nil, "", "inspect", dst+":1.27")
	if r.code == 0 || !strings.Contains(r.stderr, nameA) || !strings.Contains(r.stderr, nameB) {
		t.Errorf("inspect of the ambiguous 1.27: exit %d, %q; want a failure naming both", r.code, r.stderr)
	}
	out := filepath.Join(work, "out")
	registryMustRun(t, nil, "", "unpack", dst+":"+nameB, "-o", out, "-q")
	if b := testkit.ReadFile(t, filepath.Join(out, "b.txt")); string(b) != "b" {
		t.Errorf("unpacked %q", b)
	}
}

// dockerSaveArchive writes, as `docker save` and `ctr export` write it, a
// tar holding an OCI layout whose index.json names two different images
// with the same tag "1.27" under different full names (ref.name is only
// the tag), plus docker's manifest.json and repositories.
func dockerSaveArchive(t *testing.T, path string, names ...string) map[string]digest.Digest {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	blob := func(b []byte) ocispec.Descriptor {
		d := digest.FromBytes(b)
		add("blobs/sha256/"+d.Encoded(), b)
		return ocispec.Descriptor{Digest: d, Size: int64(len(b))}
	}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	idx.SchemaVersion = 2
	type dockerEntry struct{ Config, RepoTags, Layers any }
	var dm []dockerEntry
	want := map[string]digest.Digest{}
	for i, n := range names {
		layer := blob([]byte("layer of " + n))
		layer.MediaType = ocispec.MediaTypeImageLayer
		cfg := blob(testkit.MustJSON(t, map[string]any{"architecture": "amd64", "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": []string{layer.Digest.String()}}, "n": i}))
		cfg.MediaType = ocispec.MediaTypeImageConfig
		m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}}
		m.SchemaVersion = 2
		md := blob(testkit.MustJSON(t, m))
		md.MediaType = ocispec.MediaTypeImageManifest
		md.Annotations = map[string]string{layout.AnnotationImageName: n, ocispec.AnnotationRefName: "1.27"}
		idx.Manifests = append(idx.Manifests, md)
		dm = append(dm, dockerEntry{"blobs/sha256/" + cfg.Digest.Encoded(), []string{n}, []string{"blobs/sha256/" + layer.Digest.Encoded()}})
		want[n] = md.Digest
	}
	add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	add("index.json", testkit.MustJSON(t, idx))
	add("manifest.json", testkit.MustJSON(t, dm))
	add("repositories", []byte("{}"))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return want
}

// TestNamesImportDockerSave imports an archive as `docker save` writes it
// with two images tagged 1.27 under different names: both stay, under
// their full names; read in place they are addressed the same way.
func TestNamesImportDockerSave(t *testing.T) {
	work := t.TempDir()
	tarPath := filepath.Join(work, "saved.tar")
	want := dockerSaveArchive(t, tarPath, "docker.io/library/nginx:1.27", "registry.example/mirror/nginx:1.27")
	dst := filepath.Join(work, "dst")
	mustRun(t, "import", tarPath, dst)
	idx := testkit.ReadIndex(t, dst)
	if len(idx.Manifests) != 2 {
		t.Fatalf("index.json has %d entries, want 2: %+v", len(idx.Manifests), idx.Manifests)
	}
	for _, e := range idx.Manifests {
		n := e.Annotations[ocispec.AnnotationRefName]
		if want[n] != e.Digest || e.Annotations[layout.AnnotationImageName] != n {
			t.Errorf("entry %q (%s), annotations %v; want one of %v", n, e.Digest, e.Annotations, want)
		}
	}
	for n, d := range want {
		for _, ref := range []string{dst + ":" + n, tarPath + ":" + n} {
			r := mustRun(t, "inspect", ref, "--json")
			var in struct{ Digest digest.Digest }
			if err := json.Unmarshal([]byte(r.stdout), &in); err != nil || in.Digest != d {
				t.Errorf("inspect %s: %s (%v), want %s", ref, in.Digest, err, d)
			}
		}
	}
}

// TestNamesExportDockerManifest exports a layout holding two images with
// full names (one also tagged v1 and by digest) and a packed artifact:
// the .tar has a docker manifest.json listing the images once each, by
// their full names with a tag, whose paths are blobs of the archive with
// the right content; the archive verifies and imports back with the names.
func TestNamesExportDockerManifest(t *testing.T) {
	work := t.TempDir()
	saved := filepath.Join(work, "saved.tar")
	nameA, nameB := "docker.io/library/nginx:1.27", "registry.example/mirror/nginx:1.27"
	want := dockerSaveArchive(t, saved, nameA, nameB)
	lay := filepath.Join(work, "lay")
	mustRun(t, "import", saved, lay)
	byDigest := "registry.example/mirror/nginx@" + want[nameB].String()
	mustRun(t, "tag", lay+":"+nameA, "v1")
	mustRun(t, "tag", lay+":"+nameB, byDigest)
	testkit.WriteFile(t, filepath.Join(work, "f.txt"), "file")
	mustRun(t, "pack", lay+":files", filepath.Join(work, "f.txt"))

	out := filepath.Join(work, "out.tar")
	mustRun(t, "export", lay, out)
	files := map[string][]byte{}
	for _, e := range testkit.TarEntries(t, bytes.NewReader(testkit.ReadFile(t, out))) {
		files[e.Header.Name] = e.Body
	}
	var dm []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(files["manifest.json"], &dm); err != nil {
		t.Fatalf("manifest.json %q: %v", files["manifest.json"], err)
	}
	if len(dm) != 2 {
		t.Fatalf("manifest.json lists %d images, want 2 (no artifact): %s", len(dm), files["manifest.json"])
	}
	tags := map[string]bool{}
	for _, e := range dm {
		if len(e.RepoTags) != 1 {
			t.Errorf("image %s: RepoTags %v, want one full name (no plain tag, no digest)", e.Config, e.RepoTags)
		}
		for _, rt := range e.RepoTags {
			tags[rt] = true
		}
		for _, p := range append([]string{e.Config}, e.Layers...) {
			b, ok := files[p]
			if !ok || !strings.HasPrefix(p, "blobs/sha256/") || digest.FromBytes(b).Encoded() != strings.TrimPrefix(p, "blobs/sha256/") {
				t.Errorf("manifest.json names %q: not a blob of the archive with that content", p)
			}
		}
		if len(e.Layers) != 1 || !strings.HasPrefix(string(files[e.Layers[0]]), "layer of ") {
			t.Errorf("image %s: layers %v", e.Config, e.Layers)
		}
	}
	if !tags[nameA] || !tags[nameB] {
		t.Errorf("RepoTags %v, want %s and %s", tags, nameA, nameB)
	}
	mustRun(t, "verify", out)
	back := filepath.Join(work, "back")
	mustRun(t, "import", out, back)
	got := testkit.IndexTags(t, back)
	for n, d := range map[string]digest.Digest{nameA: want[nameA], nameB: want[nameB], "v1": want[nameA], byDigest: want[nameB]} {
		if got[n] != d.String() {
			t.Errorf("imported back: %q -> %q, want %s (all: %v)", n, got[n], d, got)
		}
	}
}
