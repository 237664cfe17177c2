package transfer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/transfer"
)

// retrySize and retryChunk are the blob and chunk sizes of
// TestChunkedPushRetryContinues: eight chunks, cut in the fifth.
const (
	retrySize  = 64 << 20
	retryChunk = 8 << 20
)

// TestChunkedPushRetryContinues cuts a chunked push of an incompressible
// 64 MiB blob half way through its fifth chunk (at about 56% of the blob)
// and lets the copy retry within the same run: the retry must continue the
// upload session from the registry's offset, not send the blob from byte 0
// again. The bytes forwarded upstream for the blob stay within 1.1 times
// its size.
func TestChunkedPushRetryContinues(t *testing.T) {
	ctx := resumeCtx(t)
	src, g, blob := packRetryBlob(t)

	e := startResumeEnv(t)
	e.proxy.SetFaults(testkit.Faults{Kinds: []testkit.Fault{testkit.FaultReset}, Rate: 1, Max: 1, After: 4, At: 0.5, Match: patches})
	opts := flakyOpts(3)
	opts.Resume.ChunkSize = retryChunk
	res, err := transfer.Push(ctx, src, "v1", e.viaProxy(t, "apps/retry"), "v1", opts)
	if err != nil {
		t.Fatalf("push with retries through one reset: %v", err)
	}
	settle(t, e)
	st := e.proxy.Stats()
	if st.Injected() != 1 || res.Attempts != 2 {
		t.Fatalf("%d faults in %d attempts, want 1 in 2", st.Injected(), res.Attempts)
	}
	assertSentOnce(t, st.Up)
	t.Logf("forwarded %d bytes upstream (%.2fx the blob), Result.Bytes %d", st.Up, float64(st.Up)/retrySize, res.Bytes)
	assertRegistryTag(t, ctx, e, "apps/retry", g.manifest.Digest)
	assertRegistryBlob(t, ctx, e.reg, "apps/retry", blob)
}

// assertSentOnce checks that the bytes forwarded upstream for the push of
// the retry blob (cut once) stay within 1.1 times its size; the config and
// the manifest are a few hundred bytes.
func assertSentOnce(t *testing.T, up int64) {
	t.Helper()
	if limit := int64(retrySize) * 11 / 10; up > limit {
		t.Errorf("forwarded %d bytes upstream (%.2fx) for a %d-byte blob cut once; the retry must continue from the registry's offset (at most %d)",
			up, float64(up)/retrySize, retrySize, limit)
	}
}

// packRetryBlob packs an incompressible file of retrySize bytes into a new
// layout, tagged v1, and returns the layout, the graph and the blob.
func packRetryBlob(t *testing.T) (*layout.Layout, graph, ocispec.Descriptor) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "blob.bin")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{'r', 'e', 't', 'r', 'y'})
	if _, err := io.CopyN(f, rng, retrySize); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	src := testkit.NewLayout(t)
	t.Cleanup(func() { src.Close() })
	packPaths(t, src, "v1", p)
	g := graphOf(t, src, "v1")
	var blob ocispec.Descriptor
	for _, b := range g.blobs {
		if b.Size == retrySize {
			blob = b
		}
	}
	if blob.Size != retrySize {
		t.Fatal("no 64 MiB layer in the packed artifact")
	}
	return src, g, blob
}

// assertRegistryBlob checks that the registry's copy of blob hashes to
// its digest.
func assertRegistryBlob(t *testing.T, ctx context.Context, reg *testkit.Registry, repo string, blob ocispec.Descriptor) {
	t.Helper()
	r := reg.Repository(t, repo)
	rc, err := r.Fetch(ctx, blob)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	if n, err := io.Copy(h, rc); err != nil || n != blob.Size {
		t.Fatalf("fetched %d bytes of the blob back: %v", n, err)
	}
	if got := digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)); got != blob.Digest {
		t.Errorf("the registry's blob hashes to %s, want %s", got, blob.Digest)
	}
}

