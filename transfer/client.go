// Package transfer copies artifacts between an OCI image layout and a
// registry (push and pull), and logs in to registries.
//
// It is built on oras-go: oras.CopyGraph (for the artifact, and for each
// of its referrers such as SBOMs and signatures), remote.Repository, the
// auth and retry packages and the credentials package, which reads and
// writes docker's config.json and its credential helpers. The graph is
// walked, sized and its referrers found with graph.Walker before anything
// is transferred. Where oras-go stops short it is extended on its own seams
// (oras.CopyGraphOptions' hooks and its interfaces) rather than forked:
//
//   - oras-go's retry transport retries one HTTP request, but it cannot
//     retry a blob upload whose body is a stream, nor a download whose
//     connection breaks after the headers. Copy therefore runs the whole
//     graph copy again after a transient failure; blobs that arrived are
//     skipped by then, so only the rest is sent.
//   - oras.CopyGraph reports no bytes. Its PreCopy, PostCopy and
//     OnCopySkipped hooks report each blob's start, arrival or skip, and a
//     counting reader on the fetch path counts the bytes and reports
//     progress (stats.go); errors name the blob at fault.
//   - oras-go has no ranged fetch and no chunked upload. PreCopy transfers
//     large blobs itself then: resumable downloads into a layout.Writer
//     (resume.go), chunked, resumable uploads (chunk.go).
package transfer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/ocipack/ocipack/layout"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/errcode"
	"oras.land/oras-go/v2/registry/remote/retry"
)

// Sentinel errors for conditions a caller must tell apart.
var (
	// ErrUnauthorized means the registry refused the credentials, or wanted
	// some and had none.
	ErrUnauthorized = errors.New("registry refused the credentials")
	// ErrCertificate means the registry's TLS certificate was not trusted.
	ErrCertificate = errors.New("registry's TLS certificate is not trusted")
	// ErrInvalidReference means a registry reference could not be parsed.
	ErrInvalidReference = errors.New("invalid registry reference")
)

// DockerCredentials returns the credential store docker and oras use:
// config.json under $DOCKER_CONFIG or ~/.docker, with its auths, credsStore
// and credHelpers. New credentials go to the configured helper, or to the
// file when there is none.
func DockerCredentials() (credentials.Store, error) {
	s, err := credentials.NewStoreFromDocker(credentials.StoreOptions{AllowPlaintextPut: true})
	if err != nil {
		return nil, fmt.Errorf("read docker credentials: %w", err)
	}
	return s, nil
}

// httpClient builds the HTTP client: TLS as configured, and oras-go's retry
// transport, which retries a request on connection errors, 408, 429 and 5xx
// with exponential backoff.
func (o *ConnectionOptions) httpClient() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyFromEnvironment
	tr.MaxIdleConnsPerHost = 16
	// Nothing else bounds a registry that stops answering: neither
	// oras-go nor http.DefaultTransport sets a timeout past the dial and
	// the TLS handshake, and a client-wide timeout would cut off large
	// blobs. Bound the wait for response headers, and every read and
	// write of a connection, by the idle timeout instead.
	idle := o.IdleTimeout
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &idleConn{Conn: c, idle: idle}, nil
	}
	tr.ResponseHeaderTimeout = idle
	// Idle pooled connections are closed before their read deadline
	// would break them under a request just handed to them.
	tr.IdleConnTimeout = min(tr.IdleConnTimeout, idle/2)
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.Insecure} //nolint:gosec // only with --insecure
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-file %s: no PEM certificate in it", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	if o.CertFile != "" || o.KeyFile != "" {
		if o.CertFile == "" || o.KeyFile == "" {
			return nil, errors.New("--cert-file and --key-file go together: give both")
		}
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate %s / %s: %w", o.CertFile, o.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	tr.TLSClientConfig = cfg
	var rt http.RoundTripper = tr
	if o.PlainHTTP {
		rt = httpsHint{next: tr} // says so when the registry speaks HTTPS
	}
	return &http.Client{Transport: &retryTransport{Transport: retry.NewTransport(rt), base: tr}}, nil
}

