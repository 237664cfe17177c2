package signing_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"google.golang.org/protobuf/encoding/protojson"

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
	// The virtual Sigstore keeps a log's ID as its hex text, where a
	// trusted_root.json holds the raw bytes: give them as a real root does.
	rawIDs := func(logs map[string]*root.TransparencyLog) map[string]*root.TransparencyLog {
		for k, v := range logs {
			id, err := hex.DecodeString(k)
			if err != nil {
				t.Fatal(err)
			}
			v.ID = id
		}
		return logs
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, vs.FulcioCertificateAuthorities(), rawIDs(vs.CTLogs()), vs.TimestampingAuthorities(), rawIDs(vs.RekorLogs()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := signing.LoadTrustedRoot(p)
	if err != nil {
		t.Fatal(err)
	}
	return loaded
}

// keylessBundle has vs attest d's cosign statement for id at logTime (a
// Fulcio certificate, a Rekor entry with an inclusion proof and promise)
// and returns it as a bundle v0.3, JSON.
func keylessBundle(t *testing.T, vs *ca.VirtualSigstore, d ocispec.Descriptor, id string, logTime time.Time) []byte {
	t.Helper()
	st, err := signing.Statement(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	ent, err := vs.AttestAtTime(id, issuer, st, logTime, true)
	if err != nil {
		t.Fatal(err)
	}
	vc, err := ent.VerificationContent()
	if err != nil {
		t.Fatal(err)
	}
	cert := vc.(*bundle.Certificate).Certificate()
	sc, err := ent.SignatureContent()
	if err != nil {
		t.Fatal(err)
	}
	env := sc.(*bundle.Envelope).Envelope
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := ent.TlogEntries()
	if err != nil {
		t.Fatal(err)
	}
	tle := entries[0].TransparencyLogEntry()
	tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
	set, err := vs.RekorSignPayload(tlog.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(tle.CanonicalizedBody),
		IntegratedTime: tle.IntegratedTime,
		LogIndex:       tle.LogIndex,
		LogID:          hex.EncodeToString(tle.LogId.KeyId),
	})
	if err != nil {
		t.Fatal(err)
	}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	pb := &protobundle.Bundle{
		MediaType: signing.BundleMediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:     &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: cert.Raw}},
			TlogEntries: []*protorekor.TransparencyLogEntry{tle},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: payload, PayloadType: env.PayloadType,
			Signatures: []*protodsse.Signature{{Sig: sig}},
		}},
	}
	b, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	return b
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
