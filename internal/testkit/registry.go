// StartRegistry starts a real CNCF Distribution registry
// (github.com/distribution/distribution/v3) inside the test process, backed
// by in-memory storage and listening on a random 127.0.0.1 port, so tests
// that push, pull or log in need no external setup.
//
// Distribution v3 does not implement the OCI referrers API
// (GET /v2/<name>/referrers/<digest> answers 404). It stores image-spec v1.1
// manifests with "subject" and "artifactType" verbatim, so clients such as
// oras-go fall back to the referrers tag schema ("sha256-<hex>" index tags),
// which needs manifest deletion; StartRegistry enables it.

package testkit

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"
	"oras.land/oras-go/v2/registry/remote"

	// Register the htpasswd access controller and the storage drivers.
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

// RegistryRealm is the basic-auth realm the registry announces when RegistryOptions.Users is set.
const RegistryRealm = "registrytest"

// RegistryOptions configures the registry started by StartRegistry.
type RegistryOptions struct {
	// Users, when non-empty, enables htpasswd (bcrypt) basic auth with these
	// user -> password pairs; every request then needs valid credentials.
	Users map[string]string
	// TLS, when true, serves HTTPS with a CA and a server certificate
	// generated for the test (ECDSA P-256, SANs 127.0.0.1 and localhost,
	// valid for one hour).
	TLS bool
	// Disk stores blobs in a temporary directory instead of memory. The
	// in-memory driver copies an upload's whole buffer on every write, so
	// blobs of many MiB (and the race detector) make it very slow.
	Disk bool
}

// Registry is a running in-process registry. All fields are read-only.
type Registry struct {
	// Host is the registry's "127.0.0.1:PORT", as used in references.
	Host string
	// URL is "http://127.0.0.1:PORT", or "https://127.0.0.1:PORT" with TLS.
	URL string
	// CAFile is the path of the PEM CA certificate when TLS is on, else "".
	CAFile string
	// CAPool holds the CA certificate when TLS is on, else nil.
	CAPool *x509.CertPool
	// PlainHTTP reports whether the registry serves plain HTTP (no TLS); it
	// is meant for oras-go's remote.Repository.PlainHTTP.
	PlainHTTP bool
}

// Client returns a new HTTP client for the registry; with TLS it trusts
// exactly CAPool. It never uses a proxy.
func (r *Registry) Client() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	if r.CAPool != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: r.CAPool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// Ref returns the reference of repo (optionally with ":tag" or "@digest")
// in this registry, such as "127.0.0.1:PORT/repo:tag".
func (r *Registry) Ref(repo string) string {
	return r.Host + "/" + repo
}

// RegistryLogEnv is the environment variable that, when non-empty, keeps the
// registry's own log output (logrus, to stderr) for debugging.
const RegistryLogEnv = "REGISTRYTEST_LOG"

var quietLogs sync.Once

// silenceLogs mutes the registry, which logs through logrus' process-wide
// standard logger; it logs every 404 (a normal answer to HEAD) as an error.
func silenceLogs() {
	if os.Getenv(RegistryLogEnv) != "" {
		return
	}
	logrus.SetLevel(logrus.ErrorLevel)
	logrus.SetOutput(io.Discard)
}

