package transfer_test

import (
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/transfer"
)

// always makes a faultyProxy fault every time, not a fixed number of times.
const always = -1

// faultyProxy is a loopback reverse proxy in front of a registry that
// misbehaves a fixed number of times: it answers 503 to blob uploads (PUT
// or PATCH) or blob downloads, and cuts blob downloads short (half the body,
// then the connection is closed).
type faultyProxy struct {
	Host string

	target *url.URL
	rp     *httputil.ReverseProxy
	client *http.Client

	mu sync.Mutex
	// Faults still to inject; always means without end.
	rejectUploads, rejectDownloads, cutDownloads, loseUploads int
	// Faults injected.
	rejectedUploads, rejectedDownloads, cut, lost int
}

func startFaultyProxy(t *testing.T, reg *testkit.Registry) *faultyProxy {
	t.Helper()
	target, err := url.Parse(reg.URL)
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	p := &faultyProxy{
		target: target,
		client: &http.Client{Transport: tr, Timeout: 30 * time.Second},
		rp: &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(target)
				// The registry builds upload locations from the Host it
				// was asked for: keep the proxy's, so they lead back here.
				r.Out.Host = r.In.Host
			},
			Transport: tr,
			// Clients that give up on a request (a failed attempt cancels
			// the others) are expected here.
			ErrorLog: log.New(io.Discard, "", 0),
		},
	}
	srv := httptest.NewServer(p)
	p.Host = srv.Listener.Addr().String()
	t.Cleanup(func() {
		srv.Close()
		tr.CloseIdleConnections()
	})
	return p
}

// set arms the faults.
func (p *faultyProxy) set(rejectUploads, rejectDownloads, cutDownloads int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rejectUploads, p.rejectDownloads, p.cutDownloads = rejectUploads, rejectDownloads, cutDownloads
}

// loseUploadAnswers makes the next n uploads arrive, but answers them 503.
func (p *faultyProxy) loseUploadAnswers(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.loseUploads = n
}

// lostAnswers returns the number of upload answers lost so far.
func (p *faultyProxy) lostAnswers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lost
}

// counts returns the faults injected so far.
func (p *faultyProxy) counts() (rejectedUploads, rejectedDownloads, cut int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rejectedUploads, p.rejectedDownloads, p.cut
}

// take uses up one fault of *n, reporting whether there was one left.
func (p *faultyProxy) take(n, done *int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if *n == 0 {
		return false
	}
	if *n > 0 {
		*n--
	}
	*done++
	return true
}

func (p *faultyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	upload := (r.Method == http.MethodPut || r.Method == http.MethodPatch) && strings.Contains(r.URL.Path, "/blobs/uploads/")
	download := r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:")
	switch {
	case upload && p.take(&p.rejectUploads, &p.rejectedUploads):
		io.Copy(io.Discard, io.LimitReader(r.Body, 64<<20)) // answer after the body, as a busy registry would
		unavailable(w)
	case download && p.take(&p.rejectDownloads, &p.rejectedDownloads):
		unavailable(w)
	case download && p.take(&p.cutDownloads, &p.cut):
		p.cutShort(w, r)
	case upload && p.take(&p.loseUploads, &p.lost):
		// The registry stores the blob, but its answer is lost on the
		// way back, as behind a gateway that timed out.
		p.rp.ServeHTTP(httptest.NewRecorder(), r)
		unavailable(w)
	default:
		p.rp.ServeHTTP(w, r)
	}
}

func unavailable(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, `{"errors":[{"code":"UNAVAILABLE","message":"the proxy says: try again later"}]}`)
}

