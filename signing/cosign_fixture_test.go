package signing_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/signing"
)

// fixture stores the file testdata/cosign/name as a blob of mediaType.
func fixture(t *testing.T, l *layout.Layout, name, mediaType string) ocispec.Descriptor {
	t.Helper()
	b := testkit.ReadFile(t, filepath.Join("testdata", "cosign", name))
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if err := l.Push(ctx, d, bytes.NewReader(b)); err != nil && !errors.Is(err, layout.ErrAlreadyExists) {
		t.Fatal(err)
	}
	return d
}

// TestCosignWritten: signatures cosign v3.1.3 wrote (a bundle referrer and
// an older .sig) verify with cosign's public key, and its encrypted private
// key opens and signs here.
func TestCosignWritten(t *testing.T) {
	pub, err := signing.LoadPublicKeyFile(filepath.Join("testdata", "cosign", "cosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	_, otherPub := keys(t, "")
	l := testkit.NewLayout(t)
	subject := fixture(t, l, "subject.json", ocispec.MediaTypeImageManifest)
	if err := l.Tag(ctx, subject, "v1"); err != nil {
		t.Fatal(err)
	}
	fixture(t, l, "bundle.json", signing.BundleMediaType)
	fixture(t, l, "referrer.json", ocispec.MediaTypeImageManifest) // listed as a referrer by Push
	legacySubject := fixture(t, l, "legacy-subject.json", ocispec.MediaTypeImageManifest)
	if err := l.Tag(ctx, legacySubject, "old"); err != nil {
		t.Fatal(err)
	}
	fixture(t, l, "legacy-payload.json", signing.SimpleSigningMediaType)
	sig := fixture(t, l, "legacy-sig.json", ocispec.MediaTypeImageManifest)
	if err := l.Tag(ctx, sig, signing.LegacyTag(legacySubject.Digest)); err != nil {
		t.Fatal(err)
	}
	if r := verifyKey(t, l, subject, "v1", pub); !r.OK() || r.SignedBy[0] != "key "+filepath.Join("testdata", "cosign", "cosign.pub") {
		t.Errorf("cosign's bundle: %+v %v", r.SignedBy, r.Err)
	}
	if r := verifyKey(t, l, legacySubject, "old", pub); !r.OK() || !strings.Contains(r.SignedBy[0], "older cosign signature") {
		t.Errorf("cosign's .sig: %+v %v", r.SignedBy, r.Err)
	}
	if r := verifyKey(t, l, subject, "v1", otherPub); !errors.Is(r.Err, signing.ErrBadSignature) {
		t.Errorf("cosign's bundle, another key: %v", r.Err)
	}

	s, err := signing.LoadPrivateKeyFile(filepath.Join("testdata", "cosign", "cosign.key"), []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	// Signed again by the same key: cosign's signature is found, none added.
	got, err := signing.Sign(ctx, l, subject, "v1", s, signing.SignOptions{})
	if err != nil || !got[0].Existing {
		t.Errorf("sign what cosign signed with the same key: %+v %v", got, err)
	}
	d := entry(t, l, "v2", "new")
	if _, err := signing.Sign(ctx, l, d, "v2", s, signing.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := verifyKey(t, l, d, "v2", pub); !r.OK() {
		t.Errorf("signed with cosign's key: %v", r.Err)
	}
}