// StartRegistry starts a registry configured by opts and registers t.Cleanup to shut
// it down. It fails the test through t.Fatal on any setup error.
func StartRegistry(t testing.TB, opts RegistryOptions) *Registry {
	t.Helper()
	quietLogs.Do(silenceLogs)

	dir := t.TempDir()
	config := &configuration.Configuration{
		Storage: configuration.Storage{
			"delete": configuration.Parameters{"enabled": true},
			// No background upload purger goroutine.
			"maintenance": configuration.Parameters{
				"uploadpurging": map[any]any{"enabled": false},
			},
		},
	}
	if opts.Disk {
		config.Storage["filesystem"] = configuration.Parameters{"rootdirectory": filepath.Join(dir, "storage")}
	} else {
		config.Storage["inmemory"] = configuration.Parameters{}
	}
	config.HTTP.Secret = randomHex(t)
	if len(opts.Users) > 0 {
		path := filepath.Join(dir, "htpasswd")
		writeHtpasswd(t, path, opts.Users)
		config.Auth = configuration.Auth{
			"htpasswd": configuration.Parameters{"realm": RegistryRealm, "path": path},
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	app := handlers.NewApp(ctx, config)
	t.Cleanup(func() {
		if err := app.Shutdown(); err != nil {
			t.Errorf("registrytest: app shutdown: %v", err)
		}
		cancel()
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("registrytest: listen: %v", err)
	}
	reg := &Registry{Host: ln.Addr().String(), PlainHTTP: !opts.TLS}
	reg.URL = "http://" + reg.Host
	if opts.TLS {
		cert, caPEM := generateCerts(t)
		reg.URL = "https://" + reg.Host
		reg.CAFile = filepath.Join(dir, "ca.pem")
		if err := os.WriteFile(reg.CAFile, caPEM, 0o600); err != nil {
			t.Fatalf("registrytest: write CA: %v", err)
		}
		reg.CAPool = x509.NewCertPool()
		reg.CAPool.AppendCertsFromPEM(caPEM)
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}

	srv := &http.Server{
		Handler:           app,
		ReadHeaderTimeout: 10 * time.Second,
		// Handshake failures from clients that do not trust the CA are
		// expected in tests; do not print them.
		ErrorLog: log.New(quietErrors{}, "registrytest: ", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	t.Cleanup(func() {
		// Shutdown waits 5 s for a connection that was opened but never
		// used; the tests' requests are over by now, so close the rest
		// after a short grace instead.
		sctx, scancel := context.WithTimeout(context.Background(), time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("registrytest: serve: %v", err)
		}
	})
	return reg
}

// quietErrors passes http.Server error logs to stderr, except TLS handshake
// errors, which tests provoke on purpose.
type quietErrors struct{}

func (quietErrors) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("TLS handshake error")) {
		return len(p), nil
	}
	return os.Stderr.Write(p)
}

// writeHtpasswd writes a bcrypt htpasswd file for users to path.
func writeHtpasswd(t testing.TB, path string, users map[string]string) {
	t.Helper()
	names := make([]string, 0, len(users))
	for name := range users {
		if name == "" || strings.ContainsAny(name, ":\n") {
			t.Fatalf("registrytest: invalid user name %q", name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		// MinCost keeps tests fast; the registry accepts any bcrypt cost.
		hash, err := bcrypt.GenerateFromPassword([]byte(users[name]), bcrypt.MinCost)
		if err != nil {
			t.Fatalf("registrytest: bcrypt: %v", err)
		}
		fmt.Fprintf(&b, "%s:%s\n", name, hash)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatalf("registrytest: write htpasswd: %v", err)
	}
}

// generateCerts returns a server certificate for 127.0.0.1 and localhost
// signed by a fresh CA, and the CA certificate in PEM form.
func generateCerts(t testing.TB) (tls.Certificate, []byte) {
	t.Helper()
	now := time.Now()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "registrytest CA"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("registrytest: create CA: %v", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatalf("registrytest: parse CA: %v", err)
	}

	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatalf("registrytest: create server cert: %v", err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("registrytest: generate key: %v", err)
	}
	return key
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("registrytest: serial: %v", err)
	}
	return n
}

func randomHex(t testing.TB) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("registrytest: random: %v", err)
	}
	return hex.EncodeToString(b)
}

// Repository returns an oras-go client for repo in the registry, with its
// own HTTP client (Client), that talks to the registry directly: for tests
// to check what the registry holds without the code under test.
func (r *Registry) Repository(t testing.TB, repo string) *remote.Repository {
	t.Helper()
	rp, err := remote.NewRepository(r.Ref(repo))
	if err != nil {
		t.Fatalf("NewRepository: %v", err)
	}
	c := r.Client()
	t.Cleanup(c.CloseIdleConnections) // before the registry shuts down
	rp.Client, rp.PlainHTTP = c, r.PlainHTTP
	return rp
}
