package signing_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/signing"
	"github.com/ocipack/ocipack/source"
)

var ctx = context.Background()

// keys makes a key pair encrypted with password and loads both halves.
func keys(t *testing.T, password string) (*signing.Signer, *signing.PublicKey) {
	t.Helper()
	kp, err := signing.GenerateKeyPair([]byte(password))
	if err != nil {
		t.Fatal(err)
	}
	s, err := signing.LoadPrivateKey(kp.PrivatePEM, []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := signing.LoadPublicKey(kp.PublicPEM, "test.pub")
	if err != nil {
		t.Fatal(err)
	}
	return s, pub
}

// entry stores a one-layer manifest tagged tag.
func entry(t *testing.T, l *layout.Layout, tag, body string) ocispec.Descriptor {
	t.Helper()
	d := testkit.StoreManifest(t, l, "application/vnd.example.test", body)
	if err := l.Tag(ctx, d, tag); err != nil {
		t.Fatal(err)
	}
	return d
}

func verifyKey(t *testing.T, tg signing.Target, d ocispec.Descriptor, name string, pub ...*signing.PublicKey) *signing.Result {
	t.Helper()
	r, err := signing.Verify(ctx, tg, d, name, &signing.Policy{Keys: pub})
	if err != nil {
		t.Fatalf("Verify %s: %v", name, err)
	}
	return r
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	kp, err := signing.GenerateKeyPair([]byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "cosign")
	if err := kp.WriteFiles(base); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(base + ".key")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("cosign.key: %v, mode %v; want 0600", err, fi.Mode())
	}
	if b := testkit.ReadFile(t, base+".key"); !bytes.HasPrefix(b, []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")) {
		t.Errorf("cosign.key starts %q", b[:40])
	}
	if b := testkit.ReadFile(t, base+".pub"); !bytes.HasPrefix(b, []byte("-----BEGIN PUBLIC KEY-----\n")) {
		t.Errorf("cosign.pub starts %q", b[:30])
	}
	if err := kp.WriteFiles(base); !errors.Is(err, os.ErrExist) {
		t.Errorf("second WriteFiles: %v, want ErrExist", err)
	}
	if _, err := signing.LoadPrivateKeyFile(base+".key", []byte("s3cret")); err != nil {
		t.Errorf("right password: %v", err)
	}
	if _, err := signing.LoadPrivateKeyFile(base+".key", []byte("wrong")); !errors.Is(err, signing.ErrWrongPassword) {
		t.Errorf("wrong password: %v, want ErrWrongPassword", err)
	}
	if _, err := signing.LoadPrivateKeyFile(base+".pub", nil); !errors.Is(err, signing.ErrBadKey) {
		t.Errorf("a public key as private key: %v, want ErrBadKey", err)
	}
	if _, err := signing.LoadPublicKeyFile(base + ".key"); !errors.Is(err, signing.ErrBadKey) || !strings.Contains(err.Error(), "this is a private key") {
		t.Errorf("a private key as public key: %v, want ErrBadKey saying it is the private key", err)
	}
	// An empty password is allowed, as cosign allows it.
	empty, err := signing.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signing.LoadPrivateKey(empty.PrivatePEM, []byte("")); err != nil {
		t.Errorf("empty password: %v", err)
	}
}

