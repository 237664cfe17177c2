package testkit_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocipack/ocipack/internal/testkit"
)

const blobSize = 1 << 20

// blob is the content the fake registry serves for every blob.
var blob = func() []byte {
	b := make([]byte, blobSize)
	for i := range b {
		b[i] = byte(i*7 + i>>11)
	}
	return b
}()

// fakeRegistry is a minimal upstream that answers the requests of a blob
// upload and download, and records the uploads that arrived.
type fakeRegistry struct {
	*httptest.Server

	mu       sync.Mutex
	uploads  int   // PUTs that arrived whole
	received int64 // bytes of their bodies
	hosts    []string
	next     int
}

func startFake(t *testing.T) *fakeRegistry {
	t.Helper()
	f := &fakeRegistry{}
	f.Server = httptest.NewServer(f)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.hosts = append(f.hosts, r.Host)
	f.mu.Unlock()
	switch c := testkit.Classify(r); c {
	case testkit.BlobGet, testkit.BlobHead:
		w.Header().Set("Content-Length", strconv.Itoa(len(blob)))
		w.Header().Set("Docker-Content-Digest", "sha256:fake")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write(blob)
		}
	case testkit.UploadStart:
		f.mu.Lock()
		f.next++
		id := f.next
		f.mu.Unlock()
		w.Header().Set("Location", fmt.Sprintf("http://%s/v2/r/blobs/uploads/uuid-%d", r.Host, id))
		w.WriteHeader(http.StatusAccepted)
	case testkit.UploadData, testkit.ManifestPut:
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return
		}
		f.mu.Lock()
		f.uploads++
		f.received += n
		f.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

func (f *fakeRegistry) arrived() (uploads int, received int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.uploads, f.received
}

// client returns an HTTP client that gives up after timeout, without
// retries and without keeping connections past the test.
func client(t *testing.T, timeout time.Duration) *http.Client {
	t.Helper()
	tr := &http.Transport{Proxy: nil, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}
}

func get(c *http.Client, url string) (int, []byte, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func put(c *http.Client, url string, body []byte) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

const blobPath = "/v2/r/blobs/sha256:0123"

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		method, path string
		want         testkit.Class
	}{
		{"POST", "/v2/a/b/blobs/uploads/", testkit.UploadStart},
		{"POST", "/v2/a/blobs/uploads/?mount=sha256:1&from=b", testkit.UploadStart},
		{"PATCH", "/v2/a/blobs/uploads/1234-abcd", testkit.UploadData},
		{"PUT", "/v2/a/blobs/uploads/1234-abcd?digest=sha256:1", testkit.UploadData},
		{"GET", "/v2/a/blobs/uploads/1234-abcd", testkit.OtherRequests},
		{"HEAD", "/v2/a/blobs/sha256:1", testkit.BlobHead},
		{"GET", "/v2/a/blobs/sha256:1", testkit.BlobGet},
		{"HEAD", "/v2/a/manifests/v1", testkit.ManifestHead},
		{"GET", "/v2/a/manifests/sha256:1", testkit.ManifestGet},
		{"PUT", "/v2/a/manifests/v1", testkit.ManifestPut},
		{"DELETE", "/v2/a/manifests/v1", testkit.OtherRequests},
		{"GET", "/v2/", testkit.OtherRequests},
		{"GET", "/v2/a/tags/list", testkit.OtherRequests},
		{"GET", "/token", testkit.OtherRequests},
	} {
		r := httptest.NewRequest(c.method, c.path, nil)
		if got := testkit.Classify(r); got != c.want {
			t.Errorf("%s %s: %v, want %v", c.method, c.path, got, c.want)
		}
	}
	if s := (testkit.UploadData | testkit.BlobGet).String(); s != "upload-data|blob-get" {
		t.Errorf("class string %q", s)
	}
}

