// The proxy (Proxy, StartProxy) is a misbehaving HTTP reverse proxy for tests: it sits
// on 127.0.0.1 in front of a registry (or any HTTP server on the loopback
// interface) and, on a configurable share of the requests, resets the
// connection (a TCP RST), stalls, cuts the answer short, or answers 500 or
// 429 instead of the upstream. It can also refuse request bodies over a size
// with 413, and it counts the body bytes it forwards each way.
//
// Which requests fault is decided by a seeded math/rand generator, keyed by
// the request (its class, method and path, with upload session ids left out)
// and by how many times that request was seen since the last SetFaults: a
// run that sends the same requests in the same order meets the same faults.
// Requests sent concurrently (blob uploads start with identical POSTs) may
// meet them in another order.
//
// The proxy is bounded: it answers at most ProxyOptions.MaxRequests requests
// (later ones get 503), shuts down after ProxyOptions.Lifetime, and a stall
// lasts at most Faults.Stall, ending early when the client goes away or the
// proxy closes. StartProxy registers Close with t.Cleanup.

package testkit

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fault is a way for the proxy to misbehave.
type Fault uint8

// The faults. Where a fault acts "partway through a body", the point is drawn
// from the same seeded generator, anywhere from the first byte to the last.
const (
	// FaultNone: the request is forwarded and answered faithfully.
	FaultNone Fault = iota
	// FaultReset aborts the client's connection with a TCP RST (SO_LINGER 0,
	// then close). A request with a body is reset partway through it and
	// never reaches the upstream; a request whose answer has a body (GET)
	// is forwarded and reset partway through that body; any other request
	// is forwarded and reset instead of answered, so its answer is lost.
	FaultReset
	// FaultStall stops moving bytes for Faults.Stall (or until the client hangs
	// up, or the proxy closes), then closes the connection: partway through
	// a request body (which never reaches the upstream), partway through
	// an answer's body, or, with no body either way, before forwarding.
	FaultStall
	// FaultCut closes the connection cleanly (FIN) partway through an answer's
	// body, after the headers announced its full length. A request whose
	// answer has no body is forwarded whole and its answer lost: the
	// upstream acted on it (stored the blob, tagged the manifest), but the
	// client never hears so.
	FaultCut
	// FaultStatus500 answers 500 Internal Server Error, after reading the
	// request body; the upstream sees nothing.
	FaultStatus500
	// FaultStatus429 answers 429 Too Many Requests with Retry-After, after
	// reading the request body; the upstream sees nothing.
	FaultStatus429

	numFaults
)

// AllFaults are the faults SetFaults draws from when Faults.Kinds is empty.
var AllFaults = []Fault{FaultReset, FaultStall, FaultCut, FaultStatus500, FaultStatus429}