// cutShort fetches the blob from the registry, announces its full length,
// sends half of it and closes the connection.
func (p *faultyProxy) cutShort(w http.ResponseWriter, r *http.Request) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, p.target.String()+r.URL.RequestURI(), nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := p.client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	resp.Body.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode)
	w.Write(body[:len(body)/2])
	w.(http.Flusher).Flush()
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// TestRetryTransientFaults pushes and pulls through a proxy that answers
// 503 to the first uploads and downloads and cuts one download short: the
// copies succeed, with identical digests, and Result.Attempts counts the
// whole-copy retries that per-request retries could not spare.
func TestRetryTransientFaults(t *testing.T) {
	ctx := testCtx(t)
	e := startRetryEnv(t, "apps/flaky:v1", 6)
	reg, proxy, src, g, ref, opts := e.reg, e.proxy, e.src, e.g, e.ref, e.opts

	// An upload's body is a stream: oras-go cannot send it again, so each
	// 503 fails an attempt of the whole copy.
	proxy.set(3, 0, 0)
	res, err := transfer.Push(ctx, src, "v1", ref, "v1", opts)
	if err != nil {
		t.Fatalf("push through 3 rejected uploads: %v", err)
	}
	if up, _, _ := proxy.counts(); up != 3 {
		t.Fatalf("the proxy rejected %d uploads, want 3", up)
	}
	if res.Attempts < 2 || res.Attempts > 4 {
		t.Errorf("push took %d attempts; 3 rejected uploads need 2 to 4", res.Attempts)
	}
	if res.Manifest.Digest != g.manifest.Digest || res.Copied != len(g.blobs) || res.Skipped != 0 || res.Bytes < g.blobBytes()+g.manifest.Size {
		t.Errorf("push result %+v; want %s, %d copied, 0 skipped, at least %d bytes", res, g.manifest.Digest, len(g.blobs), g.blobBytes()+g.manifest.Size)
	}
	direct := reg.Repository(t, "apps/flaky")
	if d, err := direct.Resolve(ctx, "v1"); err != nil || d.Digest != g.manifest.Digest {
		t.Fatalf("registry v1 = %v, %v", d.Digest, err)
	}

	// An upload that arrived but whose answer was lost: the retry finds
	// the blob there, and it counts as copied, not as "already there".
	proxy.set(0, 0, 0)
	proxy.loseUploadAnswers(1)
	res, err = transfer.Push(ctx, src, "v1", e.viaProxy(t, "apps/lost:v1"), "v1", opts)
	if err != nil {
		t.Fatalf("push through a lost answer: %v", err)
	}
	if proxy.lostAnswers() != 1 {
		t.Fatalf("the proxy lost %d answers, want 1", proxy.lostAnswers())
	}
	if res.Attempts != 2 || res.Copied != len(g.blobs) || res.Skipped != 0 {
		t.Errorf("push through a lost answer: %d attempts, %d copied, %d skipped; want 2, %d, 0", res.Attempts, res.Copied, res.Skipped, len(g.blobs))
	}

	// A download is a GET: oras-go's per-request retry answers the 503s on
	// its own, within one attempt.
	proxy.set(0, 3, 0)
	dst := testkit.NewLayout(t)
	res, err = transfer.Pull(ctx, ref, dst, "v1", opts)
	if err != nil {
		t.Fatalf("pull through 3 rejected downloads: %v", err)
	}
	if _, down, _ := proxy.counts(); down != 3 {
		t.Fatalf("the proxy rejected %d downloads, want 3", down)
	}
	if res.Attempts != 1 || res.Manifest.Digest != g.manifest.Digest {
		t.Errorf("pull through 503s: %d attempts, manifest %s; want 1 (retried per request), %s", res.Attempts, res.Manifest.Digest, g.manifest.Digest)
	}
	assertExampleRestored(t, unpackTo(t, dst, "v1"))

	// A download cut short after its headers is beyond per-request retry:
	// the whole copy runs again and fetches only what is missing.
	proxy.set(0, 3, 1)
	dst = testkit.NewLayout(t)
	res, err = transfer.Pull(ctx, ref, dst, "v1", opts)
	if err != nil {
		t.Fatalf("pull through 503s and a cut download: %v", err)
	}
	if _, down, cut := proxy.counts(); down != 6 || cut != 1 {
		t.Fatalf("the proxy rejected %d downloads in all and cut %d; want 6 and 1", down, cut)
	}
	if res.Attempts != 2 {
		t.Errorf("pull through a cut download took %d attempts, want 2", res.Attempts)
	}
	if res.Manifest.Digest != g.manifest.Digest || res.Copied != len(g.blobs) || res.Skipped != 0 {
		t.Errorf("pull result %+v", res)
	}
	if d, err := dst.Resolve(ctx, "v1"); err != nil || d.Digest != g.manifest.Digest {
		t.Fatalf("pulled v1 = %v, %v", d.Digest, err)
	}
	assertExampleRestored(t, unpackTo(t, dst, "v1"))
	assertNoTempBlobs(t, dst)
}

