package serve_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	ggcr "github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/opencontainers/go-digest"
	"golang.org/x/crypto/bcrypt"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/serve"
)

// tlsServer is serve over HTTPS on loopback, with httptest's self-signed
// certificate (SANs 127.0.0.1, ::1).
type tlsServer struct {
	host  string         // "127.0.0.1:PORT"
	pool  *x509.CertPool // trusts exactly the server's certificate
	caPEM string         // the same certificate, PEM
}

func startTLS(t *testing.T, opts serve.Options) tlsServer {
	t.Helper()
	srv, err := serve.New(context.Background(), opts)
	if err != nil {
		t.Fatalf("serve.New: %v", err)
	}
	hs := httptest.NewUnstartedServer(srv)
	// The handshake a client without the certificate fails is expected.
	hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	hs.StartTLS()
	t.Cleanup(func() { hs.Close(); srv.Close() })
	pool := x509.NewCertPool()
	pool.AddCert(hs.Certificate())
	return tlsServer{
		host:  strings.TrimPrefix(hs.URL, "https://"),
		pool:  pool,
		caPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw})),
	}
}

// transport returns a transport trusting only the server's certificate.
func (s tlsServer) transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.TLSClientConfig = &tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12}
	return tr
}

// orasRepo is an oras-go repository on s (HTTPS), with cred when not nil.
func (s tlsServer) orasRepo(t *testing.T, name string, cred *auth.Credential) *remote.Repository {
	t.Helper()
	r, err := remote.NewRepository(s.host + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	c := &auth.Client{Client: &http.Client{Transport: s.transport()}}
	if cred != nil {
		c.Credential = auth.StaticCredential(s.host, *cred)
	}
	r.Client = c
	return r
}

func writeHtpasswd(t *testing.T, user, pass string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return testkit.WriteFile(t, filepath.Join(t.TempDir(), "htpasswd"), user+":"+string(h)+"\n")
}

// statusOf is the HTTP status carried by an oras-go or ggcr error, or 0.
func statusOf(err error) int {
	var oe *errcode.ErrorResponse
	if errors.As(err, &oe) {
		return oe.StatusCode
	}
	var ge *transport.Error
	if errors.As(err, &ge) {
		return ge.StatusCode
	}
	return 0
}

// TestTLSClients: over HTTPS, oras-go and go-containerregistry's remote
// pull a multi-platform index from serve and push into serve --writable;
// a client that does not trust the certificate gets nothing.
func TestTLSClients(t *testing.T) {
	ctx := context.Background()
	l := testkit.NewLayout(t)
	idx, imgs := testkit.PushPlatformIndex(t, l, "v1", "linux/amd64", "linux/arm64")
	s := startTLS(t, serve.Options{Path: l.Path(), Repo: "r", Writable: true})

	// Without the certificate: a TLS verification error, no answer.
	plain := &http.Client{Transport: &http.Transport{Proxy: nil}}
	if resp, err := plain.Get("https://" + s.host + "/v2/"); err == nil {
		resp.Body.Close()
		t.Fatalf("a client without the certificate got %s", resp.Status)
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a client without the certificate: %v, want a certificate error", err)
	}

	t.Run("oras", func(t *testing.T) {
		dst := testkit.NewLayout(t)
		testkit.CopyExpect(t, "oras pull over TLS", s.orasRepo(t, "r", nil), "v1", dst, "v1", idx)
		if rep, err := dst.Check(ctx, layout.CheckOptions{}); err != nil || !rep.OK() {
			t.Fatalf("pulled layout: %v %+v", err, rep)
		}
		if got := testkit.FetchBytes(t, dst, imgs[1].Blobs[1]); int64(len(got)) != imgs[1].Blobs[1].Size {
			t.Fatalf("layer: %d bytes, want %d", len(got), imgs[1].Blobs[1].Size)
		}

		src := testkit.NewLayout(t)
		m := testkit.StoreManifest(t, src, "application/x.tls", "over tls")
		testkit.Tag(t, src, m, "v2")
		if _, err := oras.Copy(ctx, src, "v2", s.orasRepo(t, "oras/pushed", nil), "v2", oras.DefaultCopyOptions); err != nil {
			t.Fatalf("oras push over TLS: %v", err)
		}
		if got := testkit.IndexTags(t, l.Path())["oras/pushed:v2"]; got != m.Digest.String() {
			t.Fatalf("entry oras/pushed:v2 = %q, want %s", got, m.Digest)
		}
	})

	t.Run("ggcr", func(t *testing.T) {
		opt := ggcr.WithTransport(s.transport())
		ref, err := name.ParseReference(s.host + "/r:v1")
		if err != nil {
			t.Fatal(err)
		}
		got, err := ggcr.Index(ref, opt)
		if err != nil {
			t.Fatalf("ggcr pull over TLS: %v", err)
		}
		if d, _ := got.Digest(); d.String() != idx.Digest.String() {
			t.Fatalf("index %s, want %s", d, idx.Digest)
		}
		// The fixture's layers are not gzip though their media type says
		// so: validate the graph and digests, then a layer's bytes.
		if err := validate.Index(got, validate.Fast); err != nil {
			t.Fatalf("validate.Index: %v", err)
		}
		layer, err := ggcr.Layer(ref.Context().Digest(imgs[0].Blobs[1].Digest.String()), opt)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := layer.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || digest.FromBytes(b) != imgs[0].Blobs[1].Digest {
			t.Fatalf("layer over TLS: %d bytes, %v", len(b), err)
		}

		img, err := random.Image(3000, 2)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := img.Digest()
		pushed, err := name.ParseReference(s.host + "/ggcr/pushed:v3")
		if err != nil {
			t.Fatal(err)
		}
		if err := ggcr.Write(pushed, img, opt); err != nil {
			t.Fatalf("ggcr push over TLS: %v", err)
		}
		if got := testkit.IndexTags(t, l.Path())["ggcr/pushed:v3"]; got != want.String() {
			t.Fatalf("entry ggcr/pushed:v3 = %q, want %s", got, want)
		}
		back, err := ggcr.Image(pushed, opt)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(back); err != nil {
			t.Fatalf("validate.Image of what ggcr pushed: %v", err)
		}
	})
	if rep, err := l.Check(ctx, layout.CheckOptions{}); err != nil || !rep.OK() {
		t.Fatalf("served layout after the pushes: %v %+v", err, rep)
	}
}

// TestTLSHtpasswdClients: over HTTPS with --htpasswd, anonymous requests
// and wrong credentials get 401 (with WWW-Authenticate), from a plain
// request, oras-go and ggcr alike; the right credentials pull and push.
func TestTLSHtpasswdClients(t *testing.T) {
	ctx := context.Background()
	l := testkit.NewLayout(t)
	idx, _ := testkit.PushPlatformIndex(t, l, "v1", "linux/amd64")
	s := startTLS(t, serve.Options{Path: l.Path(), Repo: "r", Writable: true, Htpasswd: writeHtpasswd(t, "alice", "s3cret")})
	client := &http.Client{Transport: s.transport()}

	for _, p := range []string{"/v2/", "/v2/r/manifests/v1", "/v2/r/tags/list"} {
		resp, err := client.Get("https://" + s.host + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Basic realm="ocipack"` {
			t.Errorf("anonymous GET %s: %s, WWW-Authenticate %q", p, resp.Status, resp.Header.Get("WWW-Authenticate"))
		}
	}

	right := auth.Credential{Username: "alice", Password: "s3cret"}
	wrong := auth.Credential{Username: "alice", Password: "nope"}
	t.Run("oras", func(t *testing.T) {
		// Anonymous, oras-go gives up on the Basic challenge itself.
		if _, err := s.orasRepo(t, "r", nil).Resolve(ctx, "v1"); err == nil || !strings.Contains(err.Error(), "basic credential not found") {
			t.Errorf("oras anonymous: %v, want the Basic challenge unanswered", err)
		}
		if _, err := s.orasRepo(t, "r", &wrong).Resolve(ctx, "v1"); statusOf(err) != 401 {
			t.Errorf("oras with a wrong password: %v, want a 401", err)
		}
		d, err := s.orasRepo(t, "r", &right).Resolve(ctx, "v1")
		if err != nil || d.Digest != idx.Digest {
			t.Fatalf("oras with credentials: %v %v", d.Digest, err)
		}
		src := testkit.NewLayout(t)
		m := testkit.StoreManifest(t, src, "application/x.auth", "with auth")
		testkit.Tag(t, src, m, "v2")
		if _, err := oras.Copy(ctx, src, "v2", s.orasRepo(t, "oras/auth", &wrong), "v2", oras.DefaultCopyOptions); statusOf(err) != 401 {
			t.Errorf("oras push with a wrong password: %v, want a 401", err)
		}
		if _, ok := testkit.IndexTags(t, l.Path())["oras/auth:v2"]; ok {
			t.Fatal("a push with a wrong password made an entry")
		}
		if _, err := oras.Copy(ctx, src, "v2", s.orasRepo(t, "oras/auth", &right), "v2", oras.DefaultCopyOptions); err != nil {
			t.Fatalf("oras push with credentials: %v", err)
		}
		if got := testkit.IndexTags(t, l.Path())["oras/auth:v2"]; got != m.Digest.String() {
			t.Fatalf("entry oras/auth:v2 = %q, want %s", got, m.Digest)
		}
	})

	t.Run("ggcr", func(t *testing.T) {
		ref, err := name.ParseReference(s.host + "/r:v1")
		if err != nil {
			t.Fatal(err)
		}
		tr := ggcr.WithTransport(s.transport())
		for what, a := range map[string]authn.Authenticator{
			"anonymous":      authn.Anonymous,
			"wrong password": &authn.Basic{Username: "alice", Password: "nope"},
		} {
			if _, err := ggcr.Index(ref, tr, ggcr.WithAuth(a)); statusOf(err) != 401 {
				t.Errorf("ggcr %s: %v, want a 401", what, err)
			}
		}
		alice := ggcr.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"})
		got, err := ggcr.Index(ref, tr, alice)
		if err != nil {
			t.Fatalf("ggcr with credentials: %v", err)
		}
		if d, _ := got.Digest(); d.String() != idx.Digest.String() {
			t.Fatalf("index %s, want %s", d, idx.Digest)
		}
		if err := validate.Index(got, validate.Fast); err != nil {
			t.Fatalf("validate.Index: %v", err)
		}
		img, err := random.Image(1000, 1)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := img.Digest()
		pushed, _ := name.ParseReference(s.host + "/ggcr/auth:v3")
		if err := ggcr.Write(pushed, img, tr, alice); err != nil {
			t.Fatalf("ggcr push with credentials: %v", err)
		}
		if got := testkit.IndexTags(t, l.Path())["ggcr/auth:v3"]; got != want.String() {
			t.Fatalf("entry ggcr/auth:v3 = %q, want %s", got, want)
		}
	})
}