// TestPassThrough: with no faults the proxy forwards bodies both ways
// unchanged, keeps the Host the client asked for, and counts the bytes.
func TestPassThrough(t *testing.T) {
	up := startFake(t)
	p := testkit.StartProxy(t, up.URL, testkit.ProxyOptions{})
	c := client(t, 10*time.Second)

	status, b, err := get(c, p.URL+blobPath)
	if err != nil || status != 200 || !bytes.Equal(b, blob) {
		t.Fatalf("GET through the proxy: %d, %d bytes, %v", status, len(b), err)
	}
	resp, err := c.Post(p.URL+"/v2/r/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, p.URL+"/") {
		t.Errorf("upload location %q does not lead back to the proxy %s", loc, p.URL)
	}
	resp, err = put(c, loc+"?digest=sha256:0123", blob[:1000])
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT through the proxy: %v, %v", resp, err)
	}
	if n, got := up.arrived(); n != 1 || got != 1000 {
		t.Errorf("upstream got %d uploads of %d bytes, want 1 of 1000", n, got)
	}
	st := p.Stats()
	if st.Requests != 3 || st.Injected() != 0 || st.Up != 1000 || st.Down != blobSize || st.Discarded != 0 {
		t.Errorf("stats %+v; want 3 requests, no faults, 1000 bytes up, %d down", st, blobSize)
	}
	for _, h := range up.hosts {
		if h != p.Host {
			t.Errorf("upstream was asked for host %q, want the proxy's %q", h, p.Host)
		}
	}
}

