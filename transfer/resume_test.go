package transfer_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/transfer"
)

// resumeSize is the size of the large blob the resume tests cut.
const resumeSize = 256 << 20

// bigArtifact is one incompressible 256 MiB file packed into a layout.
type bigArtifact struct {
	src  *layout.Layout
	g    graph
	blob ocispec.Descriptor // the 256 MiB layer
}

func packBig(t *testing.T) *bigArtifact {
	t.Helper()
	p := filepath.Join(t.TempDir(), "big.bin")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{'r', 'e', 's', 'u', 'm', 'e'})
	buf := make([]byte, 1<<20)
	for range resumeSize / len(buf) {
		rng.Read(buf)
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	a := &bigArtifact{src: testkit.NewLayout(t)}
	t.Cleanup(func() { a.src.Close() })
	packPaths(t, a.src, "v1", p)
	a.g = graphOf(t, a.src, "v1")
	for _, b := range a.g.blobs {
		if b.Size == resumeSize {
			a.blob = b
		}
	}
	if a.blob.Size != resumeSize {
		t.Fatal("no 256 MiB layer in the packed artifact")
	}
	return a
}

// resumeCtx bounds a resume test: 256 MiB go back and forth several times,
// under the race detector on a loaded machine.
func resumeCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// startResumeEnv is a registry on disk with a flaky proxy in front that
// lives long enough for 256 MiB transfers.
func startResumeEnv(t *testing.T) *flakyEnv {
	t.Helper()
	e := startFlaky(t, testkit.Faults{})
	e.proxy.Close()
	e.proxy = testkit.StartProxy(t, e.reg.URL, testkit.ProxyOptions{Lifetime: 4 * time.Minute})
	return e
}

// startResumeEnvPushed is startResumeEnv with a pushed to apps/big:v1
// (straight, not through the proxy).
func startResumeEnvPushed(t *testing.T, ctx context.Context, a *bigArtifact) *flakyEnv {
	t.Helper()
	e := startResumeEnv(t)
	if _, err := transfer.Push(ctx, a.src, "v1", e.direct(t, "apps/big"), "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}}); err != nil {
		t.Fatal(err)
	}
	return e
}

// partialBytes sums the partial downloads (and their segments) in l's
// temporary area.
func partialBytes(t *testing.T, l *layout.Layout) int64 {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(l.Path(), layout.WorkDir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "partial-") && !strings.HasSuffix(e.Name(), ".lock") {
			fi, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			n += fi.Size()
		}
	}
	return n
}

// settle waits until the proxy has finished the requests a failed copy
// abandoned, so that its byte counters hold still.
func settle(t *testing.T, e *flakyEnv) {
	t.Helper()
	if !e.proxy.WaitIdle(20 * time.Second) {
		t.Fatal("the proxy is still forwarding 20 s after the copy ended")
	}
}

// blobGETs matches the GETs of one blob.
func blobGETs(d digest.Digest) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+d.String())
	}
}

// patches matches the PATCH requests of chunked uploads.
func patches(r *http.Request) bool { return r.Method == http.MethodPatch }