// DefaultIdleTimeout is the ConnectionOptions.IdleTimeout used when it is 0: how long
// a registry may leave a request without progress (no response headers, no
// body byte either way) before it fails and is retried.
const DefaultIdleTimeout = time.Minute

// idleConn is a connection whose reads and writes fail with a timeout when
// they make no progress for idle. Each Read and Write moves the deadline of
// both directions: a write extends a read that waits for the answer to what
// is being written (HTTP/1 reads the answer while the request body is
// still going out), and a read extends a write.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.Conn.SetDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	c.Conn.SetDeadline(time.Now().Add(c.idle))
	return c.Conn.Write(p)
}

// retryTransport is oras-go's retry transport with the CloseIdleConnections
// of the transport below it, which http.Client.CloseIdleConnections needs.
type retryTransport struct {
	*retry.Transport
	base *http.Transport
}

func (t *retryTransport) CloseIdleConnections() { t.base.CloseIdleConnections() }

// closeIdleConnections closes the idle connections of a client built by
// authClient. Each Push, Pull and Login builds its own transport; without
// this its kept-alive connections (and a connection dialled speculatively
// but never used) would linger for the idle timeout after the call returned.
func closeIdleConnections(c remote.Client) {
	if ac, ok := c.(*auth.Client); ok && ac.Client != nil {
		ac.Client.CloseIdleConnections()
	}
}

// authClient builds the auth-decorated client for host.
func (o *ConnectionOptions) authClient(host string) (*auth.Client, error) {
	hc, err := o.httpClient()
	if err != nil {
		return nil, err
	}
	c := &auth.Client{Client: hc, Cache: auth.NewCache()}
	ua := o.UserAgent
	if ua == "" {
		ua = "ocipack"
	}
	c.SetUserAgent(ua)
	switch {
	case o.Username != "":
		c.Credential = auth.StaticCredential(host, auth.Credential{Username: o.Username, Password: o.Password})
	case o.Credentials != nil:
		c.Credential = credentials.Credential(o.Credentials)
	}
	return c, nil
}

// ParseReference parses REGISTRY/REPO[:TAG|@DIGEST].
func ParseReference(s string) (registry.Reference, error) {
	ref, err := registry.ParseReference(s)
	if err != nil {
		return registry.Reference{}, fmt.Errorf("%w: %q: write REGISTRY/REPOSITORY[:TAG|@DIGEST], for example registry.internal:5000/charts/hello:0.1.0", ErrInvalidReference, s)
	}
	return ref, nil
}

// NewRepository returns a client for the repository ref names (its
// Reference part is ignored), connected as opts says.
func NewRepository(ref registry.Reference, opts ConnectionOptions) (*remote.Repository, error) {
	c, err := opts.authClient(ref.Registry)
	if err != nil {
		return nil, err
	}
	repo := &remote.Repository{
		Client:    c,
		Reference: registry.Reference{Registry: ref.Registry, Repository: ref.Repository},
		PlainHTTP: opts.PlainHTTP,
		// Bound server-driven pagination (see bounds.go).
		TagListMaxPages:      MaxTagPages,
		ReferrerListMaxPages: MaxReferrerPages,
	}
	return repo, nil
}

// Login checks the credential against the registry at host and stores it in
// store (for the docker store: in the credential helper, or config.json),
// connecting as opts says (its Username and Credentials are not used).
func Login(ctx context.Context, store credentials.Store, host string, cred auth.Credential, opts ConnectionOptions) error {
	reg, err := remote.NewRegistry(host)
	if err != nil {
		return fmt.Errorf("%w: %q is not a registry host (write HOST[:PORT])", ErrInvalidReference, host)
	}
	opts.Username, opts.Credentials = "", nil
	c, err := opts.authClient(host)
	if err != nil {
		return err
	}
	defer closeIdleConnections(c)
	reg.Client = c
	reg.PlainHTTP = opts.PlainHTTP
	if err := credentials.Login(ctx, store, reg, cred); err != nil {
		err = explain(err, host)
		if errors.Is(err, ErrUnauthorized) {
			return fmt.Errorf("%w: %s refused user %q; check the user name and the password or token", ErrUnauthorized, host, cred.Username)
		}
		return err
	}
	return nil
}

