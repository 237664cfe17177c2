package transfer_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/signing"
	"github.com/ocipack/ocipack/transfer"
)

// TestPolicy: Push with a Policy refuses an entry without a valid signature before anything
// is sent; PushTags refuses all when one is unsigned; Pull with a Policy
// fetches the signatures itself (no Referrers asked) and tags a signed
// artifact, and leaves one signed by another key untagged with no referrer listed.
func TestPolicy(t *testing.T) {
	ctx := context.Background()
	key, otherKey := testkit.NewSigningKey(t, "a.pub"), testkit.NewSigningKey(t, "b.pub")
	pol := key.Policy
	src := testkit.NewLayout(t)
	for tag, d := range testkit.TagManifests(t, src, "v1", "v2") {
		signer := key
		if tag == "v2" {
			signer = otherKey // a signature the policy does not accept
		}
		signer.Sign(t, src, d, tag)
	}
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	plain := transfer.ConnectionOptions{PlainHTTP: true}
	ref := regRef(t, reg, "pol/app")
	var fe *signing.FailedError

	_, err := transfer.Push(ctx, src, "v2", ref, "v2", transfer.Options{Connection: plain, Policy: pol})
	if !errors.As(err, &fe) || fe.Failed[0].Name != "v2" || !errors.Is(err, signing.ErrBadSignature) {
		t.Fatalf("Push of v2 signed by another key: %v", err)
	}
	err = transfer.PushTags(ctx, src, ref, []string{"v1", "v2"}, transfer.Options{Connection: plain, Policy: pol}, nil)
	if !errors.As(err, &fe) || len(fe.Failed) != 1 || fe.Failed[0].Name != "v2" {
		t.Fatalf("PushTags with unsigned v2: %v", err)
	}
	repo := reg.Repository(t, "pol/app")
	for _, tag := range []string{"v1", "v2"} {
		if _, err := repo.Resolve(ctx, tag); err == nil {
			t.Errorf("a refused push sent %s", tag)
		}
	}

	// Both up without a policy (v1 with its signature), then pulled with one.
	if err := transfer.PushTags(ctx, src, ref, []string{"v1", "v2"}, transfer.Options{Connection: plain, Referrers: true}, nil); err != nil {
		t.Fatal(err)
	}
	dst := testkit.NewLayout(t)
	v1 := ref
	v1.Reference = "v1"
	if _, err := transfer.Pull(ctx, v1, dst, "v1", transfer.Options{Connection: plain, Policy: pol}); err != nil {
		t.Fatalf("Pull of signed v1 with a policy: %v", err)
	}
	d1, err := dst.Resolve(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if r, err := signing.Verify(ctx, dst, d1, "v1", pol); err != nil || !r.OK() {
		t.Errorf("v1 pulled with a policy does not verify: %v %v", err, r.Err)
	}
	v2 := ref
	v2.Reference = "v2"
	idxBefore, _ := dst.Index(ctx)
	_, err = transfer.Pull(ctx, v2, dst, "v2", transfer.Options{Connection: plain, Policy: pol})
	if !errors.As(err, &fe) || !errors.Is(err, signing.ErrBadSignature) {
		t.Fatalf("Pull of v2 signed by another key with a policy: %v", err)
	}
	if _, err := dst.Resolve(ctx, "v2"); !errors.Is(err, layout.ErrNotFound) {
		t.Errorf("refused v2 was tagged: %v", err)
	}
	if idx, _ := dst.Index(ctx); len(idx.Manifests) != len(idxBefore.Manifests) {
		t.Errorf("index.json has %d entries after a refused pull, had %d: the pulled signature stayed listed", len(idx.Manifests), len(idxBefore.Manifests))
	}
}
