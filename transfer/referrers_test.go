package transfer_test

import (
	"bytes"
	"context"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/transfer"
)

const sbomType = "application/vnd.example.sbom.v1"

// addSBOM stores in l an SBOM manifest whose subject is subject, the way an
// SBOM tool would: its blobs, then the manifest, which layout.Push lists
// in index.json untagged because it has a subject.
func addSBOM(t *testing.T, l *layout.Layout, subject ocispec.Descriptor) ocispec.Descriptor {
	t.Helper()
	return testkit.PushReferrer(t, l, subject, sbomType, "application/spdx+json", []byte(`{"spdxVersion":"SPDX-2.3","name":"bundle"}`))
}

// registryReferrers lists the referrers of subject in repo.
func registryReferrers(t *testing.T, ctx context.Context, repo *remote.Repository, subject ocispec.Descriptor) []ocispec.Descriptor {
	t.Helper()
	var out []ocispec.Descriptor
	err := repo.Referrers(ctx, subject, "", func(rs []ocispec.Descriptor) error {
		out = append(out, rs...)
		return nil
	})
	if err != nil {
		t.Fatalf("referrers of %s: %v", subject.Digest, err)
	}
	return out
}

// TestReferrers carries an SBOM along with the artifact it describes, to the
// registry (which stores it under the referrers tag schema) and back into a
// layout, with Referrers; without, it stays behind.
func TestReferrers(t *testing.T) {
	ctx := testCtx(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	src := testkit.NewLayout(t)
	packed := packPaths(t, src, "v1", "../testdata/example/hello-0.1.0.tgz")
	a := packed.Manifest
	sbom := addSBOM(t, src, a)
	if preds, err := src.Predecessors(ctx, a); err != nil || len(preds) != 1 || preds[0].Digest != sbom.Digest {
		t.Fatalf("source layout referrers of A = %v, %v; want the SBOM %s", preds, err, sbom.Digest)
	}

	// Without Referrers: only the artifact.
	plain := regRef(t, reg, "apps/plain:v1")
	if _, err := transfer.Push(ctx, src, "v1", plain, "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}}); err != nil {
		t.Fatal(err)
	}
	if rs := registryReferrers(t, ctx, reg.Repository(t, "apps/plain"), a); len(rs) != 0 {
		t.Errorf("push without Referrers carried %v", rs)
	}
	if ok, err := reg.Repository(t, "apps/plain").Exists(ctx, sbom); err != nil || ok {
		t.Errorf("push without Referrers: SBOM manifest in the registry = %v, %v", ok, err)
	}

	// With Referrers.
	ref := regRef(t, reg, "apps/signed:v1")
	opts := transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, Referrers: true}
	res, err := transfer.Push(ctx, src, "v1", ref, "v1", opts)
	if err != nil {
		t.Fatalf("push with referrers: %v", err)
	}
	if res.Manifest.Digest != a.Digest || res.Manifests != 2 {
		t.Errorf("push with referrers: manifest %s, %d manifests sent; want %s and 2 (A and the SBOM)", res.Manifest.Digest, res.Manifests, a.Digest)
	}
	direct := reg.Repository(t, "apps/signed")
	rs := registryReferrers(t, ctx, direct, a)
	if len(rs) != 1 || rs[0].Digest != sbom.Digest || rs[0].ArtifactType != sbomType {
		t.Fatalf("registry referrers of A = %+v, want the SBOM %s (%s)", rs, sbom.Digest, sbomType)
	}
	if d, err := direct.Resolve(ctx, "v1"); err != nil || d.Digest != a.Digest {
		t.Errorf("registry v1 = %v, %v; want A", d.Digest, err)
	}

	// Pull without Referrers: the SBOM stays in the registry.
	bare := testkit.NewLayout(t)
	if _, err := transfer.Pull(ctx, ref, bare, "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}}); err != nil {
		t.Fatal(err)
	}
	if preds, err := bare.Predecessors(ctx, a); err != nil || len(preds) != 0 {
		t.Errorf("pull without Referrers: referrers %v, %v", preds, err)
	}
	if ok, _ := bare.Exists(ctx, sbom); ok {
		t.Error("pull without Referrers stored the SBOM manifest")
	}

	// Pull with Referrers.
	dst := testkit.NewLayout(t)
	res, err = transfer.Pull(ctx, ref, dst, "v1", opts)
	if err != nil {
		t.Fatalf("pull with referrers: %v", err)
	}
	if res.Manifest.Digest != a.Digest {
		t.Errorf("pulled %s, want %s", res.Manifest.Digest, a.Digest)
	}
	preds, err := dst.Predecessors(ctx, a)
	if err != nil || len(preds) != 1 || preds[0].Digest != sbom.Digest {
		t.Fatalf("pulled layout referrers of A = %+v, %v; want the SBOM %s", preds, err, sbom.Digest)
	}
	if d, err := dst.Resolve(ctx, "v1"); err != nil || d.Digest != a.Digest {
		t.Errorf("pulled v1 = %v, %v", d.Digest, err)
	}
	// The SBOM's own layer came along, intact.
	m, err := layout.ReadManifest(ctx, dst, preds[0])
	if err != nil {
		t.Fatal(err)
	}
	if b, err := layout.ReadBlob(ctx, dst, m.Layers[0], 1<<20); err != nil || !bytes.Contains(b, []byte("SPDX-2.3")) {
		t.Errorf("SBOM layer = %q, %v", b, err)
	}
	// Only v1 is tagged: the SBOM is listed untagged.
	tags, _ := dst.Tags(ctx)
	if len(tags) != 1 || tags[0].Tag != "v1" {
		t.Errorf("tags = %+v, want only v1", tags)
	}
}