// StoreCredential stores cred for host in store without checking it
// against a registry: for a chart repository or download server, which
// HTTPClient then sends it to.
func StoreCredential(ctx context.Context, store credentials.Store, host string, cred auth.Credential) error {
	if host == "" || strings.ContainsAny(host, "/ ") {
		return fmt.Errorf("%w: %q is not a host (write HOST[:PORT])", ErrInvalidReference, host)
	}
	if err := store.Put(ctx, host, cred); err != nil {
		return fmt.Errorf("store the credential for %s: %w", host, err)
	}
	return nil
}

// Logout removes the stored credential for host.
func Logout(ctx context.Context, store credentials.Store, host string) error {
	return credentials.Logout(ctx, store, host)
}

// explain turns a registry error into one that says what went wrong and
// what to do: refused credentials (ErrUnauthorized), an untrusted
// certificate (ErrCertificate), or plain HTTP where HTTPS was expected.
func explain(err error, host string) error {
	if err == nil {
		return nil
	}
	err = reword(err, host) // see errors.go
	var resp *errcode.ErrorResponse
	switch {
	case errors.As(err, &resp) && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden):
		return fmt.Errorf("%w: %s answered %d %s; log in with 'ocipack login %s' or pass -u USER --password-stdin (%v)",
			ErrUnauthorized, host, resp.StatusCode, http.StatusText(resp.StatusCode), host, err)
	case errors.Is(err, auth.ErrBasicCredentialNotFound):
		return fmt.Errorf("%w: %s wants credentials and none are stored; log in with 'ocipack login %s' or pass -u USER --password-stdin",
			ErrUnauthorized, host, host)
	case isCertError(err):
		return fmt.Errorf("%w: %s: %v; pass --ca-file CA.pem to trust its CA, or --insecure to skip verification", ErrCertificate, host, rootCause(err))
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Errorf("%s speaks plain HTTP, not HTTPS; pass --plain-http: %w", host, err)
	}
	return err
}

func isCertError(err error) bool {
	var (
		ua  x509.UnknownAuthorityError
		ci  x509.CertificateInvalidError
		hn  x509.HostnameError
		cve *tls.CertificateVerificationError
	)
	return errors.As(err, &ua) || errors.As(err, &ci) || errors.As(err, &hn) || errors.As(err, &cve)
}

// isTimeout reports whether an error in err's chain is a timeout. Unlike
// errors.As with a net.Error, it looks past the first net.Error: a
// *url.Error is one, and its Timeout looks no deeper than the error it
// wraps, which is not one in "net/http: HTTP/1.x transport connection
// broken: net/http: timeout awaiting response headers".
func isTimeout(err error) bool {
	if t, ok := err.(interface{ Timeout() bool }); ok && t.Timeout() {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return isTimeout(u.Unwrap())
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if isTimeout(e) {
				return true
			}
		}
	}
	return false
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// transient reports whether err may go away when the copy is tried again:
// connection resets, timeouts, cut responses, 408, 429 and 5xx answers.
func transient(err error) bool {
	// Not context.DeadlineExceeded: net/http's "timeout awaiting response
	// headers" and net's dial timeout match it too, and they are network
	// timeouts. Copy checks its own context before it tries again.
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, layout.ErrDigestMismatch) || errors.Is(err, layout.ErrSizeMismatch) {
		return true // content damaged on the way: fetch it again
	}
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		return resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
	}
	if isCertError(err) || errors.Is(err, auth.ErrBasicCredentialNotFound) {
		return false
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) ||
		strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "unexpected EOF") {
		return true
	}
	// Not any net.Error: every error of an HTTP request is a *url.Error,
	// which is one, including "server gave HTTP response to HTTPS client"
	// and TLS handshake failures, which trying again cannot cure.
	if isTimeout(err) {
		return true
	}
	var ue *url.Error
	if errors.As(err, &ue) && errors.Is(ue.Err, io.EOF) {
		return true // the server hung up before answering
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op != "remote error" { // a TLS alert is no network failure
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) {
			return dnsErr.IsTemporary || dnsErr.IsTimeout
		}
		return true
	}
	return false
}
