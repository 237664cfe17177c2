package transfer_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	ogr "github.com/ocipack/ocipack/graph"
	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/transfer"
)

var threePlatforms = []string{"linux/amd64", "linux/arm64/v8", "linux/arm/v7"}

func platforms(t *testing.T, s ...string) []ocispec.Platform {
	t.Helper()
	ps, err := ogr.ParsePlatforms(s)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// storedIndex reads the index tag names in l.
func storedIndex(t *testing.T, l *layout.Layout, tag string) (ocispec.Descriptor, ocispec.Index) {
	t.Helper()
	d, err := l.Resolve(t.Context(), tag)
	if err != nil {
		t.Fatal(err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(testkit.FetchBytes(t, l, d), &idx); err != nil {
		t.Fatal(err)
	}
	return d, idx
}

func childDigests(idx ocispec.Index) []string {
	var out []string
	for _, d := range idx.Manifests {
		out = append(out, d.Digest.String())
	}
	return out
}

// TestPullPlatformSubset pulls one and two platforms of a three-platform
// index from a real registry: the layout holds a new index listing exactly
// those children in source order, annotated with its source, and none of
// the other children's blobs; it verifies.
func TestPullPlatformSubset(t *testing.T) {
	ctx := testCtx(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	srcIdx, imgs := testkit.PushPlatformIndex(t, reg.Repository(t, "apps/multi"), "v1", threePlatforms...)
	ref := regRef(t, reg, "apps/multi:v1")
	conn := transfer.ConnectionOptions{PlainHTTP: true}

	for _, tc := range []struct {
		want []string
		keep []int
	}{
		{[]string{"linux/arm64"}, []int{1}},
		{[]string{"linux/arm", "linux/amd64"}, []int{0, 2}}, // source order
	} {
		l := testkit.NewLayout(t)
		res, err := transfer.Pull(ctx, ref, l, "v1", transfer.Options{Connection: conn, Platforms: platforms(t, tc.want...)})
		if err != nil {
			t.Fatalf("pull %v: %v", tc.want, err)
		}
		d, idx := storedIndex(t, l, "v1")
		if d.Digest == srcIdx.Digest || res.Manifest.Digest != d.Digest {
			t.Errorf("%v: stored %s (result %s), want a new index, not the source's %s", tc.want, d.Digest, res.Manifest.Digest, srcIdx.Digest)
		}
		var want []string
		wantBlobs := []string{d.Digest.String()}
		for _, i := range tc.keep {
			want = append(want, imgs[i].Manifest.Digest.String())
			wantBlobs = append(wantBlobs, imgs[i].Manifest.Digest.String())
			for _, b := range imgs[i].Blobs {
				wantBlobs = append(wantBlobs, b.Digest.String())
			}
		}
		if got := childDigests(idx); !slices.Equal(got, want) {
			t.Errorf("%v: children %v, want %v", tc.want, got, want)
		}
		if idx.Annotations[ogr.AnnotationSubsetSourceDigest] != srcIdx.Digest.String() || idx.Annotations[ogr.AnnotationSubsetSourceRef] != ref.String() {
			t.Errorf("%v: annotations %v", tc.want, idx.Annotations)
		}
		slices.Sort(wantBlobs)
		got := testkit.BlobDigests(t, l.Path())
		slices.Sort(got)
		if !slices.Equal(got, wantBlobs) {
			t.Errorf("%v: layout blobs %v, want %v", tc.want, got, wantBlobs)
		}
		rep, err := l.Check(ctx, layout.CheckOptions{})
		if err != nil || len(rep.Problems) != 0 {
			t.Errorf("%v: check: %v %v", tc.want, err, rep)
		}
	}

	// Every platform asked for: the source index, unchanged.
	l := testkit.NewLayout(t)
	if _, err := transfer.Pull(ctx, ref, l, "v1", transfer.Options{Connection: conn, Platforms: platforms(t, "linux/amd64,linux/arm64,linux/arm/v7")}); err != nil {
		t.Fatal(err)
	}
	if d, _ := storedIndex(t, l, "v1"); d.Digest != srcIdx.Digest {
		t.Errorf("all platforms: stored %s, want the source's %s", d.Digest, srcIdx.Digest)
	}

	// No match: the error lists what there is; nothing tagged.
	l = testkit.NewLayout(t)
	_, err := transfer.Pull(ctx, ref, l, "v1", transfer.Options{Connection: conn, Platforms: platforms(t, "linux/s390x")})
	if !errors.Is(err, transfer.ErrNoPlatform) || !strings.Contains(err.Error(), "linux/amd64, linux/arm64/v8, linux/arm/v7") {
		t.Errorf("no match: %v", err)
	}
	if tags := testkit.Tags(t, l); len(tags) != 0 {
		t.Errorf("no match tagged %v", tags)
	}

	// A single image of another platform is refused.
	testkit.PushPlatformImage(t, reg.Repository(t, "apps/single"), "v1", "linux/arm64")
	_, err = transfer.Pull(ctx, regRef(t, reg, "apps/single:v1"), l, "v1", transfer.Options{Connection: conn, Platforms: platforms(t, "linux/amd64")})
	if !errors.Is(err, transfer.ErrNoPlatform) || !strings.Contains(err.Error(), "available: linux/arm64") {
		t.Errorf("single image of another platform: %v", err)
	}
	if tags := testkit.Tags(t, l); len(tags) != 0 {
		t.Errorf("refused single image tagged %v", tags)
	}
}

// TestPushPlatformSubset pushes one platform of an index in a layout, by
// tag and by digest: the registry gets the subset index and that child's
// blobs only.
func TestPushPlatformSubset(t *testing.T) {
	ctx := testCtx(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	l := testkit.NewLayout(t)
	srcIdx, imgs := testkit.PushPlatformIndex(t, l, "v1", threePlatforms...)
	opts := transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, Platforms: platforms(t, "linux/arm/v7")}
	res, err := transfer.Push(ctx, l, "v1", regRef(t, reg, "apps/sub"), "v1", opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Digest == srcIdx.Digest {
		t.Fatal("pushed the whole index")
	}
	direct := reg.Repository(t, "apps/sub")
	d, err := direct.Resolve(ctx, "v1")
	if err != nil || d.Digest != res.Manifest.Digest {
		t.Fatalf("registry's v1 = %v, %v; want %s", d.Digest, err, res.Manifest.Digest)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(testkit.FetchBytes(t, direct, d), &idx); err != nil {
		t.Fatal(err)
	}
	if got := childDigests(idx); !slices.Equal(got, []string{imgs[2].Manifest.Digest.String()}) {
		t.Errorf("pushed children %v", got)
	}
	if idx.Annotations[ogr.AnnotationSubsetSourceDigest] != srcIdx.Digest.String() || idx.Annotations[ogr.AnnotationSubsetSourceRef] != l.Path()+":v1" {
		t.Errorf("annotations %v", idx.Annotations)
	}
	for i, img := range imgs {
		for _, b := range img.Blobs {
			ok, err := direct.Blobs().Exists(ctx, b)
			if err != nil || ok != (i == 2) {
				t.Errorf("%s blob %s in the registry: %v, %v", img.Platform, b.Digest, ok, err)
			}
		}
	}

	// By digest, no destination tag: stored by the new index's digest,
	// which records the source by digest.
	res2, err := transfer.Push(ctx, l, srcIdx.Digest.String(), regRef(t, reg, "apps/sub2"), "", opts)
	if err != nil {
		t.Fatal(err)
	}
	direct2 := reg.Repository(t, "apps/sub2")
	if ok, err := direct2.Exists(ctx, res2.Manifest); err != nil || !ok || res2.Manifest.Digest == srcIdx.Digest {
		t.Fatalf("by digest: the registry lacks the subset %s: %v %v", res2.Manifest.Digest, ok, err)
	}
	var idx2 ocispec.Index
	if err := json.Unmarshal(testkit.FetchBytes(t, direct2, res2.Manifest), &idx2); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(childDigests(idx2), childDigests(idx)) || idx2.Annotations[ogr.AnnotationSubsetSourceRef] != l.Path()+"@"+srcIdx.Digest.String() {
		t.Errorf("by digest: pushed %s", testkit.FetchBytes(t, direct2, res2.Manifest))
	}
}

// TestCopyRegistryPlatformSubset copies one platform of an index from one
// registry to another: the destination gets a new index listing that child
// alone, annotated with its source, and none of the other children's
// manifests or blobs.
func TestCopyRegistryPlatformSubset(t *testing.T) {
	ctx := testCtx(t)
	a := testkit.StartRegistry(t, testkit.RegistryOptions{})
	b := testkit.StartRegistry(t, testkit.RegistryOptions{})
	srcIdx, imgs := testkit.PushPlatformIndex(t, a.Repository(t, "apps/multi"), "v1", threePlatforms...)
	src := regRef(t, a, "apps/multi:v1")
	opts := transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, Platforms: platforms(t, "linux/arm64")}
	res, err := transfer.CopyRegistry(ctx, src, regRef(t, b, "mirror/multi"), opts)
	if err != nil {
		t.Fatal(err)
	}
	dst := b.Repository(t, "mirror/multi")
	d, err := dst.Resolve(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Digest == srcIdx.Digest || res.Manifest.Digest != d.Digest {
		t.Errorf("destination v1 = %s (result %s), want a new index, not the source's %s", d.Digest, res.Manifest.Digest, srcIdx.Digest)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(testkit.FetchBytes(t, dst, d), &idx); err != nil {
		t.Fatal(err)
	}
	if got, want := childDigests(idx), []string{imgs[1].Manifest.Digest.String()}; !slices.Equal(got, want) {
		t.Errorf("children %v, want %v", got, want)
	}
	if idx.Annotations[ogr.AnnotationSubsetSourceDigest] != srcIdx.Digest.String() || idx.Annotations[ogr.AnnotationSubsetSourceRef] != src.String() {
		t.Errorf("annotations %v", idx.Annotations)
	}
	for i, img := range imgs {
		for _, blob := range append([]ocispec.Descriptor{img.Manifest}, img.Blobs...) {
			ok, err := dst.Exists(ctx, blob)
			if err != nil {
				t.Fatal(err)
			}
			if ok != (i == 1) {
				t.Errorf("platform %s: destination has %s: %v, want %v", threePlatforms[i], blob.Digest, ok, i == 1)
			}
		}
	}
}

// TestPushFullNamePlatformSubset pushes a platform subset of entries named
// by their full names with no destination tag: a name with a tag is pushed
// under that tag, a name with only a digest by digest (never the full name
// as a registry tag).
func TestPushFullNamePlatformSubset(t *testing.T) {
	ctx := testCtx(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	l := testkit.NewLayout(t)
	srcIdx, _ := testkit.PushPlatformIndex(t, l, "", threePlatforms...)
	tagged, byDigest := "registry.example/apps/multi:1.27", "registry.example/apps/multi@"+srcIdx.Digest.String()
	testkit.Tag(t, l, srcIdx, tagged, byDigest)
	opts := transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, Platforms: platforms(t, "linux/amd64")}

	res, err := transfer.Push(ctx, l, tagged, regRef(t, reg, "apps/multi"), "", opts)
	if err != nil {
		t.Fatalf("push %s: %v", tagged, err)
	}
	direct := reg.Repository(t, "apps/multi")
	if d, err := direct.Resolve(ctx, "1.27"); err != nil || d.Digest != res.Manifest.Digest || d.Digest == srcIdx.Digest {
		t.Errorf("registry's 1.27 = %v, %v; want the subset %s", d.Digest, err, res.Manifest.Digest)
	}

	res, err = transfer.Push(ctx, l, byDigest, regRef(t, reg, "apps/bydigest"), "", opts)
	if err != nil {
		t.Fatalf("push %s: %v", byDigest, err)
	}
	if ok, err := reg.Repository(t, "apps/bydigest").Exists(ctx, res.Manifest); err != nil || !ok {
		t.Errorf("the registry lacks the subset pushed by digest %s: %v, %v", res.Manifest.Digest, ok, err)
	}
}
