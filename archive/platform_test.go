package archive_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/archive"
	"github.com/ocipack/ocipack/graph"
	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

// TestExportPlatformSubset exports one platform of a three-platform index
// and imports it: the imported tag names an index of that child alone,
// annotated with its source, and only its blobs travelled; a platform
// none has fails before any file is written; all platforms keep the index.
func TestExportPlatformSubset(t *testing.T) {
	ctx := t.Context()
	src := testkit.NewLayout(t)
	srcIdx, imgs := testkit.PushPlatformIndex(t, src, "v1", "linux/amd64", "linux/arm64/v8", "linux/arm/v7")
	dir := t.TempDir()
	arm64, _ := graph.ParsePlatform("linux/arm64")

	path := filepath.Join(dir, "arm64.tar")
	rep, err := archive.ExportFile(ctx, src, []string{"v1"}, path, archive.ExportOptions{Platforms: []ocispec.Platform{arm64}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Blobs != 4 { // the new index, one manifest, its config and layer
		t.Errorf("exported %d blobs, want 4", rep.Blobs)
	}
	dst := testkit.NewLayout(t)
	if _, err := archive.Import(ctx, []string{path}, dst, archive.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := dst.Resolve(ctx, "v1")
	if err != nil || d.Digest == srcIdx.Digest {
		t.Fatalf("imported v1 = %v, %v; want a new index", d.Digest, err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(testkit.FetchBytes(t, dst, d), &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != imgs[1].Manifest.Digest ||
		idx.Annotations[graph.AnnotationSubsetSourceDigest] != srcIdx.Digest.String() || idx.Annotations[graph.AnnotationSubsetSourceRef] != "v1" {
		t.Errorf("imported index %s", testkit.FetchBytes(t, dst, d))
	}
	want := []string{d.Digest.String(), imgs[1].Manifest.Digest.String(), imgs[1].Blobs[0].Digest.String(), imgs[1].Blobs[1].Digest.String()}
	slices.Sort(want)
	got := testkit.BlobDigests(t, dst.Path())
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("imported blobs %v, want %v", got, want)
	}
	if rep, err := dst.Check(ctx, layout.CheckOptions{}); err != nil || len(rep.Problems) != 0 {
		t.Errorf("check: %v %v", err, rep)
	}

	// No match: an error listing the platforms, and no file.
	none := filepath.Join(dir, "none.tar")
	_, err = archive.ExportFile(ctx, src, nil, none, archive.ExportOptions{Platforms: []ocispec.Platform{{OS: "windows", Architecture: "amd64"}}})
	if !errors.Is(err, graph.ErrNoMatchingPlatform) || !strings.Contains(err.Error(), "linux/arm64/v8") {
		t.Errorf("no match: %v", err)
	}
	if _, serr := os.Stat(none); !os.IsNotExist(serr) {
		t.Errorf("no match left %s: %v", none, serr)
	}

	// Every platform: the index itself.
	all := filepath.Join(dir, "all.tar")
	ps, _ := graph.ParsePlatforms([]string{"linux/amd64,linux/arm64,linux/arm"})
	if _, err := archive.ExportFile(ctx, src, nil, all, archive.ExportOptions{Platforms: ps}); err != nil {
		t.Fatal(err)
	}
	dst2 := testkit.NewLayout(t)
	if _, err := archive.Import(ctx, []string{all}, dst2, archive.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if d, err := dst2.Resolve(ctx, "v1"); err != nil || d.Digest != srcIdx.Digest {
		t.Errorf("all platforms: v1 = %v, %v; want %s", d.Digest, err, srcIdx.Digest)
	}
}
