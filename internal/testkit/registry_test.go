package testkit

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// repo returns an oras-go repository for name in reg using client.
func repo(t *testing.T, reg *Registry, name string, client remote.Client) *remote.Repository {
	t.Helper()
	r, err := remote.NewRepository(reg.Ref(name))
	if err != nil {
		t.Fatalf("NewRepository: %v", err)
	}
	r.PlainHTTP = reg.PlainHTTP
	r.Client = client
	return r
}

// pushImage pushes a blob and an image manifest referencing it, tags the
// manifest as tag and returns the blob and manifest descriptors.
func pushImage(ctx context.Context, r *remote.Repository, data []byte, tag string) (ocispec.Descriptor, ocispec.Descriptor, error) {
	layer := content.NewDescriptorFromBytes("application/vnd.test.layer", data)
	if err := r.Push(ctx, layer, bytes.NewReader(data)); err != nil {
		return ocispec.Descriptor{}, ocispec.Descriptor{}, err
	}
	mdesc, err := oras.PackManifest(ctx, r, oras.PackManifestVersion1_1, "application/vnd.test.artifact",
		oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		return layer, ocispec.Descriptor{}, err
	}
	if err := r.Tag(ctx, mdesc, tag); err != nil {
		return layer, mdesc, err
	}
	return layer, mdesc, nil
}

// pushResolved pushes an image of data tagged v1 to r (what names the push
// in failures), checks that v1 resolves to its manifest, and returns its
// layer.
func pushResolved(t *testing.T, r *remote.Repository, data []byte, what string) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	layer, mdesc, err := pushImage(ctx, r, data, "v1")
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	got, err := r.Resolve(ctx, "v1")
	if err != nil || got.Digest != mdesc.Digest {
		t.Fatalf("resolve = %v, %v; want %s", got.Digest, err, mdesc.Digest)
	}
	return layer
}

func TestAnonymousPushPull(t *testing.T) {
	ctx := context.Background()
	reg := StartRegistry(t, RegistryOptions{})
	if !strings.HasPrefix(reg.Host, "127.0.0.1:") || reg.URL != "http://"+reg.Host || !reg.PlainHTTP {
		t.Fatalf("unexpected registry address: %+v", reg)
	}
	if reg.CAFile != "" || reg.CAPool != nil {
		t.Fatalf("CA set without TLS: %+v", reg)
	}

	r := repo(t, reg, "test/app", reg.Client())
	data := []byte("hello registrytest\n")
	layer, mdesc, err := pushImage(ctx, r, data, "v1")
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if want := digest.FromBytes(data); layer.Digest != want {
		t.Fatalf("layer digest %s, want %s", layer.Digest, want)
	}

	got, err := r.Resolve(ctx, "v1")
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	if got.Digest != mdesc.Digest || got.Size != mdesc.Size || got.MediaType != ocispec.MediaTypeImageManifest {
		t.Fatalf("resolved %+v, want %+v", got, mdesc)
	}

	// Fetch the manifest back and check it names the layer.
	mbytes, err := content.FetchAll(ctx, r, got)
	if err != nil {
		t.Fatalf("fetch manifest: %v", err)
	}
	if !bytes.Contains(mbytes, []byte(layer.Digest.String())) || !bytes.Contains(mbytes, []byte("application/vnd.test.artifact")) {
		t.Fatalf("manifest lacks layer or artifactType: %s", mbytes)
	}

	rc, err := r.Fetch(ctx, layer)
	if err != nil {
		t.Fatalf("fetch blob: %v", err)
	}
	blob, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatalf("read blob: %v", err)
	}
	if !bytes.Equal(blob, data) || digest.FromBytes(blob) != layer.Digest {
		t.Fatalf("blob %q (%s), want %q (%s)", blob, digest.FromBytes(blob), data, layer.Digest)
	}

	if _, err := r.Resolve(ctx, "missing"); !errors.Is(err, errdef.ErrNotFound) {
		t.Fatalf("resolve missing tag: err = %v, want ErrNotFound", err)
	}
}

// TestReferrers checks that a manifest with subject and artifactType is
// accepted and found again by oras-go (via its referrers tag schema
// fallback, since Distribution has no referrers API), and can be deleted.
func TestReferrers(t *testing.T) {
	ctx := context.Background()
	reg := StartRegistry(t, RegistryOptions{})
	r := repo(t, reg, "test/refs", reg.Client())
	_, subject, err := pushImage(ctx, r, []byte("subject"), "v1")
	if err != nil {
		t.Fatalf("push subject: %v", err)
	}
	sig, err := oras.PackManifest(ctx, r, oras.PackManifestVersion1_1, "application/vnd.test.signature",
		oras.PackManifestOptions{Subject: &subject})
	if err != nil {
		t.Fatalf("push referrer: %v", err)
	}

	var found []ocispec.Descriptor
	err = r.Referrers(ctx, subject, "", func(refs []ocispec.Descriptor) error {
		found = append(found, refs...)
		return nil
	})
	if err != nil {
		t.Fatalf("referrers: %v", err)
	}
	if len(found) != 1 || found[0].Digest != sig.Digest || found[0].ArtifactType != "application/vnd.test.signature" {
		t.Fatalf("referrers = %+v, want one with digest %s", found, sig.Digest)
	}

	if err := r.Delete(ctx, sig); err != nil {
		t.Fatalf("delete referrer: %v", err)
	}
	if _, err := r.Resolve(ctx, sig.Digest.String()); !errors.Is(err, errdef.ErrNotFound) {
		t.Fatalf("resolve deleted manifest: err = %v, want ErrNotFound", err)
	}
}

