package transfer_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/transfer"
)

// plainOpts are the options of a copy between the test registries.
func plainOpts() transfer.Options {
	return transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}}
}

// pushExample packs the example files and pushes them to reg as repo:v1;
// it returns v1's graph.
func pushExample(t *testing.T, reg *testkit.Registry, repo string) graph {
	t.Helper()
	src, g, _ := packExample(t)
	if _, err := transfer.Push(testCtx(t), src, "v1", regRef(t, reg, repo), "v1", plainOpts()); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestCopyRegistry copies an artifact between two registries by tag (the
// destination tag defaulting to the source's, then another one), and by
// digest (untagged, then tagged): the digests stay, the blobs travel once,
// and a second copy skips them all.
func TestCopyRegistry(t *testing.T) {
	ctx := testCtx(t)
	a := testkit.StartRegistry(t, testkit.RegistryOptions{})
	b := testkit.StartRegistry(t, testkit.RegistryOptions{})
	g := pushExample(t, a, "apps/src")
	nBlobs := len(g.digests())

	res, err := transfer.CopyRegistry(ctx, regRef(t, a, "apps/src:v1"), regRef(t, b, "mirror/app"), plainOpts())
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Digest != g.manifest.Digest || res.Copied != nBlobs || res.Skipped != 0 || res.Mounted != 0 || res.Manifests != 1 {
		t.Errorf("copy: %+v; want manifest %s, %d blobs copied", res, g.manifest.Digest, nBlobs)
	}
	if want := g.blobBytes() + g.manifest.Size; res.Bytes != want {
		t.Errorf("copy moved %d bytes, want %d (blobs and manifest)", res.Bytes, want)
	}
	dst := b.Repository(t, "mirror/app")
	if d, err := dst.Resolve(ctx, "v1"); err != nil || d.Digest != g.manifest.Digest {
		t.Errorf("destination v1 = %v, %v; want %s", d.Digest, err, g.manifest.Digest)
	}
	for _, blob := range g.blobs {
		if ok, err := dst.Exists(ctx, blob); !ok || err != nil {
			t.Errorf("destination lacks %s: %v", blob.Digest, err)
		}
	}

	// Again, under another tag: everything is there.
	again, err := transfer.CopyRegistry(ctx, regRef(t, a, "apps/src:v1"), regRef(t, b, "mirror/app:stable"), plainOpts())
	if err != nil {
		t.Fatal(err)
	}
	if again.Copied != 0 || again.Skipped != nBlobs || again.Bytes != g.manifest.Size {
		t.Errorf("second copy: %+v; want nothing copied, %d skipped, only the manifest (%d bytes) sent to tag it", again, nBlobs, g.manifest.Size)
	}
	if tags := registryTags(t, dst); !slices.Equal(tags, []string{"stable", "v1"}) {
		t.Errorf("destination tags = %v, want [stable v1]", tags)
	}

	// By digest: untagged, then tagged.
	byDigest := regRef(t, a, "apps/src@"+g.manifest.Digest.String())
	if _, err := transfer.CopyRegistry(ctx, byDigest, regRef(t, b, "mirror/pinned"), plainOpts()); err != nil {
		t.Fatal(err)
	}
	pinned := b.Repository(t, "mirror/pinned")
	if d, err := pinned.Resolve(ctx, g.manifest.Digest.String()); err != nil || d.Digest != g.manifest.Digest {
		t.Errorf("copy by digest: destination has %v, %v", d.Digest, err)
	}
	// Distribution answers 404 to the tag list of a repository without tags.
	if tags, err := transfer.ListTags(ctx, regRef(t, b, "mirror/pinned"), plainOpts().Connection); len(tags) != 0 || err != nil && !errors.Is(err, transfer.ErrRepositoryNotFound) {
		t.Errorf("copy by digest tagged %v (%v); want no tag", tags, err)
	}
	if _, err := transfer.CopyRegistry(ctx, byDigest, regRef(t, b, "mirror/pinned:v9"), plainOpts()); err != nil {
		t.Fatal(err)
	}
	if d, err := pinned.Resolve(ctx, "v9"); err != nil || d.Digest != g.manifest.Digest {
		t.Errorf("copy by digest to a tag: v9 = %v, %v", d.Digest, err)
	}

	// A destination digest is refused; an unknown source is named.
	if _, err := transfer.CopyRegistry(ctx, regRef(t, a, "apps/src:v1"), regRef(t, b, "mirror/app@"+g.manifest.Digest.String()), plainOpts()); !errors.Is(err, transfer.ErrInvalidReference) {
		t.Errorf("copy to a digest: err = %v, want ErrInvalidReference", err)
	}
	_, err = transfer.CopyRegistry(ctx, regRef(t, a, "apps/nosuch:v1"), regRef(t, b, "mirror/x"), plainOpts())
	if err == nil || !strings.Contains(err.Error(), "apps/nosuch:v1") {
		t.Errorf("copy of an unknown repository: err = %v, want it named", err)
	}
}

// TestCopyRegistryMount copies between two repositories of one registry,
// through a proxy that counts the request bodies: the blobs are mounted,
// so only the manifest is sent; a second copy mounts nothing either.
func TestCopyRegistryMount(t *testing.T) {
	ctx := testCtx(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	g := pushExample(t, reg, "apps/src")
	nBlobs := len(g.digests())
	p := testkit.StartProxy(t, reg.URL, testkit.ProxyOptions{})
	via := &testkit.Registry{Host: p.Host, URL: p.URL, PlainHTTP: true}

	res, err := transfer.CopyRegistry(ctx, regRef(t, via, "apps/src:v1"), regRef(t, via, "apps/dst"), plainOpts())
	if err != nil {
		t.Fatal(err)
	}
	if res.Mounted != nBlobs || res.Copied != nBlobs || res.Skipped != 0 || res.Bytes != g.manifest.Size {
		t.Errorf("copy: %+v; want %d blobs mounted, only the manifest's %d bytes moved", res, nBlobs, g.manifest.Size)
	}
	if up := p.Stats().Up; up != g.manifest.Size {
		t.Errorf("the registry received %d request-body bytes, want %d (the manifest alone: the blobs are mounted)", up, g.manifest.Size)
	}
	dst := reg.Repository(t, "apps/dst")
	for _, blob := range g.blobs {
		if ok, err := dst.Exists(ctx, blob); !ok || err != nil {
			t.Errorf("destination lacks mounted %s: %v", blob.Digest, err)
		}
	}
	if d, err := dst.Resolve(ctx, "v1"); err != nil || d.Digest != g.manifest.Digest {
		t.Errorf("destination v1 = %v, %v", d.Digest, err)
	}

	before := p.Stats().Up
	again, err := transfer.CopyRegistry(ctx, regRef(t, via, "apps/src:v1"), regRef(t, via, "apps/dst"), plainOpts())
	if err != nil {
		t.Fatal(err)
	}
	if again.Mounted != 0 || again.Copied != 0 || again.Skipped != nBlobs {
		t.Errorf("second copy: %+v; want every blob skipped", again)
	}
	if up := p.Stats().Up - before; up != g.manifest.Size {
		t.Errorf("second copy sent %d bytes, want %d (the manifest, to tag it)", up, g.manifest.Size)
	}
}

// TestCopyRegistryTags copies every tag of a repository (listed in pages)
// to another registry, several at once, through a proxy that counts what
// the destination receives: each shared blob is sent once.
func TestCopyRegistryTags(t *testing.T) {
	ctx := testCtx(t)
	transfer.SetTagListPageSize(t, 3)
	a, src, ref, tags, want := startTags(t, 8)
	pushTags(t, ctx, src, ref, tags, plainOpts())
	b := testkit.StartRegistry(t, testkit.RegistryOptions{})
	p := testkit.StartProxy(t, b.URL, testkit.ProxyOptions{})
	via := &testkit.Registry{Host: p.Host, URL: p.URL, PlainHTTP: true}

	// What must travel: every distinct blob once, every manifest.
	var wantUp int64
	blobs := map[digest.Digest]bool{}
	for _, tag := range tags {
		g := graphOf(t, src, tag)
		wantUp += g.manifest.Size
		for _, bl := range g.blobs {
			if !blobs[bl.Digest] {
				blobs[bl.Digest] = true
				wantUp += bl.Size
			}
		}
	}

	opts := plainOpts()
	opts.Concurrency = transfer.ConcurrencyOptions{Blobs: 4, Tags: 4}
	res, _ := copyTags(t, "copy tags", tags, opts, func(opts transfer.Options, each func(string, *transfer.Result)) error {
		return transfer.CopyRegistryTags(ctx, regRef(t, a, "apps/many"), regRef(t, via, "apps/copy"), nil, opts, each)
	})
	res.wantSums("copy tags", len(blobs), 8*3-len(blobs))
	if up := p.Stats().Up; up != wantUp {
		t.Errorf("the destination received %d request-body bytes, want %d (each blob once, each manifest)", up, wantUp)
	}
	dst := b.Repository(t, "apps/copy")
	if got := registryTags(t, dst); !slices.Equal(got, tags) {
		t.Errorf("destination tags = %v, want %v", got, tags)
	}
	for _, tag := range tags {
		if d, err := dst.Resolve(ctx, tag); err != nil || d.Digest != want[tag] {
			t.Errorf("destination %s = %v, %v; want %s", tag, d.Digest, err, want[tag])
		}
	}

	// Again: nothing but the manifests.
	before := p.Stats().Up
	again, _ := copyTags(t, "copy tags again", tags, opts, func(opts transfer.Options, each func(string, *transfer.Result)) error {
		return transfer.CopyRegistryTags(ctx, regRef(t, a, "apps/many"), regRef(t, via, "apps/copy"), nil, opts, each)
	})
	again.wantSums("copy tags again", 0, 8*3)
	var manifests int64
	for _, tag := range tags {
		manifests += graphOf(t, src, tag).manifest.Size
	}
	if up := p.Stats().Up - before; up != manifests {
		t.Errorf("second copy sent %d bytes, want %d (the manifests)", up, manifests)
	}
}

// TestCopyRegistryReferrers copies an index whose root and one child have
// an SBOM each: with Referrers both SBOMs arrive, without neither does.
func TestCopyRegistryReferrers(t *testing.T) {
	ctx := testCtx(t)
	a := testkit.StartRegistry(t, testkit.RegistryOptions{})
	b := testkit.StartRegistry(t, testkit.RegistryOptions{})
	l := testkit.NewLayout(t)
	m1 := testkit.StoreManifest(t, l, "", "linux/amd64")
	m2 := testkit.StoreManifest(t, l, "", "linux/arm64")
	idx := testkit.PushJSON(t, l, ocispec.MediaTypeImageIndex, ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{m1, m2},
	}, "multi")
	onRoot := addSBOM(t, l, idx)
	onChild := testkit.PushReferrer(t, l, m2, sbomType, "application/spdx+json", []byte(`{"spdxVersion":"SPDX-2.3","name":"arm64"}`))
	opts := plainOpts()
	opts.Referrers = true
	if _, err := transfer.Push(ctx, l, "multi", regRef(t, a, "apps/idx"), "multi", opts); err != nil {
		t.Fatal(err)
	}

	if _, err := transfer.CopyRegistry(ctx, regRef(t, a, "apps/idx:multi"), regRef(t, b, "apps/plain"), plainOpts()); err != nil {
		t.Fatal(err)
	}
	plain := b.Repository(t, "apps/plain")
	if rs := registryReferrers(t, ctx, plain, idx); len(rs) != 0 {
		t.Errorf("copy without Referrers carried %v", rs)
	}

	res, err := transfer.CopyRegistry(ctx, regRef(t, a, "apps/idx:multi"), regRef(t, b, "apps/idx"), opts)
	if err != nil {
		t.Fatal(err)
	}
	// The index, its two children, the two SBOMs.
	if res.Manifest.Digest != idx.Digest || res.Manifests != 5 {
		t.Errorf("copy with referrers: %+v; want %s and 5 manifests", res, idx.Digest)
	}
	dst := b.Repository(t, "apps/idx")
	for _, c := range []struct {
		subject, sbom ocispec.Descriptor
	}{{idx, onRoot}, {m2, onChild}} {
		rs := registryReferrers(t, ctx, dst, c.subject)
		if len(rs) != 1 || rs[0].Digest != c.sbom.Digest {
			t.Errorf("destination referrers of %s = %v, want the SBOM %s", c.subject.Digest, rs, c.sbom.Digest)
		}
	}
	if rs := registryReferrers(t, ctx, dst, m1); len(rs) != 0 {
		t.Errorf("destination referrers of %s = %v, want none", m1.Digest, rs)
	}
}

// TestListTags lists a repository whose tags take several pages, one
// without tags is unknown, and a reference with a tag is refused.
func TestListTags(t *testing.T) {
	ctx := testCtx(t)
	transfer.SetTagListPageSize(t, 2)
	reg, src, ref, tags, _ := startTags(t, 5)
	pushTags(t, ctx, src, ref, tags, plainOpts())
	got, err := transfer.ListTags(ctx, ref, plainOpts().Connection)
	if err != nil || !slices.Equal(got, tags) {
		t.Errorf("ListTags = %v, %v; want %v (over 3 pages)", got, err, tags)
	}
	_, err = transfer.ListTags(ctx, regRef(t, reg, "apps/nosuch"), plainOpts().Connection)
	if !errors.Is(err, transfer.ErrRepositoryNotFound) || !strings.Contains(err.Error(), "apps/nosuch") || strings.Contains(err.Error(), "\n") {
		t.Errorf("ListTags of an unknown repository: %v; want ErrRepositoryNotFound naming it on one line", err)
	}
	if _, err := transfer.ListTags(ctx, regRef(t, reg, "apps/many:t00"), plainOpts().Connection); !errors.Is(err, transfer.ErrInvalidReference) {
		t.Errorf("ListTags of a tag: %v, want ErrInvalidReference", err)
	}
}
