package testkit

import (
	"context"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/signing"
)

// SigningKey is a fresh key pair for signature tests, made by
// signing.GenerateKeyPair (no password): the signer, its public key, and
// a policy that trusts that key alone.
type SigningKey struct {
	// Pair holds the key files' bytes (PrivatePEM, PublicPEM).
	Pair *signing.KeyPair
	// Signer signs with the private key.
	Signer *signing.Signer
	// Public is the public key, named as NewSigningKey was told.
	Public *signing.PublicKey
	// Policy accepts signatures by Public.
	Policy *signing.Policy
}

// NewSigningKey makes a SigningKey whose public key is called name in
// verification reports.
func NewSigningKey(t testing.TB, name string) *SigningKey {
	t.Helper()
	kp, err := signing.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := signing.LoadPrivateKey(kp.PrivatePEM, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := signing.LoadPublicKey(kp.PublicPEM, name)
	if err != nil {
		t.Fatal(err)
	}
	return &SigningKey{Pair: kp, Signer: s, Public: pub, Policy: &signing.Policy{Keys: []*signing.PublicKey{pub}}}
}

// Sign signs the entry d, tagged tag in l, with k.
func (k *SigningKey) Sign(t testing.TB, l *layout.Layout, d ocispec.Descriptor, tag string) {
	t.Helper()
	if _, err := signing.Sign(context.Background(), l, d, tag, k.Signer, signing.SignOptions{}); err != nil {
		t.Fatalf("sign %s: %v", tag, err)
	}
}

// TagManifests stores a small manifest ("body of TAG") for each tag in l,
// tags it, and returns the descriptors by tag.
func TagManifests(t testing.TB, l *layout.Layout, tags ...string) map[string]ocispec.Descriptor {
	t.Helper()
	out := map[string]ocispec.Descriptor{}
	for _, tag := range tags {
		d := StoreManifest(t, l, "application/vnd.example.test", "body of "+tag)
		if err := l.Tag(context.Background(), d, tag); err != nil {
			t.Fatal(err)
		}
		out[tag] = d
	}
	return out
}