// String names the fault as the proxy logs it: "reset", "stall", "500"...
func (f Fault) String() string {
	switch f {
	case FaultNone:
		return "none"
	case FaultReset:
		return "reset"
	case FaultStall:
		return "stall"
	case FaultCut:
		return "cut"
	case FaultStatus500:
		return "500"
	case FaultStatus429:
		return "429"
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// Class is a kind of registry request, as a bit set so that Faults.Classes
// can name several.
type Class uint16

// The classes of registry request (OCI distribution-spec endpoints).
const (
	// UploadStart: POST /v2/<name>/blobs/uploads/ (starts an upload or
	// mounts a blob).
	UploadStart Class = 1 << iota
	// UploadData: PATCH or PUT /v2/<name>/blobs/uploads/<id> (sends a
	// blob's bytes and completes the upload).
	UploadData
	// BlobHead: HEAD /v2/<name>/blobs/<digest> (does the blob exist?).
	BlobHead
	// BlobGet: GET /v2/<name>/blobs/<digest>.
	BlobGet
	// ManifestHead: HEAD /v2/<name>/manifests/<reference> (resolve).
	ManifestHead
	// ManifestGet: GET /v2/<name>/manifests/<reference>.
	ManifestGet
	// ManifestPut: PUT /v2/<name>/manifests/<reference> (push and tag).
	ManifestPut
	// OtherRequests: everything else (/v2/, tags, referrers, DELETE, tokens).
	OtherRequests

	// BlobUploads are the requests of a blob upload.
	BlobUploads = UploadStart | UploadData
	// Uploads are the requests that write into the registry.
	Uploads = BlobUploads | ManifestPut
	// Downloads are the requests that read from it.
	Downloads = BlobHead | BlobGet | ManifestHead | ManifestGet
	// All is every request.
	AllRequests = Uploads | Downloads | OtherRequests
)

var classNames = []string{"upload-start", "upload-data", "blob-head", "blob-get", "manifest-head", "manifest-get", "manifest-put", "other"}

// String names the classes in c, joined by "|".
func (c Class) String() string {
	var names []string
	for i, n := range classNames {
		if c&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}

// Classify tells which registry request r is.
func Classify(r *http.Request) Class {
	p := r.URL.Path
	if !strings.HasPrefix(p, "/v2/") {
		return OtherRequests
	}
	switch i := strings.LastIndex(p, "/blobs/"); {
	case strings.Contains(p, "/blobs/uploads/") || strings.HasSuffix(p, "/blobs/uploads"):
		switch r.Method {
		case http.MethodPost:
			return UploadStart
		case http.MethodPatch, http.MethodPut:
			return UploadData
		}
	case i >= 0:
		switch r.Method {
		case http.MethodHead:
			return BlobHead
		case http.MethodGet:
			return BlobGet
		}
	case strings.Contains(p, "/manifests/"):
		switch r.Method {
		case http.MethodHead:
			return ManifestHead
		case http.MethodGet:
			return ManifestGet
		case http.MethodPut:
			return ManifestPut
		}
	}
	return OtherRequests
}

// Faults says how the proxy misbehaves. The zero value forwards everything
// faithfully.
type Faults struct {
	// Seed seeds the generator that picks the faulty requests, the fault
	// and the point in a body where it strikes.
	Seed uint64
	// Rate is the share of the requests of Classes that fault, from 0
	// (none) to 1 (every one).
	Rate float64
	// Kinds are the faults to pick from, each as likely (list one twice
	// to make it twice as likely); empty means AllFaults.
	Kinds []Fault
	// Classes are the requests that may fault; 0 means All.
	Classes Class
	// After lets the first After requests of Classes (since SetFaults)
	// through untouched, whatever Rate says.
	After int
	// Max bounds the number of faults injected; 0 means no bound.
	Max int
	// At, when > 0, is where in a body faults strike, as a share of its
	// length (0.5: half way), instead of a point drawn for each fault.
	At float64
	// Stall is how long a FaultStall lasts at most; 0 means one minute. It ends
	// early when the client hangs up (where the proxy can tell) or the
	// proxy closes.
	Stall time.Duration
	// RetryAfter is the Retry-After of a 429, in whole seconds; 0 means 1.
	RetryAfter int
	// RefuseBodiesOver, when > 0, answers 413 Request Entity Too Large to
	// every request whose body is longer than this many bytes (whatever
	// Rate says), without forwarding it. It is no fault: it is not drawn,
	// and counts in ProxyStats.Refused.
	RefuseBodiesOver int64
	// Match, when set, narrows Classes further: only the requests it
	// accepts may fault or count for After (say, the GETs of one blob, or
	// the PATCHes of a chunked upload).
	Match func(*http.Request) bool
	// IgnoreRange drops the Range header of every request (whatever Rate
	// says), as a registry or proxy that does not serve ranges would: the
	// upstream answers 200 with the whole body.
	IgnoreRange bool
}

// ProxyOptions configures a proxy.
type ProxyOptions struct {
	// Faults are the initial faults; SetFaults changes them.
	Faults Faults
	// UpstreamTLS configures TLS to an https upstream (trust its CA with
	// RootCAs). The proxy itself always serves plain HTTP.
	UpstreamTLS *tls.Config
	// MaxRequests bounds the requests served; later ones are answered 503
	// without being forwarded. 0 means 10,000.
	MaxRequests int
	// Lifetime bounds how long the proxy serves; 0 means two minutes.
	Lifetime time.Duration
}

// Injection is one fault the proxy injected.
type Injection struct {
	// Seq numbers the proxy's requests from 1.
	Seq    int
	Class  Class
	Method string
	// Path is the request's key: its path, with an upload session's id
	// replaced by "*" and the digest query kept.
	Path  string
	Fault Fault
	// At is where in the body the fault struck, from 0 to 1.
	At float64
}

// String describes the injection in one line.
func (i Injection) String() string {
	return fmt.Sprintf("#%d %s %s %s (%s) at %.2f", i.Seq, i.Fault, i.Method, i.Path, i.Class, i.At)
}

// ProxyStats counts what the proxy did since it started.
type ProxyStats struct {
	// Requests is the number of requests received.
	Requests int
	// Faults counts the faults injected, by kind.
	Faults map[Fault]int
	// Refused counts the 413 answers of Faults.RefuseBodiesOver.
	Refused int
	// OverBudget counts the requests answered 503 past MaxRequests.
	OverBudget int
	// Up is the number of request-body bytes forwarded to the upstream.
	Up int64
	// Down is the number of response-body bytes forwarded to clients.
	Down int64
	// Discarded is the number of request-body bytes read from clients and
	// not forwarded (because of a fault or a refusal).
	Discarded int64
}

// Injected is the total number of faults injected.
func (s ProxyStats) Injected() int {
	n := 0
	for _, v := range s.Faults {
		n += v
	}
	return n
}

// Proxy is a running flaky proxy.
type Proxy struct {
	// Host is the proxy's "127.0.0.1:PORT", for references.
	Host string
	// URL is "http://127.0.0.1:PORT".
	URL string

	upstream    *url.URL
	tr          *http.Transport
	srv         *http.Server
	maxRequests int

	ctx    context.Context // done when the proxy closes
	cancel context.CancelFunc
	served chan struct{}
	once   sync.Once

	hmu     sync.Mutex
	closing bool           // no handler may start
	wg      sync.WaitGroup // handlers in flight

	up, down, discarded atomic.Int64
	inflight            atomic.Int64 // handlers running

	mu       sync.Mutex
	faults   Faults
	seen     map[string]int // occurrences of each request key since SetFaults
	matched  int            // requests of Faults.Classes since SetFaults
	injected int            // faults injected since SetFaults
	stats    ProxyStats
	log      []Injection
}

// StartProxy starts a proxy in front of upstream (a URL such as reg.URL, on the
// loopback interface) and registers Close with t.Cleanup. It fails the test
// when the proxy cannot start.
func StartProxy(t testing.TB, upstream string, opts ProxyOptions) *Proxy {
	t.Helper()
	p, err := NewProxy(upstream, opts)
	if err != nil {
		t.Fatalf("flakyproxy: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("flakyproxy: %v", err)
		}
	})
	return p
}

// New starts a proxy in front of upstream, which must be an http or https
// URL on the loopback interface. Close stops it.
func NewProxy(upstream string, opts ProxyOptions) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", upstream, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("upstream %q: not an http or https URL", upstream)
	}
	if !loopback(u.Hostname()) {
		return nil, fmt.Errorf("upstream %q: not on the loopback interface; the proxy is for tests only", upstream)
	}
	if err := checkFaults(opts.Faults); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		Host:        ln.Addr().String(),
		upstream:    &url.URL{Scheme: u.Scheme, Host: u.Host},
		maxRequests: opts.MaxRequests,
		served:      make(chan struct{}),
		faults:      opts.Faults,
		seen:        map[string]int{},
		stats:       ProxyStats{Faults: map[Fault]int{}},
	}
	p.URL = "http://" + p.Host
	if p.maxRequests <= 0 {
		p.maxRequests = 10000
	}
	lifetime := opts.Lifetime
	if lifetime <= 0 {
		lifetime = 2 * time.Minute
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	p.tr = &http.Transport{
		DialContext:           dialer.DialContext,
		TLSClientConfig:       opts.UpstreamTLS,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       10 * time.Second,
		// Pass bodies through as they are, compressed or not.
		DisableCompression: true,
	}
	p.srv = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return p.ctx },
		// Aborted connections are the point; do not print them.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(p.served)
		p.srv.Serve(ln)
	}()
	go func() {
		t := time.NewTimer(lifetime)
		defer t.Stop()
		select {
		case <-t.C:
			p.Close()
		case <-p.ctx.Done():
		}
	}()
	return p, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkFaults(f Faults) error {
	if f.Rate < 0 || f.Rate > 1 {
		return fmt.Errorf("fault rate %v is not between 0 and 1", f.Rate)
	}
	if f.At < 0 || f.At > 1 {
		return fmt.Errorf("fault point %v is not between 0 and 1", f.At)
	}
	for _, k := range f.Kinds {
		if k == FaultNone || k >= numFaults {
			return fmt.Errorf("unknown fault %v", k)
		}
	}
	return nil
}