// TestRetryGivesUp pushes and pulls through a proxy that always fails:
// the error comes after RetryOptions.Attempts attempts and names the blob, and
// nothing is tagged at the destination.
func TestRetryGivesUp(t *testing.T) {
	ctx := testCtx(t)
	e := startRetryEnv(t, "apps/down:v1", 3)
	reg, proxy, src, g, ref, opts := e.reg, e.proxy, e.src, e.g, e.ref, e.opts

	proxy.set(always, 0, 0)
	start := time.Now()
	res, err := transfer.Push(ctx, src, "v1", ref, "v1", opts)
	if err == nil {
		t.Fatal("push through a proxy that rejects every upload succeeded")
	}
	t.Logf("push error after %v: %v", time.Since(start), err)
	if res == nil || res.Attempts != 3 {
		t.Errorf("push gave up after %+v attempts, want 3", res)
	}
	if !strings.Contains(err.Error(), "3 attempts") || !namesOneOf(err, g) {
		t.Errorf("push error does not name the attempts and a blob digest: %v", err)
	}
	if errors.Is(err, transfer.ErrUnauthorized) || errors.Is(err, transfer.ErrCertificate) {
		t.Errorf("a 503 reported as an auth or certificate problem: %v", err)
	}
	if up, _, _ := proxy.counts(); up < 3 || up > 3*len(g.blobs) {
		t.Errorf("the proxy rejected %d uploads; 3 attempts make 3 to %d", up, 3*len(g.blobs))
	}
	if _, err := reg.Repository(t, "apps/down").Resolve(ctx, "v1"); !errors.Is(err, errdef.ErrNotFound) {
		t.Errorf("the registry has v1 after a failed push: %v", err)
	}

	// Get the artifact into the registry, then fail every download.
	proxy.set(0, 0, 0)
	if _, err := transfer.Push(ctx, src, "v1", ref, "v1", opts); err != nil {
		t.Fatal(err)
	}
	proxy.set(0, 0, always)
	dst := testkit.NewLayout(t)
	packPaths(t, dst, "other", "../testdata/example/hello-0.1.0.tgz")
	other, _ := dst.Resolve(ctx, "other")
	res, err = transfer.Pull(ctx, ref, dst, "v1", opts)
	if err == nil {
		t.Fatal("pull through a proxy that cuts every download succeeded")
	}
	t.Logf("pull error: %v", err)
	if res == nil || res.Attempts != 3 {
		t.Errorf("pull gave up after %+v attempts, want 3", res)
	}
	if !strings.Contains(err.Error(), "3 attempts") || !namesOneOf(err, g) {
		t.Errorf("pull error does not name the attempts and a blob digest: %v", err)
	}
	_, err = dst.Resolve(ctx, "v1")
	assertNotFound(t, "v1 after a failed pull", err)
	tags, err := dst.Tags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != 1 || tags[0].Tag != "other" || tags[0].Descriptor.Digest != other.Digest {
		t.Errorf("tags after a failed pull = %+v, want only the untouched 'other'", tags)
	}
	// Every tag still points at a complete artifact.
	for _, tg := range tags {
		gg := graphOf(t, dst, tg.Tag)
		for _, b := range append(gg.blobs, gg.manifest) {
			if ok, err := dst.Exists(ctx, b); err != nil || !ok {
				t.Errorf("tag %s: blob %s missing", tg.Tag, b.Digest)
			}
		}
	}
	assertNoTempBlobs(t, dst)
}

// retryEnv is a registry behind a faultyProxy, a layout src with the
// example files packed as v1 (graph g), the reference ref through the
// proxy and Options that retry whole copies.
type retryEnv struct {
	reg   *testkit.Registry
	proxy *faultyProxy
	src   *layout.Layout
	g     graph
	ref   registry.Reference
	opts  transfer.Options
}

// startRetryEnv starts a retryEnv whose ref is repoAndTag through the
// proxy and whose Options make up to attempts attempts.
func startRetryEnv(t *testing.T, repoAndTag string, attempts int) *retryEnv {
	t.Helper()
	e := &retryEnv{reg: testkit.StartRegistry(t, testkit.RegistryOptions{})}
	e.proxy = startFaultyProxy(t, e.reg)
	e.src, e.g, _ = packExample(t)
	e.ref = e.viaProxy(t, repoAndTag)
	e.opts = transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, Retry: transfer.RetryOptions{Attempts: attempts, Wait: 10 * time.Millisecond}}
	return e
}

// viaProxy parses REPO[:TAG] on the proxy.
func (e *retryEnv) viaProxy(t *testing.T, repoAndTag string) registry.Reference {
	t.Helper()
	ref, err := transfer.ParseReference(e.proxy.Host + "/" + repoAndTag)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// namesOneOf reports whether err names the digest of one of g's blobs.
func namesOneOf(err error, g graph) bool {
	for _, b := range g.blobs {
		if strings.Contains(err.Error(), b.Digest.String()) {
			return true
		}
	}
	return false
}

// assertNoTempBlobs checks that no partial blob was left behind.
func assertNoTempBlobs(t *testing.T, l *layout.Layout) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(l.Path(), layout.WorkDir, "tmp"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("partial blob left behind: %s", e.Name())
	}
}