// TestSignVerify: a signed entry verifies with its key, in the form cosign
// v3 writes; another key, an unsigned entry are refused.
func TestSignVerify(t *testing.T) {
	l := testkit.NewLayout(t)
	d := entry(t, l, "v1", "hello")
	other := entry(t, l, "v2", "other")
	s, pub := keys(t, "pw")
	_, pub2 := keys(t, "pw")
	signed, err := signing.Sign(ctx, l, d, "v1", s, signing.SignOptions{Created: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if len(signed) != 1 || signed[0].Existing || signed[0].Subject.Digest != d.Digest {
		t.Fatalf("Sign = %+v", signed)
	}
	// The referrer, as cosign writes it (cosign-format.md).
	raw, err := layout.ReadBlob(ctx, l, signed[0].Signature, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"},"layers":[{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","size":`
	if !strings.HasPrefix(string(raw), want) {
		t.Errorf("manifest:\n%s\nwant prefix\n%s", raw, want)
	}
	tail := `"annotations":{"dev.sigstore.bundle.content":"dsse-envelope","dev.sigstore.bundle.predicateType":"https://sigstore.dev/cosign/sign/v1","org.opencontainers.image.created":"2023-11-14T22:13:20Z"},"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":` +
		jsonInt(d.Size) + `,"digest":"` + d.Digest.String() + `"},"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`
	if !strings.HasSuffix(string(raw), tail) {
		t.Errorf("manifest:\n%s\nwant suffix\n%s", raw, tail)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	bb, err := layout.ReadBlob(ctx, l, m.Layers[0], 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var b struct {
		MediaType            string `json:"mediaType"`
		VerificationMaterial struct {
			PublicKey struct{ Hint string } `json:"publicKey"`
		} `json:"verificationMaterial"`
		DsseEnvelope struct {
			Payload, PayloadType string
			Signatures           []map[string]string
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(bb, &b); err != nil {
		t.Fatal(err)
	}
	der := pubDER(t, pub)
	sum := sha256.Sum256(der)
	if b.MediaType != signing.BundleMediaType || b.VerificationMaterial.PublicKey.Hint != base64.StdEncoding.EncodeToString(sum[:]) ||
		b.DsseEnvelope.PayloadType != "application/vnd.in-toto+json" || len(b.DsseEnvelope.Signatures) != 1 || b.DsseEnvelope.Signatures[0]["keyid"] != "" {
		t.Errorf("bundle: %s", bb)
	}
	payload, _ := base64.StdEncoding.DecodeString(b.DsseEnvelope.Payload)
	wantSt := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"` + d.Digest.Encoded() + `"},"annotations":{}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}`
	if compact(payload) != wantSt {
		t.Errorf("statement %s\nwant      %s", payload, wantSt)
	}

	if r := verifyKey(t, l, d, "v1", pub2, pub); !r.OK() || len(r.SignedBy) != 1 || r.SignedBy[0] != "key test.pub" {
		t.Errorf("verify with the key: %+v, %v", r, r.Err)
	}
	r := verifyKey(t, l, d, "v1", pub2)
	if !errors.Is(r.Err, signing.ErrBadSignature) || !strings.Contains(r.Err.Error(), "v1 (") || !strings.Contains(r.Err.Error(), "not made by the key test.pub") {
		t.Errorf("wrong key: %v", r.Err)
	}
	r = verifyKey(t, l, other, "v2", pub)
	if !errors.Is(r.Err, signing.ErrUnsigned) || !strings.Contains(r.Err.Error(), "v2 (") {
		t.Errorf("unsigned: %v", r.Err)
	}
	// RequireSigned names each failing entry.
	err = signing.RequireSigned(ctx, l, []ocispec.Descriptor{withName(d, "v1"), withName(other, "v2")}, &signing.Policy{Keys: []*signing.PublicKey{pub}})
	var fe *signing.FailedError
	if !errors.As(err, &fe) || len(fe.Failed) != 1 || fe.Failed[0].Name != "v2" || !errors.Is(err, signing.ErrUnsigned) || errors.Is(err, signing.ErrBadSignature) {
		t.Errorf("RequireSigned: %v", err)
	}
	if err := signing.RequireSigned(ctx, l, []ocispec.Descriptor{withName(d, "v1")}, &signing.Policy{Keys: []*signing.PublicKey{pub}}); err != nil {
		t.Errorf("RequireSigned of the signed entry: %v", err)
	}
	if _, err := signing.Verify(ctx, l, d, "v1", &signing.Policy{}); !errors.Is(err, signing.ErrNoPolicy) {
		t.Errorf("empty policy: %v", err)
	}

	// The signature travels: the layout read through source (as verify
	// opens it) verifies too.
	src, err := source.Open(ctx, l.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if r := verifyKey(t, src, d, "v1", pub); !r.OK() {
		t.Errorf("through source: %v", r.Err)
	}
}

func withName(d ocispec.Descriptor, name string) ocispec.Descriptor {
	d.Annotations = map[string]string{ocispec.AnnotationRefName: name}
	return d
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// compact removes the spaces protojson may put in (it does so at random,
// per binary, to keep callers from relying on its exact bytes).
func compact(b []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return string(b)
	}
	return buf.String()
}

func pubDER(t *testing.T, pub *signing.PublicKey) []byte {
	t.Helper()
	der, err := x509MarshalPKIX(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestSignTwice: signing again with the same key adds nothing; another key
// adds its own signature.
func TestSignTwice(t *testing.T) {
	l := testkit.NewLayout(t)
	d := entry(t, l, "v1", "hello")
	s, pub := keys(t, "pw")
	s2, pub2 := keys(t, "pw")
	first, err := signing.Sign(ctx, l, d, "v1", s, signing.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := signing.Sign(ctx, l, d, "v1", s, signing.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !again[0].Existing || again[0].Signature.Digest != first[0].Signature.Digest {
		t.Errorf("second Sign = %+v, want the first signature kept", again[0])
	}
	if refs, _ := l.Predecessors(ctx, d); len(refs) != 1 {
		t.Errorf("%d referrers after signing twice, want 1", len(refs))
	}
	if _, err := signing.Sign(ctx, l, d, "v1", s2, signing.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	if refs, _ := l.Predecessors(ctx, d); len(refs) != 2 {
		t.Errorf("%d referrers after signing with a second key, want 2", len(refs))
	}
	if r := verifyKey(t, l, d, "v1", pub, pub2); !r.OK() || len(r.SignedBy) != 2 {
		t.Errorf("both keys: %+v %v", r.SignedBy, r.Err)
	}
}

// TestRecursive: --recursive signs the index and each of its manifests.
func TestRecursive(t *testing.T) {
	l := testkit.NewLayout(t)
	idx, imgs := testkit.PushPlatformIndex(t, l, "multi", "linux/amd64", "linux/arm64/v8")
	s, pub := keys(t, "")
	got, err := signing.Sign(ctx, l, idx, "multi", s, signing.SignOptions{Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].Name != "multi manifests[0]" {
		t.Fatalf("Sign --recursive = %+v", got)
	}
	for _, d := range []ocispec.Descriptor{idx, imgs[0].Manifest, imgs[1].Manifest} {
		if r := verifyKey(t, l, d, "", pub); !r.OK() {
			t.Errorf("%s: %v", d.Digest, r.Err)
		}
	}
	// A platform subset: a child the layout does not hold is skipped.
	l3 := testkit.NewLayout(t)
	idx3, imgs3 := testkit.PushPlatformIndex(t, l3, "multi", "linux/amd64", "linux/arm64/v8")
	if err := os.Remove(testkit.BlobPath(l3.Path(), imgs3[1].Manifest.Digest.String())); err != nil {
		t.Fatal(err)
	}
	if got, err := signing.Sign(ctx, l3, idx3, "multi", s, signing.SignOptions{Recursive: true}); err != nil || len(got) != 2 {
		t.Errorf("Sign --recursive of a subset = %+v, %v; want the index and its one child", got, err)
	}

	l2 := testkit.NewLayout(t)
	idx2, imgs2 := testkit.PushPlatformIndex(t, l2, "multi", "linux/amd64")
	if _, err := signing.Sign(ctx, l2, idx2, "multi", s, signing.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := verifyKey(t, l2, imgs2[0].Manifest, "", pub); !errors.Is(r.Err, signing.ErrUnsigned) {
		t.Errorf("child without --recursive: %v, want unsigned", r.Err)
	}
}

// TestOtherDigest: a valid signature of one manifest, made a referrer of
// another, does not vouch for it.
func TestOtherDigest(t *testing.T) {
	l := testkit.NewLayout(t)
	a := entry(t, l, "a", "aaa")
	b := entry(t, l, "b", "bbb")
	s, pub := keys(t, "pw")
	bundleA, err := signing.NewBundle(ctx, a.Digest, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signing.AttachBundle(ctx, l, b, bundleA, time.Time{}); err != nil {
		t.Fatal(err)
	}
	r := verifyKey(t, l, b, "b", pub)
	if !errors.Is(r.Err, signing.ErrBadSignature) || !strings.Contains(r.Err.Error(), "over another digest ("+a.Digest.String()+")") {
		t.Errorf("signature over another digest: %v", r.Err)
	}
}

// TestTampered: a manifest changed in place, or a tag moved to a changed
// manifest, is refused.
func TestTampered(t *testing.T) {
	l := testkit.NewLayout(t)
	d := entry(t, l, "v1", "hello")
	s, pub := keys(t, "pw")
	if _, err := signing.Sign(ctx, l, d, "v1", s, signing.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	// The tag moved to another manifest (a layer swapped): unsigned.
	evil := entry(t, l, "v1", "evil")
	if r := verifyKey(t, l, evil, "v1", pub); !errors.Is(r.Err, signing.ErrUnsigned) {
		t.Errorf("retagged: %v", r.Err)
	}
	// The manifest's bytes changed in place.
	testkit.FlipByteMiddle(t, testkit.BlobPath(l.Path(), d.Digest.String()))
	r := verifyKey(t, l, d, "v1", pub)
	if !errors.Is(r.Err, signing.ErrBadSignature) || !strings.Contains(r.Err.Error(), "cannot be read intact") {
		t.Errorf("changed in place: %v", r.Err)
	}
}

// pushRaw stores a referrer of subject whose one layer is data (of media
// type layerType), as a hostile signer could.
func pushRaw(t *testing.T, l *layout.Layout, subject ocispec.Descriptor, layerType string, data []byte) {
	t.Helper()
	testkit.PushReferrer(t, l, subject, signing.BundleMediaType, layerType, data)
}

// TestGarbageBundles: malformed bundles are refused with a reason, and
// nothing of them is taken for a signature.
func TestGarbageBundles(t *testing.T) {
	s, pub := keys(t, "pw")
	good := func(d digest.Digest) []byte {
		b, err := signing.NewBundle(ctx, d, s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := map[string]struct {
		bundle func(d digest.Digest) []byte
		want   string
	}{
		"not JSON":     {func(digest.Digest) []byte { return []byte("\x00garbage{") }, "malformed bundle"},
		"empty object": {func(digest.Digest) []byte { return []byte("{}") }, "malformed bundle"},
		"unknown field": {func(d digest.Digest) []byte {
			return bytes.Replace(good(d), []byte(`{"mediaType"`), []byte(`{"evil":1,"mediaType"`), 1)
		}, "malformed bundle"},
		"v0.1 media type": {func(d digest.Digest) []byte {
			return bytes.Replace(good(d), []byte("v0.3+json"), []byte("v0.9+json"), 1)
		}, "malformed bundle"},
		"signature garbage": {func(d digest.Digest) []byte { return replaceSig(t, good(d), "AAAA") }, "not made by"},
		"payload swapped": {func(d digest.Digest) []byte {
			return replacePayload(t, good(d), []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"`+d.Encoded()+`"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}`))
		}, "not made by"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			l := testkit.NewLayout(t)
			d := entry(t, l, "v1", "hello")
			pushRaw(t, l, d, signing.BundleMediaType, c.bundle(d.Digest))
			r := verifyKey(t, l, d, "v1", pub)
			if !errors.Is(r.Err, signing.ErrBadSignature) || !strings.Contains(r.Err.Error(), c.want) {
				t.Errorf("got %v, want ErrBadSignature with %q", r.Err, c.want)
			}
		})
	}
}

