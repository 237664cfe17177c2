//go:build !windows

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	ggcr "github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/crypto/bcrypt"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/ocipack/ocipack/internal/testkit"
)

// testCA makes a CA and a server certificate it signs for 127.0.0.1,
// writes the server's certificate and key as PEM files in dir, and returns
// their paths and a pool trusting the CA only.
func testCA(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	now := time.Now()
	caKey := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ocipack test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key := newKey()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = testkit.WriteFile(t, filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyFile = testkit.WriteFile(t, filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return certFile, keyFile, pool
}

// TestServeCLITLSHtpasswd: `ocipack serve --tls-cert --tls-key --htpasswd
// --writable` with a certificate from a CA made here: anonymous requests
// get 401 with WWW-Authenticate, a wrong password 401; with the right one
// go-containerregistry pushes and pulls, and oras-go resolves; then
// SIGTERM, exit 0, and `ls` lists the pushed entry.
func TestServeCLITLSHtpasswd(t *testing.T) {
	dir := t.TempDir()
	lay := filepath.Join(dir, "bundle")
	mustRun(t, "pack", lay+":v1", testkit.WriteFile(t, filepath.Join(dir, "f.txt"), "tls"), "-q")
	certFile, keyFile, pool := testCA(t, dir)
	h, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	pw := testkit.WriteFile(t, filepath.Join(dir, "htpasswd"), "alice:"+string(h)+"\n")
	url, cmd, _, _ := startServe(t, lay, "--addr", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile,
		"--htpasswd", pw, "--writable", "--quiet")
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("serve with TLS announced %s", url)
	}
	host := strings.TrimPrefix(url, "https://")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}

	resp, err := (&http.Client{Transport: tr}).Get(url + "/v2/bundle/tags/list")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic realm=") {
		t.Fatalf("anonymous: %s, WWW-Authenticate %q", resp.Status, resp.Header.Get("WWW-Authenticate"))
	}

	ref, err := name.ParseReference(host + "/bundle:v1")
	if err != nil {
		t.Fatal(err)
	}
	var te *transport.Error
	_, err = ggcr.Head(ref, ggcr.WithTransport(tr), ggcr.WithAuth(&authn.Basic{Username: "alice", Password: "nope"}))
	if !errors.As(err, &te) || te.StatusCode != 401 {
		t.Fatalf("ggcr with a wrong password: %v, want a 401", err)
	}
	alice := ggcr.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"})
	want, err := ggcr.Head(ref, ggcr.WithTransport(tr), alice)
	if err != nil {
		t.Fatalf("ggcr with credentials: %v", err)
	}
	img, err := random.Image(2000, 2)
	if err != nil {
		t.Fatal(err)
	}
	pushed, _ := name.ParseReference(host + "/team/app:2.0")
	if err := ggcr.Write(pushed, img, ggcr.WithTransport(tr), alice); err != nil {
		t.Fatalf("ggcr push: %v", err)
	}
	if _, err := ggcr.Image(pushed, ggcr.WithTransport(tr), alice); err != nil {
		t.Fatalf("ggcr pull of the pushed image: %v", err)
	}

	r, err := remote.NewRepository(host + "/bundle")
	if err != nil {
		t.Fatal(err)
	}
	r.Client = &auth.Client{Client: &http.Client{Transport: tr},
		Credential: auth.StaticCredential(host, auth.Credential{Username: "alice", Password: "s3cret"})}
	d, err := r.Resolve(context.Background(), "v1")
	if err != nil || d.Digest.String() != want.Digest.String() {
		t.Fatalf("oras-go resolve: %v %v, want %s", d.Digest, err, want.Digest)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve after SIGTERM: %v", err)
	}
	digest, _ := img.Digest()
	if out := mustRun(t, "ls", lay).stdout; !strings.Contains(out, "team/app:2.0") || !strings.Contains(out, digest.Hex[:12]) {
		t.Errorf("ls after the push:\n%s", out)
	}
}