// assertPulled checks that l has tag v1 at the artifact's manifest, every
// blob verified, and no partial download left behind.
func assertPulled(t *testing.T, ctx context.Context, l *layout.Layout, a *bigArtifact) {
	t.Helper()
	d, err := l.Resolve(ctx, "v1")
	if err != nil || d.Digest != a.g.manifest.Digest {
		t.Fatalf("v1 resolves to %v (%v), want %s", d.Digest, err, a.g.manifest.Digest)
	}
	rep, err := l.Check(ctx, layout.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 {
		t.Errorf("verify after the pull: %v", rep.Problems)
	}
	if n := partialBytes(t, l); n != 0 {
		t.Errorf("%d bytes of partial downloads left after a complete pull", n)
	}
}

func TestResume(t *testing.T) {
	a := packBig(t)
	t.Run("PullCut", func(t *testing.T) { resumePullCut(t, a) })
	t.Run("PullRetries", func(t *testing.T) { resumePullRetries(t, a) })
	t.Run("PullParallelRanges", func(t *testing.T) { resumePullParallel(t, a) })
	t.Run("PullRangeIgnored", func(t *testing.T) { resumePullRangeIgnored(t, a) })
	t.Run("PushCut", func(t *testing.T) { resumePushCut(t, a) })
	t.Run("PushChunkLimit", func(t *testing.T) { resumePushChunkLimit(t, a) })
}

// resumePullCut cuts a pull of the 256 MiB blob at several points, with no
// retry: the bytes received stay in the layout's temporary area, and the
// next pull receives only the rest.
func resumePullCut(t *testing.T, a *bigArtifact) {
	ctx := resumeCtx(t)
	e := startResumeEnvPushed(t, ctx, a)
	for _, at := range []float64{0.1, 0.5, 0.9} {
		t.Run(fmt.Sprint(at), func(t *testing.T) {
			dst := testkit.NewLayout(t)
			defer dst.Close()
			e.proxy.SetFaults(testkit.Faults{Kinds: []testkit.Fault{testkit.FaultReset}, Rate: 1, Max: 1, At: at, Match: blobGETs(a.blob.Digest)})
			if _, err := transfer.Pull(ctx, e.viaProxy(t, "apps/big"), dst, "v1", flakyOpts(1)); err == nil {
				t.Fatal("pull succeeded through a connection reset")
			}
			if e.proxy.Stats().Injected() == 0 {
				t.Fatal("no fault was injected")
			}
			cut := int64(at * resumeSize)
			have := partialBytes(t, dst)
			// A reset can drop what the kernel held unread: up to a few MiB.
			if have > cut || have < cut-16<<20 {
				t.Fatalf("after a cut at byte %d, %d bytes are kept", cut, have)
			}
			settle(t, e)
			e.proxy.SetFaults(testkit.Faults{})
			before := e.proxy.Stats()
			res, err := transfer.Pull(ctx, e.viaProxy(t, "apps/big"), dst, "v1", flakyOpts(1))
			if err != nil {
				t.Fatal(err)
			}
			down := e.proxy.Stats().Down - before.Down
			rest := int64(resumeSize) - have
			// The rest of the big blob, the small config and the manifest
			// (twice: to list the blobs, and to store it).
			if down < rest || down > rest+64<<10 {
				t.Errorf("second pull received %d bytes; the rest is %d (of %d)", down, rest, resumeSize)
			}
			if res.Bytes < rest || res.Bytes > down {
				t.Errorf("Result.Bytes = %d, want between %d and %d", res.Bytes, rest, down)
			}
			t.Logf("cut at %d: kept %d, then received %d (%.1f%% of the blob)", cut, have, down, 100*float64(down)/resumeSize)
			assertPulled(t, ctx, dst, a)
		})
	}
}

// resumePullRetries resets the big blob's download three times in one
// pull: each retry continues where the last ended, so about the blob's size
// comes down in all, not 1.66 times it.
func resumePullRetries(t *testing.T, a *bigArtifact) {
	ctx := resumeCtx(t)
	e := startResumeEnvPushed(t, ctx, a)
	e.proxy.SetFaults(testkit.Faults{Kinds: []testkit.Fault{testkit.FaultReset, testkit.FaultCut}, Seed: 7, Rate: 1, Max: 3, At: 0.3, Match: blobGETs(a.blob.Digest)})
	dst := testkit.NewLayout(t)
	defer dst.Close()
	res, err := transfer.Pull(ctx, e.viaProxy(t, "apps/big"), dst, "v1", flakyOpts(5))
	if err != nil {
		t.Fatal(err)
	}
	st := e.proxy.Stats()
	if st.Injected() != 3 || res.Attempts != 4 {
		t.Fatalf("%d faults in %d attempts, want 3 in 4", st.Injected(), res.Attempts)
	}
	// A reset drops what the client's kernel held unread (a few MiB),
	// which the proxy counted as sent; starting over would take 1.66x.
	if st.Down > resumeSize*23/20 {
		t.Errorf("received %d bytes for a %d-byte blob cut three times; each retry must continue, not start over", st.Down, resumeSize)
	}
	assertPulled(t, ctx, dst, a)
}

// resumePullParallel downloads the blob in 4 ranges at once, cuts two of
// them, and continues each range where it ended.
func resumePullParallel(t *testing.T, a *bigArtifact) {
	ctx := resumeCtx(t)
	e := startResumeEnvPushed(t, ctx, a)
	opts := flakyOpts(1)
	opts.Resume.ParallelRanges = 4

	// Whole, with no faults: 4 ranged GETs of the blob.
	var (
		mu   sync.Mutex
		gets []string
	)
	e.proxy.SetFaults(testkit.Faults{Match: func(r *http.Request) bool {
		if blobGETs(a.blob.Digest)(r) {
			mu.Lock()
			gets = append(gets, r.Header.Get("Range"))
			mu.Unlock()
		}
		return false
	}})
	dst := testkit.NewLayout(t)
	defer dst.Close()
	if _, err := transfer.Pull(ctx, e.viaProxy(t, "apps/big"), dst, "v1", opts); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(gets) != 4 || gets[0] == "" {
		t.Errorf("ranged GETs of the blob: %q, want 4 ranges", gets)
	}
	assertPulled(t, ctx, dst, a)

	// Cut: two of the ranges are reset half way.
	dst2 := testkit.NewLayout(t)
	defer dst2.Close()
	e.proxy.SetFaults(testkit.Faults{Kinds: []testkit.Fault{testkit.FaultReset}, Rate: 1, Max: 2, At: 0.5, Match: blobGETs(a.blob.Digest)})
	if _, err := transfer.Pull(ctx, e.viaProxy(t, "apps/big"), dst2, "v1", opts); err == nil {
		t.Fatal("pull succeeded through two resets")
	}
	have := partialBytes(t, dst2)
	if have < resumeSize/8 || have >= resumeSize {
		t.Fatalf("after two ranges were cut half way, %d bytes are kept", have)
	}
	settle(t, e)
	e.proxy.SetFaults(testkit.Faults{})
	before := e.proxy.Stats()
	if _, err := transfer.Pull(ctx, e.viaProxy(t, "apps/big"), dst2, "v1", opts); err != nil {
		t.Fatal(err)
	}
	down := e.proxy.Stats().Down - before.Down
	if rest := int64(resumeSize) - have; down < rest || down > rest+64<<10 {
		t.Errorf("second pull received %d bytes; the rest is %d", down, rest)
	}
	t.Logf("parallel: kept %d of %d after the cut, then received %d", have, resumeSize, down)
	assertPulled(t, ctx, dst2, a)
}

// resumePullRangeIgnored: a registry that ignores Range gets the blob
// downloaded from the start, and it is still verified and stored.
func resumePullRangeIgnored(t *testing.T, a *bigArtifact) {
	ctx := resumeCtx(t)
	e := startResumeEnvPushed(t, ctx, a)
	dst := testkit.NewLayout(t)
	defer dst.Close()
	e.proxy.SetFaults(testkit.Faults{Kinds: []testkit.Fault{testkit.FaultReset}, Rate: 1, Max: 1, At: 0.5, Match: blobGETs(a.blob.Digest)})
	if _, err := transfer.Pull(ctx, e.viaProxy(t, "apps/big"), dst, "v1", flakyOpts(1)); err == nil {
		t.Fatal("pull succeeded through a reset")
	}
	if have := partialBytes(t, dst); have == 0 {
		t.Fatal("nothing kept after a cut half way")
	}
	settle(t, e)
	e.proxy.SetFaults(testkit.Faults{IgnoreRange: true})
	before := e.proxy.Stats()
	if _, err := transfer.Pull(ctx, e.viaProxy(t, "apps/big"), dst, "v1", flakyOpts(1)); err != nil {
		t.Fatal(err)
	}
	// The ranged GET's answer (the whole blob) is abandoned at once; the
	// blob then comes down whole.
	if down := e.proxy.Stats().Down - before.Down; down < resumeSize {
		t.Errorf("received %d bytes from a registry without ranges; the blob has %d", down, resumeSize)
	}
	assertPulled(t, ctx, dst, a)
}

// resumePushCut cuts a chunked push at several points with no retry: the
// next push asks the registry how much of the session it has and sends
// only the rest.
func resumePushCut(t *testing.T, a *bigArtifact) {
	ctx := resumeCtx(t)
	e := startResumeEnv(t)
	opts := flakyOpts(1)
	opts.Resume.ChunkSize = 32 << 20
	for i, after := range []int{0, 3, 7} {
		t.Run(fmt.Sprint(after), func(t *testing.T) {
			repo := fmt.Sprintf("apps/big%d", i)
			e.proxy.SetFaults(testkit.Faults{Kinds: []testkit.Fault{testkit.FaultReset}, Rate: 1, Max: 1, After: after, At: 0.5, Match: patches})
			before := e.proxy.Stats()
			if _, err := transfer.Push(ctx, a.src, "v1", e.viaProxy(t, repo), "v1", opts); err == nil {
				t.Fatal("push succeeded through a reset")
			}
			settle(t, e)
			mid := e.proxy.Stats()
			if mid.Injected() == before.Injected() {
				t.Fatal("no fault was injected")
			}
			first := mid.Up - before.Up
			if want := int64(after) * opts.Resume.ChunkSize; first < want || first > want+64<<10 {
				t.Errorf("first push forwarded %d bytes, want the %d chunks before the cut (%d)", first, after, want)
			}
			e.proxy.SetFaults(testkit.Faults{})
			res, err := transfer.Push(ctx, a.src, "v1", e.viaProxy(t, repo), "v1", opts)
			if err != nil {
				t.Fatal(err)
			}
			second := e.proxy.Stats().Up - mid.Up
			rest := int64(resumeSize) - int64(after)*opts.Resume.ChunkSize
			if second < rest || second > rest+64<<10 {
				t.Errorf("second push sent %d bytes; the rest is %d", second, rest)
			}
			t.Logf("cut after %d chunks: first push %d bytes, second %d (Result.Bytes %d)", after, first, second, res.Bytes)
			assertRegistryTag(t, ctx, e, repo, a.g.manifest.Digest)
		})
	}
}

// resumePushChunkLimit: a proxy refuses request bodies over 40 MiB. With
// --chunk-size 32M, no request is refused. Under a 100 MiB limit and
// without --chunk-size, the 256 MiB blob is refused whole once, then sent
// in chunks of 64 MiB.
func resumePushChunkLimit(t *testing.T, a *bigArtifact) {
	ctx := resumeCtx(t)
	e := startResumeEnv(t)
	e.proxy.SetFaults(testkit.Faults{RefuseBodiesOver: 40 << 20})
	opts := flakyOpts(1)
	opts.Resume.ChunkSize = 32 << 20
	if _, err := transfer.Push(ctx, a.src, "v1", e.viaProxy(t, "apps/chunked"), "v1", opts); err != nil {
		t.Fatal(err)
	}
	if n := e.proxy.Stats().Refused; n != 0 {
		t.Errorf("%d requests refused with --chunk-size 32M under a 40 MiB limit", n)
	}
	assertRegistryTag(t, ctx, e, "apps/chunked", a.g.manifest.Digest)

	e.proxy.SetFaults(testkit.Faults{RefuseBodiesOver: 100 << 20})
	before := e.proxy.Stats()
	if _, err := transfer.Push(ctx, a.src, "v1", e.viaProxy(t, "apps/auto"), "v1", flakyOpts(1)); err != nil {
		t.Fatal(err)
	}
	st := e.proxy.Stats()
	if n := st.Refused - before.Refused; n != 1 {
		t.Errorf("%d requests refused without --chunk-size, want 1 (the whole blob, once)", n)
	}
	if up := st.Up - before.Up; up < resumeSize || up > resumeSize+64<<10 {
		t.Errorf("sent %d bytes upstream for a %d-byte blob", up, resumeSize)
	}
	assertRegistryTag(t, ctx, e, "apps/auto", a.g.manifest.Digest)
}

// TestResumeAuth: chunked pushes and ranged pulls go through the same
// authenticated client as everything else, against a registry that wants
// credentials for every request.
func TestResumeAuth(t *testing.T) {
	ctx := resumeCtx(t)
	a := packFlakyArtifact(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{Users: map[string]string{"robot": "s3cret"}, Disk: true})
	opts := transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true, Username: "robot", Password: "s3cret"}, Resume: transfer.ResumeOptions{ChunkSize: 1 << 20, ParallelRanges: 3}}
	ref := regRef(t, reg, "apps/auth:v1")
	res, err := transfer.Push(ctx, a.src, "v1", ref, "v1", opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Copied != len(a.g.blobs) {
		t.Errorf("pushed %d blobs, want %d", res.Copied, len(a.g.blobs))
	}
	dst := testkit.NewLayout(t)
	defer dst.Close()
	if _, err := transfer.Pull(ctx, ref, dst, "v1", opts); err != nil {
		t.Fatal(err)
	}
	assertLayoutTag(t, ctx, dst, a, "", true)

	opts.Connection.Password = "wrong"
	_, err = transfer.Pull(ctx, ref, testkit.NewLayout(t), "v1", opts)
	if !errors.Is(err, transfer.ErrUnauthorized) {
		t.Errorf("pull with a wrong password: %v, want ErrUnauthorized", err)
	}
}
