package signing_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/signing"
)

const (
	identity = "release@example.com"
	issuer   = "https://issuer.example"
)

// trustedRoot writes the trusted_root.json of the virtual Sigstore vs and
// loads it back, as a user brings it along.
func trustedRoot(t *testing.T, vs *ca.VirtualSigstore) root.TrustedMaterial {
	t.Helper()
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(p, testkit.TrustedRootJSON(t, vs), 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := signing.LoadTrustedRoot(p)
	if err != nil {
		t.Fatal(err)
	}
	return loaded
}

// keylessBundle has vs sign d's cosign statement keyless for id, logged at
// logTime.
func keylessBundle(t *testing.T, vs *ca.VirtualSigstore, d ocispec.Descriptor, id string, logTime time.Time) []byte {
	t.Helper()
	st, err := signing.Statement(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return testkit.KeylessBundle(t, vs, st, id, issuer, logTime)
}

// TestKeyless: a keyless signature (Fulcio certificate, Rekor entry) made
// by sigstore-go's in-process virtual Sigstore verifies offline with its
// trusted_root.json and the signer's identity; another identity, another
// Sigstore, a certificate expired when logged, are refused.
func TestKeyless(t *testing.T) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	tr := trustedRoot(t, vs)
	l := testkit.NewLayout(t)
	d := entry(t, l, "v1", "hello")
	// The virtual Fulcio's certificates are valid for 10 minutes from now.
	if _, err := signing.AttachBundle(ctx, l, d, keylessBundle(t, vs, d, identity, time.Now().Add(time.Minute)), time.Time{}); err != nil {
		t.Fatal(err)
	}
	pol := func(tm root.TrustedMaterial, ids ...signing.Identity) *signing.Policy {
		return &signing.Policy{TrustedRoot: tm, Identities: ids, IgnoreSCT: true}
	}
	verify := func(l *layout.Layout, d ocispec.Descriptor, p *signing.Policy) *signing.Result {
		t.Helper()
		r, err := signing.Verify(ctx, l, d, "v1", p)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := verify(l, d, pol(tr, signing.Identity{Subject: identity, Issuer: issuer}))
	if !r.OK() || len(r.SignedBy) != 1 || r.SignedBy[0] != identity+" (issuer "+issuer+")" {
		t.Fatalf("keyless: %+v %v", r.SignedBy, r.Err)
	}
	if r := verify(l, d, pol(tr, signing.Identity{SubjectRegexp: `^release@example\.com$`, IssuerRegexp: `^https://issuer\.`})); !r.OK() {
		t.Errorf("keyless by regexp: %v", r.Err)
	}
	r = verify(l, d, pol(tr, signing.Identity{Subject: "mallory@example.com", Issuer: issuer}))
	if !errors.Is(r.Err, signing.ErrBadSignature) || !strings.Contains(r.Err.Error(), "keyless signature refused") {
		t.Errorf("another identity: %v", r.Err)
	}
	if r := verify(l, d, pol(tr, signing.Identity{Subject: identity, Issuer: "https://other.example"})); !errors.Is(r.Err, signing.ErrBadSignature) {
		t.Errorf("another issuer: %v", r.Err)
	}
	// By default a certificate needs a signed certificate timestamp, which
	// the virtual Fulcio does not embed.
	strict := pol(tr, signing.Identity{Subject: identity, Issuer: issuer})
	strict.IgnoreSCT = false
	if r := verify(l, d, strict); !errors.Is(r.Err, signing.ErrBadSignature) {
		t.Errorf("no SCT, not ignored: %v", r.Err)
	}
	// Another Sigstore's root does not trust this one's certificates.
	vs2, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	if r := verify(l, d, pol(trustedRoot(t, vs2), signing.Identity{Subject: identity, Issuer: issuer})); !errors.Is(r.Err, signing.ErrBadSignature) {
		t.Errorf("untrusted root: %v", r.Err)
	}
	// A keyed policy does not take a keyless signature.
	_, pub := keys(t, "")
	if r := verify(l, d, &signing.Policy{Keys: []*signing.PublicKey{pub}}); !errors.Is(r.Err, signing.ErrBadSignature) || !strings.Contains(r.Err.Error(), "no --trusted-root") {
		t.Errorf("keyless signature, keys only: %v", r.Err)
	}

	// Logged after the certificate expired: refused.
	l2 := testkit.NewLayout(t)
	d2 := entry(t, l2, "v1", "hello2")
	if _, err := signing.AttachBundle(ctx, l2, d2, keylessBundle(t, vs, d2, identity, time.Now().Add(30*time.Minute)), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if r := verify(l2, d2, pol(tr, signing.Identity{Subject: identity, Issuer: issuer})); !errors.Is(r.Err, signing.ErrBadSignature) {
		t.Errorf("expired certificate: %v", r.Err)
	} else {
		t.Logf("expired certificate: %v", r.Err)
	}
	// A policy with a trusted root but no identity is refused.
	if _, err := signing.Verify(ctx, l, d, "v1", pol(tr)); err == nil || !strings.Contains(err.Error(), "--certificate-identity") {
		t.Errorf("no identity: %v", err)
	}
}