func TestBasicAuth(t *testing.T) {
	ctx := context.Background()
	reg := StartRegistry(t, RegistryOptions{Users: map[string]string{"alice": "s3cret", "bob": "hunter2"}})

	// Raw request: the registry must challenge with Basic and our realm.
	resp, err := reg.Client().Get(reg.URL + "/v2/")
	if err != nil {
		t.Fatalf("GET /v2/: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /v2/ without credentials: status %d, want 401", resp.StatusCode)
	}
	if got := resp.Header.Get("Www-Authenticate"); !strings.Contains(got, `Basic realm="`+RegistryRealm+`"`) {
		t.Fatalf("WWW-Authenticate = %q", got)
	}

	// Without credentials the push fails with 401.
	anon := repo(t, reg, "test/private", reg.Client())
	_, _, err = pushImage(ctx, anon, []byte("nope"), "v1")
	assertStatus(t, err, http.StatusUnauthorized)

	// An auth.Client without a credential gets the Basic challenge and
	// gives up.
	noCred := repo(t, reg, "test/private", &auth.Client{Client: reg.Client()})
	_, _, err = pushImage(ctx, noCred, []byte("nope"), "v1")
	if !errors.Is(err, auth.ErrBasicCredentialNotFound) {
		t.Fatalf("push with auth.Client and no credential: err = %v, want ErrBasicCredentialNotFound", err)
	}

	// A wrong password fails with 401 too.
	wrong := repo(t, reg, "test/private", &auth.Client{
		Client:     reg.Client(),
		Credential: auth.StaticCredential(reg.Host, auth.Credential{Username: "alice", Password: "wrong"}),
	})
	_, _, err = pushImage(ctx, wrong, []byte("nope"), "v1")
	assertStatus(t, err, http.StatusUnauthorized)

	// With the right credentials the push succeeds and can be read back.
	good := repo(t, reg, "test/private", &auth.Client{
		Client:     reg.Client(),
		Credential: auth.StaticCredential(reg.Host, auth.Credential{Username: "alice", Password: "s3cret"}),
	})
	pushResolved(t, good, []byte("secret data"), "authenticated push")
	// Anonymous reads are refused as well.
	_, err = anon.Resolve(ctx, "v1")
	assertStatus(t, err, http.StatusUnauthorized)
}

func assertStatus(t *testing.T, err error, status int) {
	t.Helper()
	var respErr *errcode.ErrorResponse
	if !errors.As(err, &respErr) {
		t.Fatalf("err = %v (%T), want *errcode.ErrorResponse with status %d", err, err, status)
	}
	if respErr.StatusCode != status {
		t.Fatalf("status = %d, want %d (err %v)", respErr.StatusCode, status, err)
	}
}

func TestTLS(t *testing.T) {
	ctx := context.Background()
	reg := StartRegistry(t, RegistryOptions{TLS: true})
	if reg.URL != "https://"+reg.Host || reg.PlainHTTP || reg.CAPool == nil {
		t.Fatalf("unexpected TLS registry: %+v", reg)
	}

	// CAFile holds the CA that signed the served certificate.
	pemBytes, err := os.ReadFile(reg.CAFile)
	if err != nil {
		t.Fatalf("read CA file: %v", err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("CA file is not a PEM certificate: %q", pemBytes)
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !ca.IsCA {
		t.Fatalf("CA file: cert IsCA=%v err=%v", ca != nil && ca.IsCA, err)
	}

	// A client that does not trust the CA fails certificate verification.
	untrusted := &http.Client{Transport: &http.Transport{Proxy: nil}}
	rUntrusted := repo(t, reg, "test/tls", untrusted)
	_, _, err = pushImage(ctx, rUntrusted, []byte("tls"), "v1")
	var unknownAuth x509.UnknownAuthorityError
	if !errors.As(err, &unknownAuth) {
		t.Fatalf("push without CA: err = %v (%T), want x509.UnknownAuthorityError", err, err)
	}

	// A client trusting CAPool succeeds.
	r := repo(t, reg, "test/tls", reg.Client())
	layer := pushResolved(t, r, []byte("tls"), "push with CA")
	blob, err := content.FetchAll(ctx, r, layer)
	if err != nil || string(blob) != "tls" {
		t.Fatalf("fetch blob = %q, %v", blob, err)
	}

	// The certificate is valid for "localhost" as well.
	resp, err := reg.Client().Get(strings.Replace(reg.URL, "127.0.0.1", "localhost", 1) + "/v2/")
	if err != nil {
		t.Fatalf("GET via localhost: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET via localhost: status %d", resp.StatusCode)
	}
}

func TestIsolatedInstances(t *testing.T) {
	ctx := context.Background()
	a := StartRegistry(t, RegistryOptions{})
	b := StartRegistry(t, RegistryOptions{})
	if a.Host == b.Host {
		t.Fatalf("two registries share %s", a.Host)
	}
	if _, _, err := pushImage(ctx, repo(t, a, "iso", a.Client()), []byte("a"), "v1"); err != nil {
		t.Fatalf("push to a: %v", err)
	}
	if _, err := repo(t, b, "iso", b.Client()).Resolve(ctx, "v1"); !errors.Is(err, errdef.ErrNotFound) {
		t.Fatalf("resolve on b: err = %v, want ErrNotFound (storage must not be shared)", err)
	}
}