func editBundle(t *testing.T, b []byte, fn func(env map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	fn(m["dsseEnvelope"].(map[string]any))
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func replaceSig(t *testing.T, b []byte, sig string) []byte {
	return editBundle(t, b, func(env map[string]any) {
		env["signatures"] = []any{map[string]any{"sig": sig}}
	})
}

func replacePayload(t *testing.T, b []byte, payload []byte) []byte {
	return editBundle(t, b, func(env map[string]any) {
		env["payload"] = base64.StdEncoding.EncodeToString(payload)
	})
}

// TestHugeBundle: a bundle over the cap is refused before it is read.
func TestHugeBundle(t *testing.T) {
	l := testkit.NewLayout(t)
	d := entry(t, l, "v1", "hello")
	_, pub := keys(t, "pw")
	huge := append([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"`), bytes.Repeat([]byte(" "), signing.MaxBundleSize)...)
	huge = append(huge, '}')
	pushRaw(t, l, d, signing.BundleMediaType, huge)
	r := verifyKey(t, l, d, "v1", pub)
	if !errors.Is(r.Err, signing.ErrBadSignature) || !strings.Contains(r.Err.Error(), "more than the 1048576 a bundle may have") {
		t.Errorf("huge bundle: %v", r.Err)
	}
	if _, err := signing.AttachBundle(ctx, l, d, huge, time.Time{}); err == nil {
		t.Error("AttachBundle took a huge bundle")
	}
}

// TestOtherReferrersIgnored: an SBOM referrer is not a signature.
func TestOtherReferrersIgnored(t *testing.T) {
	l := testkit.NewLayout(t)
	d := entry(t, l, "v1", "hello")
	_, pub := keys(t, "pw")
	testkit.PushReferrer(t, l, d, "application/spdx+json", "application/spdx+json", []byte(`{"spdxVersion":"SPDX-2.3"}`))
	if r := verifyKey(t, l, d, "v1", pub); !errors.Is(r.Err, signing.ErrUnsigned) {
		t.Errorf("only an SBOM: %v, want unsigned", r.Err)
	}
}

// TestLegacySignature: an older cosign signature (sha256-<hex>.sig with a
// simple-signing payload) verifies with its key; over another digest, or
// with another key, it is refused.
func TestLegacySignature(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := loadECDSAPub(t, &priv.PublicKey)
	_, otherPub := keys(t, "")
	legacy := func(l *layout.Layout, d ocispec.Descriptor, over digest.Digest) {
		payload := []byte(`{"critical":{"identity":{"docker-reference":"127.0.0.1:5055/demo/hello"},"image":{"docker-manifest-digest":"` + over.String() + `"},"type":"cosign container image signature"},"optional":null}`)
		sum := sha256.Sum256(payload)
		sig, err := ecdsa.SignASN1(rand.Reader, priv, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		layer := testkit.Ingest(t, l, signing.SimpleSigningMediaType, payload)
		layer.Annotations = map[string]string{signing.AnnotationLegacySignature: base64.StdEncoding.EncodeToString(sig)}
		cfg := testkit.Ingest(t, l, ocispec.MediaTypeImageConfig, []byte(`{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":["`+layer.Digest.String()+`"]},"config":{}}`))
		b, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}})
		md := testkit.Ingest(t, l, ocispec.MediaTypeImageManifest, b)
		if err := l.Tag(ctx, md, signing.LegacyTag(d.Digest)); err != nil {
			t.Fatal(err)
		}
	}
	l := testkit.NewLayout(t)
	d := entry(t, l, "v1", "hello")
	legacy(l, d, d.Digest)
	r := verifyKey(t, l, d, "v1", otherPub, pub)
	if !r.OK() || len(r.SignedBy) != 1 || !strings.Contains(r.SignedBy[0], "older cosign signature") {
		t.Errorf("legacy: %+v %v", r.SignedBy, r.Err)
	}
	if r := verifyKey(t, l, d, "v1", otherPub); !errors.Is(r.Err, signing.ErrBadSignature) || !strings.Contains(r.Err.Error(), "not made by") {
		t.Errorf("legacy, wrong key: %v", r.Err)
	}
	l2 := testkit.NewLayout(t)
	d2 := entry(t, l2, "v1", "hello2")
	legacy(l2, d2, digest.FromString("another"))
	if r := verifyKey(t, l2, d2, "v1", pub); !errors.Is(r.Err, signing.ErrBadSignature) || !strings.Contains(r.Err.Error(), "over another digest") {
		t.Errorf("legacy over another digest: %v", r.Err)
	}
}

// TestGCKeepsSignature: gc keeps a signature while its subject is tagged
// and drops it with its subject.
func TestGCKeepsSignature(t *testing.T) {
	l := testkit.NewLayout(t)
	d := entry(t, l, "v1", "hello")
	s, pub := keys(t, "pw")
	got, err := signing.Sign(ctx, l, d, "v1", s, signing.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sig := got[0].Signature
	// gc runs on a Layout that has written nothing (as 'ocipack gc' does).
	l.Close()
	l = testkit.OpenLayout(t, l.Path())
	if _, err := l.GC(ctx, layout.GCOptions{}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := l.Exists(ctx, sig); !ok {
		t.Fatal("gc removed the signature of a tagged entry")
	}
	if r := verifyKey(t, l, d, "v1", pub); !r.OK() {
		t.Fatalf("after gc: %v", r.Err)
	}
	if err := l.Untag(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = testkit.OpenLayout(t, l.Path())
	rep, err := l.GC(ctx, layout.GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := l.Exists(ctx, sig); ok {
		t.Error("gc kept the signature of a removed entry")
	}
	if len(rep.IndexEntries) != 1 || rep.IndexEntries[0].Digest != sig.Digest {
		t.Errorf("gc removed index entries %+v, want the signature's", rep.IndexEntries)
	}
}