// lateChunkProxy stands between the client and the registry like a proxy
// that buffers request bodies: it resets the client's ninth PATCH half
// way, and delivers the half it had to the registry late, just after
// answering the client's next question about the session (the GET of its
// status). The registry then holds more of the session than it told the
// client. It counts the body bytes it sends upstream.
type lateChunkProxy struct {
	t        *testing.T
	upstream *url.URL
	rp       *httputil.ReverseProxy
	up       atomic.Int64
	patches  atomic.Int64

	mu   sync.Mutex
	late *http.Request // the half chunk to deliver, with its body
	sent bool
}

func (p *lateChunkProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPatch && p.patches.Add(1) == 9:
		half := r.ContentLength / 2
		buf := make([]byte, half)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			p.t.Errorf("lateChunkProxy: read half the chunk: %v", err)
		}
		start, _, _ := strings.Cut(r.Header.Get("Content-Range"), "-")
		var from int64
		fmt.Sscan(start, &from)
		u := *p.upstream
		u.Path, u.RawQuery = r.URL.Path, r.URL.RawQuery
		late, _ := http.NewRequestWithContext(context.WithoutCancel(r.Context()), http.MethodPatch, u.String(), bytes.NewReader(buf))
		late.Host = r.Host
		late.Header.Set("Content-Type", "application/octet-stream")
		late.Header.Set("Content-Range", fmt.Sprintf("%d-%d", from, from+half-1))
		p.mu.Lock()
		p.late = late
		p.mu.Unlock()
		panic(http.ErrAbortHandler) // the client sees its connection reset
	case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/uploads/"):
		rec := httptest.NewRecorder()
		p.rp.ServeHTTP(rec, r)
		p.mu.Lock()
		late := p.late
		p.late = nil
		p.mu.Unlock()
		if late != nil {
			resp, err := http.DefaultClient.Do(late)
			if err != nil {
				p.t.Errorf("lateChunkProxy: the late half chunk: %v", err)
			} else {
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					p.t.Errorf("lateChunkProxy: the registry answered the late half chunk %d", resp.StatusCode)
				}
				p.up.Add(late.ContentLength)
				p.mu.Lock()
				p.sent = true
				p.mu.Unlock()
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	default:
		if r.ContentLength > 0 {
			p.up.Add(r.ContentLength)
		}
		p.rp.ServeHTTP(w, r)
	}
}

// TestChunkedPushRetryLateChunk: a chunk cut half way reaches the registry
// late, after the retry asked how much of the session it had, so the
// registry refuses the next chunk as out of range (416). The push asks the
// registry again and continues from its offset; it does not start the
// blob over from byte 0.
func TestChunkedPushRetryLateChunk(t *testing.T) {
	ctx := resumeCtx(t)
	src, g, blob := packRetryBlob(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{Disk: true})
	u, err := url.Parse(reg.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := &lateChunkProxy{t: t, upstream: u, rp: httputil.NewSingleHostReverseProxy(u)}
	p.rp.ErrorLog = nil
	srv := httptest.NewServer(p)
	defer srv.Close()
	ref, err := transfer.ParseReference(srv.Listener.Addr().String() + "/apps/late:v1")
	if err != nil {
		t.Fatal(err)
	}
	opts := flakyOpts(3)
	// Chunks of 4 MiB, cut in the ninth (at 53% of the blob): the chunk
	// the registry refuses as out of range went up through the proxy in
	// vain, so it must be small beside the 1.1x bound.
	opts.Resume.ChunkSize = retryChunk / 2
	res, err := transfer.Push(ctx, src, "v1", ref, "v1", opts)
	if err != nil {
		t.Fatalf("push with retries through one reset: %v", err)
	}
	p.mu.Lock()
	sent := p.sent
	p.mu.Unlock()
	if !sent || res.Attempts != 2 {
		t.Fatalf("late half chunk delivered: %v, in %d attempts; want it delivered, in 2", sent, res.Attempts)
	}
	assertSentOnce(t, p.up.Load())
	t.Logf("forwarded %d bytes upstream (%.2fx the blob), Result.Bytes %d", p.up.Load(), float64(p.up.Load())/retrySize, res.Bytes)
	e := &flakyEnv{reg: reg}
	assertRegistryTag(t, ctx, e, "apps/late", g.manifest.Digest)
	assertRegistryBlob(t, ctx, reg, "apps/late", blob)
}