// SetFaults replaces the faults. The counts that make decisions reproducible
// (occurrences of each request, requests towards Faults.After, faults
// towards Faults.Max) start again from zero; ProxyStats do not.
func (p *Proxy) SetFaults(f Faults) {
	if err := checkFaults(f); err != nil {
		panic("flakyproxy: " + err.Error())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = f
	p.seen = map[string]int{}
	p.matched = 0
	p.injected = 0
}

// Stats returns what the proxy did so far.
func (p *Proxy) Stats() ProxyStats {
	p.mu.Lock()
	s := p.stats
	s.Faults = make(map[Fault]int, len(p.stats.Faults))
	for k, v := range p.stats.Faults {
		s.Faults[k] = v
	}
	p.mu.Unlock()
	s.Up, s.Down, s.Discarded = p.up.Load(), p.down.Load(), p.discarded.Load()
	return s
}

// WaitIdle waits, at most timeout, until no request is being handled, and
// reports whether that happened. A client that gave up on a request does
// not stop the proxy from forwarding the rest of its answer at once:
// counters read before it is idle may still grow.
func (p *Proxy) WaitIdle(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for p.inflight.Load() > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// Log returns the faults injected so far, in the order they were decided.
func (p *Proxy) Log() []Injection {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Injection(nil), p.log...)
}

// Close stops the proxy: it stops accepting, ends stalls, aborts the
// requests in flight and waits (up to 10 s) for their handlers to return.
// It may be called more than once.
func (p *Proxy) Close() error {
	var err error
	p.once.Do(func() {
		p.hmu.Lock()
		p.closing = true
		p.hmu.Unlock()
		p.cancel()
		p.srv.Close()
		<-p.served
		done := make(chan struct{})
		go func() {
			p.wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			err = errors.New("handlers still running 10 s after Close")
		}
		p.tr.CloseIdleConnections()
	})
	return err
}

// requestKey identifies a request across runs: upload session ids are
// random, so they are replaced by "*"; the digest query is kept.
func requestKey(r *http.Request, c Class) string {
	p := r.URL.Path
	if c&BlobUploads != 0 {
		if i := strings.Index(p, "/blobs/uploads/"); i >= 0 && len(p) > i+len("/blobs/uploads/") {
			p = p[:i] + "/blobs/uploads/*"
		}
		if d := r.URL.Query().Get("digest"); d != "" {
			p += "?digest=" + d
		}
		if d := r.URL.Query().Get("mount"); d != "" {
			p += "?mount=" + d
		}
	}
	return r.Method + " " + p
}

// admit counts a request and returns its number and the faults in force;
// ok is false past ProxyOptions.MaxRequests.
func (p *Proxy) admit() (seq int, f Faults, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Requests++
	if p.stats.Requests > p.maxRequests {
		p.stats.OverBudget++
		return p.stats.Requests, p.faults, false
	}
	return p.stats.Requests, p.faults, true
}

// decide picks the fault for request seq, r, of class c, if any, and where
// in a body it strikes.
func (p *Proxy) decide(seq int, r *http.Request, c Class) (Fault, float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.faults
	classes := f.Classes
	if classes == 0 {
		classes = AllRequests
	}
	if classes&c == 0 || (f.Match != nil && !f.Match(r)) {
		return FaultNone, 0
	}
	p.matched++
	if f.Rate <= 0 || p.matched <= f.After || (f.Max > 0 && p.injected >= f.Max) {
		return FaultNone, 0
	}
	key := requestKey(r, c)
	n := p.seen[key]
	p.seen[key] = n + 1
	h := fnv.New64a()
	io.WriteString(h, key)
	// Mix the key and its occurrence into both halves of the seed, so
	// that nearby inputs draw unrelated numbers.
	k := mix(h.Sum64() ^ mix(uint64(n)+1))
	rng := rand.New(rand.NewPCG(mix(f.Seed^k), k))
	if rng.Float64() >= f.Rate {
		return FaultNone, 0
	}
	kinds := f.Kinds
	if len(kinds) == 0 {
		kinds = AllFaults
	}
	fault := kinds[rng.IntN(len(kinds))]
	at := rng.Float64()
	if f.At > 0 {
		at = f.At
	}
	p.injected++
	p.stats.Faults[fault]++
	p.log = append(p.log, Injection{Seq: seq, Class: c, Method: r.Method, Path: key, Fault: fault, At: at})
	return fault, at
}

// mix is SplitMix64's finalizer: each bit of x changes half of the result.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// refuse answers 413 when r's body is over f.RefuseBodiesOver, reading a
// body of unknown length up to the limit to tell.
func (p *Proxy) refuse(w http.ResponseWriter, r *http.Request, f Faults) bool {
	limit := f.RefuseBodiesOver
	if limit <= 0 || !hasBody(r) {
		return false
	}
	if r.ContentLength < 0 {
		buf, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err == nil && int64(len(buf)) <= limit {
			r.Body = io.NopCloser(bytes.NewReader(buf))
			r.ContentLength = int64(len(buf))
			return false
		}
		p.discarded.Add(int64(len(buf)))
	} else if r.ContentLength <= limit {
		return false
	}
	p.discard(r.Body)
	p.mu.Lock()
	p.stats.Refused++
	p.mu.Unlock()
	answer(w, http.StatusRequestEntityTooLarge, "SIZE_INVALID",
		fmt.Sprintf("flakyproxy: a request body over the %d bytes allowed", limit), 0)
	return true
}

func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

// enter counts a handler in, unless the proxy is closing.
func (p *Proxy) enter() bool {
	p.hmu.Lock()
	defer p.hmu.Unlock()
	if p.closing {
		return false
	}
	p.wg.Add(1)
	p.inflight.Add(1)
	return true
}

// ServeHTTP forwards r to the upstream, or misbehaves as the faults say.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.enter() {
		panic(http.ErrAbortHandler)
	}
	defer p.wg.Done()
	defer p.inflight.Add(-1)
	seq, f, ok := p.admit()
	if !ok {
		p.discard(r.Body)
		answer(w, http.StatusServiceUnavailable, "UNAVAILABLE", "flakyproxy: request budget spent", 0)
		return
	}
	if p.refuse(w, r, f) {
		return
	}
	if f.IgnoreRange {
		r.Header.Del("Range")
	}
	fault, at := p.decide(seq, r, Classify(r))

	switch fault {
	case FaultStatus500:
		p.discard(r.Body)
		answer(w, http.StatusInternalServerError, "UNKNOWN", "flakyproxy: injected 500", 0)
		return
	case FaultStatus429:
		p.discard(r.Body)
		ra := f.RetryAfter
		if ra <= 0 {
			ra = 1
		}
		answer(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", "flakyproxy: injected 429", ra)
		return
	case FaultReset, FaultStall:
		if hasBody(r) {
			// Strike partway through the request body; the upstream
			// never sees the request.
			p.discardN(r.Body, bodyPoint(r.ContentLength, at))
			if fault == FaultStall {
				p.stall(r.Context(), f.Stall)
			}
			abort(w, true)
			return
		}
		if fault == FaultStall && r.Method != http.MethodGet {
			// No body either way: hold the request, then hang up.
			p.stall(r.Context(), f.Stall)
			abort(w, true)
			return
		}
	}

	resp, err := p.forward(r)
	if err != nil {
		if r.Context().Err() == nil {
			answer(w, http.StatusBadGateway, "UNAVAILABLE", "flakyproxy: upstream: "+err.Error(), 0)
		}
		return
	}
	defer resp.Body.Close()
	respBody := r.Method != http.MethodHead && resp.StatusCode != http.StatusNoContent &&
		resp.StatusCode != http.StatusNotModified && resp.ContentLength != 0
	if fault != FaultNone && !respBody {
		// An answer without a body: the upstream acted on the request,
		// and its answer is lost (after a stall, for FaultStall).
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		if fault == FaultStall {
			p.stall(r.Context(), f.Stall)
		}
		abort(w, fault != FaultCut)
		return
	}
	h := w.Header()
	for k, v := range resp.Header {
		if !hopByHop(k) {
			h[k] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	if fault == FaultNone {
		n, _ := io.Copy(w, resp.Body)
		p.down.Add(n)
		return
	}
	// FaultReset, FaultStall or FaultCut partway through the answer's body.
	n, _ := io.Copy(w, io.LimitReader(resp.Body, bodyPoint(resp.ContentLength, at)))
	p.down.Add(n)
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	if fault == FaultStall {
		p.stall(r.Context(), f.Stall)
	}
	abort(w, fault != FaultCut)
}

// bodyPoint is where in a body of n bytes (-1: unknown) a fault at strikes.
func bodyPoint(n int64, at float64) int64 {
	if n < 0 {
		n = 64 << 10
	}
	return int64(at * float64(n))
}

// forward sends r to the upstream, counting the body bytes it takes.
func (p *Proxy) forward(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme = p.upstream.Scheme
	out.URL.Host = p.upstream.Host
	// The registry builds upload locations from the Host it was asked
	// for: keep the proxy's, so that they lead back here.
	out.Host = r.Host
	for k := range out.Header {
		if hopByHop(k) {
			out.Header.Del(k)
		}
	}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		out.Body = nil
	} else {
		out.Body = io.NopCloser(&countingReader{r: r.Body, n: &p.up})
	}
	return p.tr.RoundTrip(out)
}

func hopByHop(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// discard reads and drops a request body (up to 1 GiB), as a busy server
// that answers after the body would.
func (p *Proxy) discard(body io.Reader) {
	if body != nil {
		n, _ := io.Copy(io.Discard, io.LimitReader(body, 1<<30))
		p.discarded.Add(n)
	}
}

// discardN reads and drops n bytes of a request body.
func (p *Proxy) discardN(body io.Reader, n int64) {
	if body != nil && n > 0 {
		m, _ := io.Copy(io.Discard, io.LimitReader(body, n))
		p.discarded.Add(m)
	}
}

// stall waits for d (0: one minute), or until ctx is done (the client hung
// up, where the server can tell) or the proxy closes.
func (p *Proxy) stall(ctx context.Context, d time.Duration) {
	if d <= 0 {
		d = time.Minute
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-p.ctx.Done():
	}
}

// abort ends the client's connection without (the rest of) an answer:
// with a TCP RST when reset, else with a clean close.
func abort(w http.ResponseWriter, reset bool) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok && reset {
		tc.SetLinger(0)
	}
	conn.Close()
}

// answer writes a registry-style JSON error; retryAfter > 0 sets Retry-After.
func answer(w http.ResponseWriter, status int, code, msg string, retryAfter int) {
	w.Header().Set("Content-Type", "application/json")
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`+"\n", code, msg)
}