// TestDownloadFaults checks what a client sees of each fault on a GET.
func TestDownloadFaults(t *testing.T) {
	up := startFake(t)
	p := testkit.StartProxy(t, up.URL, testkit.ProxyOptions{})
	impatient, patient := client(t, 500*time.Millisecond), client(t, 30*time.Second)
	for _, f := range testkit.AllFaults {
		p.SetFaults(testkit.Faults{Seed: 1, Rate: 1, Kinds: []testkit.Fault{f}, Classes: testkit.BlobGet, RetryAfter: 3, Stall: 30 * time.Second})
		c := patient
		if f == testkit.FaultStall {
			c = impatient
		}
		start := time.Now()
		status, b, err := get(c, p.URL+blobPath)
		took := time.Since(start)
		switch f {
		case testkit.FaultReset:
			// The RST may overtake the data sent before it.
			if !errors.Is(err, syscall.ECONNRESET) || len(b) >= blobSize {
				t.Errorf("reset: %d bytes, %v; want fewer than %d and ECONNRESET", len(b), err, blobSize)
			}
		case testkit.FaultCut:
			if status != 200 || !errors.Is(err, io.ErrUnexpectedEOF) || len(b) >= blobSize || !bytes.Equal(b, blob[:len(b)]) {
				t.Errorf("cut: %d, %d bytes, %v; want 200, a true prefix and io.ErrUnexpectedEOF", status, len(b), err)
			}
		case testkit.FaultStall:
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() || took > 5*time.Second {
				t.Errorf("stall: %v after %v; want the client's timeout", err, took)
			}
		case testkit.FaultStatus500:
			if status != 500 || err != nil {
				t.Errorf("500: %d, %v", status, err)
			}
		case testkit.FaultStatus429:
			resp, err := c.Get(p.URL + blobPath)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
				t.Errorf("429: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		}
	}
	st := p.Stats()
	for _, f := range testkit.AllFaults {
		if want := map[bool]int{true: 2, false: 1}[f == testkit.FaultStatus429]; st.Faults[f] != want {
			t.Errorf("%d %v faults counted, want %d", st.Faults[f], f, want)
		}
	}
	if len(p.Log()) != st.Injected() {
		t.Errorf("log has %d entries for %d faults", len(p.Log()), st.Injected())
	}
}

// TestFixedPoint: Faults.At places a cut exactly, and the byte counters
// see what went through.
func TestFixedPoint(t *testing.T) {
	up := startFake(t)
	p := testkit.StartProxy(t, up.URL, testkit.ProxyOptions{Faults: testkit.Faults{
		Rate: 1, Max: 1, At: 0.25, Kinds: []testkit.Fault{testkit.FaultCut}, Classes: testkit.BlobGet,
	}})
	c := client(t, 5*time.Second)
	_, b, err := get(c, p.URL+blobPath)
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(b) != blobSize/4 || !bytes.Equal(b, blob[:len(b)]) {
		t.Errorf("cut at a quarter: %d bytes, %v; want %d and io.ErrUnexpectedEOF", len(b), err, blobSize/4)
	}
	if _, b, err = get(c, p.URL+blobPath); err != nil || len(b) != blobSize {
		t.Errorf("after the one fault allowed: %d bytes, %v", len(b), err)
	}
	if st := p.Stats(); st.Down != blobSize+blobSize/4 || st.Up != 0 {
		t.Errorf("stats %+v; want %d bytes down, none up", st, blobSize+blobSize/4)
	}
}

// TestUploadFaults checks each fault on a PUT with a body: only Cut lets
// the upload reach the upstream (and loses its answer).
func TestUploadFaults(t *testing.T) {
	up := startFake(t)
	p := testkit.StartProxy(t, up.URL, testkit.ProxyOptions{})
	// Only a stall may time out; the other faults must show as they are,
	// however loaded the machine.
	impatient, patient := client(t, 500*time.Millisecond), client(t, 30*time.Second)
	url := p.URL + "/v2/r/blobs/uploads/uuid-1?digest=sha256:0123"
	for _, f := range testkit.AllFaults {
		p.SetFaults(testkit.Faults{Seed: 2, Rate: 1, Kinds: []testkit.Fault{f}, Classes: testkit.UploadData, Stall: 30 * time.Second})
		c := patient
		if f == testkit.FaultStall {
			c = impatient
		}
		before, _ := up.arrived()
		resp, err := put(c, url, blob)
		after, _ := up.arrived()
		switch f {
		case testkit.FaultStatus500, testkit.FaultStatus429:
			if err != nil || resp.StatusCode != map[testkit.Fault]int{testkit.FaultStatus500: 500, testkit.FaultStatus429: 429}[f] || after != before {
				t.Errorf("%v: %v, %v; upstream got %d uploads", f, resp, err, after-before)
			}
		case testkit.FaultCut:
			if err == nil || after != before+1 {
				t.Errorf("cut: %v, %v; upstream got %d uploads, want the upload and no answer", resp, err, after-before)
			}
		default:
			if err == nil || after != before {
				t.Errorf("%v: %v, %v; upstream got %d uploads, want none and an error", f, resp, err, after-before)
			}
		}
	}
	if st := p.Stats(); st.Discarded == 0 || st.Up != blobSize {
		t.Errorf("stats %+v: want discarded bytes and exactly one body (the cut one) forwarded", st)
	}
}

// TestDeterministic: the same seed meets the same faults at the same
// points, whatever the upload session ids; another seed does not.
func TestDeterministic(t *testing.T) {
	up := startFake(t)
	run := func(seed uint64) []testkit.Injection {
		p := testkit.StartProxy(t, up.URL, testkit.ProxyOptions{Faults: testkit.Faults{
			Seed: seed, Rate: 0.5, Kinds: []testkit.Fault{testkit.FaultStatus500, testkit.FaultStatus429},
		}})
		c := client(t, 5*time.Second)
		for i := range 40 {
			var err error
			switch i % 3 {
			case 0:
				var resp *http.Response
				if resp, err = c.Head(p.URL + blobPath + strconv.Itoa(i%5)); err == nil {
					resp.Body.Close()
				}
			case 1:
				_, err = put(c, fmt.Sprintf("%s/v2/r/blobs/uploads/random-%d-%d?digest=sha256:%d", p.URL, seed, i, i%4), []byte("x"))
			case 2:
				_, err = put(c, p.URL+"/v2/r/manifests/v1", []byte("{}"))
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		return p.Log()
	}
	a, b, other := run(7), run(7), run(8)
	if len(a) < 10 || len(a) > 30 {
		t.Errorf("rate 0.5 of 40 requests injected %d faults", len(a))
	}
	same := func(x, y []testkit.Injection) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Errorf("seed 7 twice gave different faults:\n%v\n%v", a, b)
	}
	if same(a, other) {
		t.Errorf("seeds 7 and 8 gave the same faults: %v", a)
	}
}

// TestRefuseBodiesOver: bodies over the limit get 413 and never reach the
// upstream, whether their length is announced or not.
func TestRefuseBodiesOver(t *testing.T) {
	up := startFake(t)
	p := testkit.StartProxy(t, up.URL, testkit.ProxyOptions{Faults: testkit.Faults{RefuseBodiesOver: 1000}})
	c := client(t, 5*time.Second)
	url := p.URL + "/v2/r/blobs/uploads/u?digest=sha256:1"
	for _, tc := range []struct {
		n       int
		chunked bool
		want    int
	}{{1000, false, 201}, {1001, false, 413}, {1000, true, 201}, {5000, true, 413}, {blobSize, false, 413}} {
		var body io.Reader = bytes.NewReader(blob[:tc.n])
		if tc.chunked {
			body = io.MultiReader(body) // length unknown: sent chunked
		}
		req, _ := http.NewRequest(http.MethodPut, url, body)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%d bytes (chunked %v): %v", tc.n, tc.chunked, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%d bytes (chunked %v): %d, want %d", tc.n, tc.chunked, resp.StatusCode, tc.want)
		}
	}
	n, got := up.arrived()
	st := p.Stats()
	if n != 2 || got != 2000 || st.Up != 2000 || st.Refused != 3 || st.Injected() != 0 {
		t.Errorf("upstream got %d uploads, %d bytes; stats %+v; want 2, 2000, 3 refused", n, got, st)
	}
}

// TestBounds: Faults.After lets requests through first, Faults.Max bounds
// the faults, Options.MaxRequests the requests.
func TestBounds(t *testing.T) {
	up := startFake(t)
	p := testkit.StartProxy(t, up.URL, testkit.ProxyOptions{MaxRequests: 7, Faults: testkit.Faults{
		Rate: 1, After: 1, Max: 3, Kinds: []testkit.Fault{testkit.FaultStatus500},
	}})
	c := client(t, 5*time.Second)
	var got []int
	for range 8 {
		status, _, err := get(c, p.URL+blobPath)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, status)
	}
	if fmt.Sprint(got) != "[200 500 500 500 200 200 200 503]" {
		t.Errorf("statuses %v, want an answer, 3 faults, 3 answers, then 503 past the request budget", got)
	}
	if st := p.Stats(); st.Requests != 8 || st.OverBudget != 1 || st.Faults[testkit.FaultStatus500] != 3 {
		t.Errorf("stats %+v", st)
	}
}

// TestCloseEndsStalls: Close ends a stall at once, and the proxy closes by
// itself after its lifetime.
func TestCloseEndsStalls(t *testing.T) {
	up := startFake(t)
	p, err := testkit.NewProxy(up.URL, testkit.ProxyOptions{Faults: testkit.Faults{
		Rate: 1, Kinds: []testkit.Fault{testkit.FaultStall}, Stall: time.Hour,
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, time.Hour)
	errc := make(chan error, 2)
	go func() { _, _, err := get(c, p.URL+blobPath); errc <- err }()
	go func() { _, err := put(c, p.URL+"/v2/r/blobs/uploads/u", blob); errc <- err }()
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().Injected() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Close took %v with stalls in flight", took)
	}
	for range 2 {
		select {
		case err := <-errc:
			if err == nil {
				t.Error("a stalled request succeeded")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a stalled request still hangs after Close")
		}
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	short, err := testkit.NewProxy(up.URL, testkit.ProxyOptions{Lifetime: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	time.Sleep(300 * time.Millisecond)
	if _, _, err := get(client(t, time.Second), short.URL+blobPath); err == nil {
		t.Error("the proxy still serves after its lifetime")
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, u := range []string{"http://192.0.2.1:5000", "http://example.com", "ftp://127.0.0.1:21", "::"} {
		if p, err := testkit.NewProxy(u, testkit.ProxyOptions{}); err == nil {
			p.Close()
			t.Errorf("New(%q) accepted an upstream that is not a loopback HTTP URL", u)
		}
	}
	if _, err := testkit.NewProxy("http://127.0.0.1:1", testkit.ProxyOptions{Faults: testkit.Faults{Rate: 2}}); err == nil {
		t.Error("New accepted a fault rate of 2")
	}
}
