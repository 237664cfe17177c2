package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/transfer"
)

// flakyIdle is the clients' idle timeout in these tests: a stall of the
// proxy (which lasts flakyStall) must end in it, not hang the copy.
const (
	flakyIdle  = 2 * time.Second
	flakyStall = time.Minute
)

// flakyOpts are the options of a copy through the flaky proxy.
func flakyOpts(attempts int) transfer.Options {
	return transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true, IdleTimeout: flakyIdle}, Retry: transfer.RetryOptions{Attempts: attempts, Wait: 10 * time.Millisecond}}
}

// flakyArtifact is what the flaky tests copy: two large incompressible
// files (so that faults strike mid-body) beside the example.
type flakyArtifact struct {
	src   *layout.Layout
	paths []string
	g     graph
	// old is a smaller artifact the destinations are tagged with first:
	// after a failed copy their tag must still point at it, whole.
	old graph
	// want is what unpacking g gives: a snapshot of paths.
	want testkit.Tree
}

// TestFlaky copies an artifact through a flaky proxy (testkit.Proxy)
// in front of a registry. The artifact is packed once, for all subtests;
// they only read it.
func TestFlaky(t *testing.T) {
	a := packFlakyArtifact(t)
	// The seeds run first, on their own; the rest side by side.
	t.Run("PushPull", func(t *testing.T) { flakyPushPull(t, a) })
	t.Run("AlwaysFails", func(t *testing.T) { t.Parallel(); flakyAlwaysFails(t, a) })
	t.Run("StallsEnd", func(t *testing.T) { t.Parallel(); flakyStallsEnd(t, a) })
	t.Run("RefusesLargeBodies", func(t *testing.T) { t.Parallel(); flakyRefusesLargeBodies(t, a) })
}

func packFlakyArtifact(t *testing.T) *flakyArtifact {
	t.Helper()
	dir := t.TempDir()
	a := &flakyArtifact{paths: slices.Clone(example)}
	rng := rand.NewChaCha8([32]byte{'f', 'l', 'a', 'k', 'y'})
	for i, size := range []int{8 << 20, 9<<20 + 12345} {
		b := make([]byte, size)
		rng.Read(b)
		p := filepath.Join(dir, fmt.Sprintf("big-%d.bin", i))
		testkit.WriteFile(t, p, b)
		a.paths = append(a.paths, p)
	}
	a.src = testkit.NewLayout(t)
	t.Cleanup(func() { a.src.Close() })
	packPaths(t, a.src, "v1", a.paths...)
	packPaths(t, a.src, "old", example[2:]...)
	a.g = graphOf(t, a.src, "v1")
	a.old = graphOf(t, a.src, "old")
	a.want = testkit.SnapshotPaths(t, a.paths...)
	return a
}

// flakyEnv is a registry with a flaky proxy in front of it.
type flakyEnv struct {
	reg   *testkit.Registry
	proxy *testkit.Proxy
}

func startFlaky(t *testing.T, faults testkit.Faults) *flakyEnv {
	t.Helper()
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{Disk: true})
	if faults.Stall == 0 {
		faults.Stall = flakyStall
	}
	return &flakyEnv{reg: reg, proxy: testkit.StartProxy(t, reg.URL, testkit.ProxyOptions{Faults: faults, Lifetime: time.Minute})}
}

// viaProxy and direct are references to repo:v1 through the proxy and
// straight to the registry.
func (e *flakyEnv) viaProxy(t *testing.T, repo string) registry.Reference {
	t.Helper()
	ref, err := transfer.ParseReference(e.proxy.Host + "/" + repo + ":v1")
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func (e *flakyEnv) direct(t *testing.T, repo string) registry.Reference {
	t.Helper()
	return regRef(t, e.reg, repo+":v1")
}

// seedOld pushes the old artifact to repo:v1, straight to the registry.
func (e *flakyEnv) seedOld(t *testing.T, ctx context.Context, a *flakyArtifact, repo string) {
	t.Helper()
	if _, err := transfer.Push(ctx, a.src, "old", e.direct(t, repo), "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}}); err != nil {
		t.Fatal(err)
	}
}

// assertRegistryTag checks what the registry (asked directly) has at
// repo:v1: nothing when want is "", else the manifest want, complete: every
// blob it references is there.
func assertRegistryTag(t *testing.T, ctx context.Context, e *flakyEnv, repo string, want digest.Digest) {
	t.Helper()
	r := e.reg.Repository(t, repo)
	desc, err := r.Resolve(ctx, "v1")
	if want == "" {
		if !errors.Is(err, errdef.ErrNotFound) {
			t.Errorf("registry %s:v1 = %s, %v; want no such tag", repo, desc.Digest, err)
		}
		return
	}
	if err != nil || desc.Digest != want {
		t.Errorf("registry %s:v1 = %s, %v; want %s", repo, desc.Digest, err, want)
		return
	}
	b, err := content.FetchAll(ctx, r, desc)
	if err != nil {
		t.Errorf("registry %s:v1: fetch manifest: %v", repo, err)
		return
	}
	succ, err := content.Successors(ctx, staticFetcher(b), desc)
	if err != nil || len(succ) == 0 {
		t.Errorf("registry %s:v1: manifest references %d blobs, %v", repo, len(succ), err)
	}
	for _, s := range succ {
		if ok, err := r.Exists(ctx, s); err != nil || !ok {
			t.Errorf("registry %s:v1 = %s references blob %s, which the registry lacks (%v)", repo, want, s.Digest, err)
		}
	}
}

// staticFetcher fetches the one manifest it holds.
type staticFetcher []byte

func (f staticFetcher) Fetch(context.Context, ocispec.Descriptor) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(f)), nil
}

// assertLayoutTag checks a destination layout after a pull into tag v1:
// when pulled, v1 is the artifact, whole, with the same digests, unpacking
// to the same files; else v1 is still old. Either way Check finds no
// problem and no partial blob is left behind.
func assertLayoutTag(t *testing.T, ctx context.Context, l *layout.Layout, a *flakyArtifact, old digest.Digest, pulled bool) {
	t.Helper()
	desc, err := l.Resolve(ctx, "v1")
	switch {
	case err != nil:
		t.Errorf("layout v1: %v", err)
	case pulled && desc.Digest != a.g.manifest.Digest:
		t.Errorf("layout v1 = %s after a pull, want %s", desc.Digest, a.g.manifest.Digest)
	case !pulled && desc.Digest != old:
		t.Errorf("layout v1 = %s after a failed pull, want the old %s", desc.Digest, old)
	}
	// Check reads every blob the tags reach and verifies its size and
	// digest, the manifest's included.
	rep, err := l.Check(ctx, layout.CheckOptions{})
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	for _, p := range rep.Problems {
		t.Errorf("check: %v", p)
	}
	if !pulled {
		// A failed pull keeps what it downloaded of large blobs, to
		// continue from there; nothing else.
		assertOnlyPartials(t, l, a.g)
		return
	}
	assertNoTempBlobs(t, l)
	got := graphOf(t, l, "v1")
	if got.manifest.Digest != a.g.manifest.Digest || !slices.Equal(got.digests(), a.g.digests()) {
		t.Errorf("pulled graph %s %v, want %s %v", got.manifest.Digest, got.digests(), a.g.manifest.Digest, a.g.digests())
	}
	dir := unpackTo(t, l, "v1")
	testkit.SameTree(t, dir, a.want, testkit.Snapshot(t, dir), testkit.ContentExec)
}

// assertOnlyPartials checks that l's temporary area holds nothing but
// partial downloads (and their locks) of blobs of g.
func assertOnlyPartials(t *testing.T, l *layout.Layout, g graph) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(l.Path(), layout.WorkDir, "tmp"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		ok := false
		for _, d := range g.blobDigests() {
			ok = ok || strings.HasPrefix(e.Name(), "partial-sha256-"+d.Encoded())
		}
		if !ok {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

// assertGaveUp checks the error of a copy that gave up: after attempts
// attempts, naming one of digests.
func assertGaveUp(t *testing.T, what string, res *transfer.Result, err error, attempts int, digests ...digest.Digest) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s succeeded through a proxy that always fails", what)
	}
	t.Logf("%s: %v", what, err)
	if res == nil || res.Attempts != attempts || !strings.Contains(err.Error(), fmt.Sprintf("after %d attempts", attempts)) {
		t.Errorf("%s gave up after %+v attempts, want %d, said in the error", what, res, attempts)
	}
	named := false
	for _, d := range digests {
		named = named || strings.Contains(err.Error(), d.String())
	}
	if !named {
		t.Errorf("%s: the error names none of %v", what, digests)
	}
	if errors.Is(err, transfer.ErrUnauthorized) || errors.Is(err, transfer.ErrCertificate) {
		t.Errorf("%s: a network fault reported as an auth or certificate problem", what)
	}
}

func (g graph) blobDigests() []digest.Digest {
	var ds []digest.Digest
	for _, b := range g.blobs {
		ds = append(ds, b.Digest)
	}
	return ds
}

// concurrently runs n subtests at once. They spend most of their time
// waiting (for retries, stalls and idle timeouts), so they are not held to
// t.Parallel's limit of GOMAXPROCS tests at a time.
func concurrently(t *testing.T, n int, name func(int) string, fn func(*testing.T, int)) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { t.Run(name(i), func(t *testing.T) { fn(t, i) }) })
	}
	wg.Wait()
}

// flakySummary sums up the seeds of flakyPushPull.
type flakySummary struct {
	mu             sync.Mutex
	faults         map[testkit.Fault]int
	pushed, pulled int
}

// completed checks the manifest of a copy that completed (what: "pushed"
// or "pulled") and counts it in n, one of s's counts.
func (s *flakySummary) completed(t *testing.T, what string, res *transfer.Result, want digest.Digest, n *int) {
	t.Helper()
	if res.Manifest.Digest != want {
		t.Errorf("%s manifest %s, want %s", what, res.Manifest.Digest, want)
	}
	s.mu.Lock()
	*n++
	s.mu.Unlock()
}

// flakyPushPull pushes and pulls an artifact of six blobs (two of 8 and
// 9 MiB) through a proxy that faults on a fifth of all requests (resets,
// stalls, cuts, 500 and 429), for several seeds. Each copy either completes,
// with identical digests and bytes, or gives up naming a blob; never does
// a tag point at something incomplete, in the registry or the layout.
func flakyPushPull(t *testing.T, a *flakyArtifact) {
	sum := &flakySummary{faults: map[testkit.Fault]int{}}
	seeds := []uint64{1, 2, 3, 4, 5}
	concurrently(t, len(seeds), func(i int) string { return fmt.Sprint("seed-", seeds[i]) }, func(t *testing.T, i int) {
		flakySeed(t, a, seeds[i], sum)
	})
	t.Logf("%d of %d pushes and %d of %d pulls completed; faults injected: %v", sum.pushed, len(seeds), sum.pulled, len(seeds), sum.faults)
	for _, f := range testkit.AllFaults {
		if sum.faults[f] == 0 {
			t.Errorf("no %v fault was injected in %d seeds: the test does not test it", f, len(seeds))
		}
	}
	// With 8 attempts a fifth of faults is survivable: most copies
	// complete (each seed's faults are mostly reproducible; see
	// testkit.Proxy).
	if sum.pushed < len(seeds)-1 || sum.pulled < len(seeds)-1 {
		t.Errorf("only %d pushes and %d pulls of %d completed", sum.pushed, sum.pulled, len(seeds))
	}
}

func flakySeed(t *testing.T, a *flakyArtifact, seed uint64, sum *flakySummary) {
	ctx := testCtx(t)
	e := startFlaky(t, testkit.Faults{Seed: seed, Rate: 0.2})
	defer func() {
		st := e.proxy.Stats()
		sum.mu.Lock()
		for k, v := range st.Faults {
			sum.faults[k] += v
		}
		sum.mu.Unlock()
		if t.Failed() {
			for _, in := range e.proxy.Log() {
				t.Log(in)
			}
		}
	}()
	const repo = "apps/flaky"
	e.seedOld(t, ctx, a, repo)

	start := time.Now()
	res, err := transfer.Push(ctx, a.src, "v1", e.viaProxy(t, repo), "v1", flakyOpts(8))
	t.Logf("push: %v, %d attempts", time.Since(start).Round(time.Millisecond), res.Attempts)
	if err != nil {
		assertGaveUp(t, "push", res, err, 8, append(a.g.blobDigests(), a.g.manifest.Digest)...)
		// v1 is the old artifact or, if the manifest arrived and only
		// its answer was lost, the new one; complete either way.
		if d, rerr := e.reg.Repository(t, repo).Resolve(ctx, "v1"); rerr == nil && d.Digest == a.g.manifest.Digest {
			assertRegistryTag(t, ctx, e, repo, a.g.manifest.Digest)
		} else {
			assertRegistryTag(t, ctx, e, repo, a.old.manifest.Digest)
		}
		// Get the artifact there all the same, to test the pull.
		if _, err := transfer.Push(ctx, a.src, "v1", e.direct(t, repo), "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}}); err != nil {
			t.Fatal(err)
		}
	} else {
		sum.completed(t, "pushed", res, a.g.manifest.Digest, &sum.pushed)
	}
	assertRegistryTag(t, ctx, e, repo, a.g.manifest.Digest)

	// The destination has v1 already, as the old artifact.
	dst := testkit.NewLayout(t)
	packPaths(t, dst, "v1", example[2:]...)
	old, err := dst.Resolve(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	res, err = transfer.Pull(ctx, e.viaProxy(t, repo), dst, "v1", flakyOpts(8))
	t.Logf("pull: %v, %d attempts", time.Since(start).Round(time.Millisecond), res.Attempts)
	if err != nil {
		assertGaveUp(t, "pull", res, err, 8, append(a.g.blobDigests(), a.g.manifest.Digest)...)
	} else {
		sum.completed(t, "pulled", res, a.g.manifest.Digest, &sum.pulled)
	}
	assertLayoutTag(t, ctx, dst, a, old.Digest, err == nil)
}

// flakyAlwaysFails: a proxy that fails every blob upload, every
// manifest upload or every blob download: the copy gives up after its
// attempts with an error naming the blob, and no tag moves, in the registry
// or in the layout.
func flakyAlwaysFails(t *testing.T, a *flakyArtifact) {
	// A Cut lets an upload arrive (only its answer is lost), so it is
	// left out: the uploads must fail.
	uploadFaults := testkit.Faults{Seed: 11, Rate: 1, Classes: testkit.UploadData,
		Kinds: []testkit.Fault{testkit.FaultReset, testkit.FaultStall, testkit.FaultStatus500, testkit.FaultStatus429}}
	scenarios := []struct {
		name string
		fn   func(t *testing.T, ctx context.Context)
	}{{"blob uploads to a new repository", func(t *testing.T, ctx context.Context) {
		e := startFlaky(t, uploadFaults)
		res, err := transfer.Push(ctx, a.src, "v1", e.viaProxy(t, "apps/fresh"), "v1", flakyOpts(3))
		assertGaveUp(t, "push", res, err, 3, a.g.blobDigests()...)
		assertRegistryTag(t, ctx, e, "apps/fresh", "")
	}}, {"blob uploads over an old tag", func(t *testing.T, ctx context.Context) {
		e := startFlaky(t, uploadFaults)
		e.seedOld(t, ctx, a, "apps/moved")
		res, err := transfer.Push(ctx, a.src, "v1", e.viaProxy(t, "apps/moved"), "v1", flakyOpts(3))
		assertGaveUp(t, "push", res, err, 3, a.g.blobDigests()...)
		assertRegistryTag(t, ctx, e, "apps/moved", a.old.manifest.Digest)
	}}, {"manifest uploads", func(t *testing.T, ctx context.Context) {
		// oras-go retries a manifest PUT itself (it holds the manifest
		// in memory), 5 times, waiting Retry-After (1 s) after a 429 and
		// up to 3 s after a 500: one attempt of 429s keeps this short.
		// The blobs are in the registry already (as another tag), so
		// that only the manifest is left to fail.
		e := startFlaky(t, testkit.Faults{Seed: 12, Rate: 1, Classes: testkit.ManifestPut,
			Kinds: []testkit.Fault{testkit.FaultStatus429}})
		if _, err := transfer.Push(ctx, a.src, "v1", e.direct(t, "apps/fresh"), "v0", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}}); err != nil {
			t.Fatal(err)
		}
		res, err := transfer.Push(ctx, a.src, "v1", e.viaProxy(t, "apps/fresh"), "v1", flakyOpts(1))
		if err == nil {
			t.Fatal("push succeeded through a proxy that fails every manifest upload")
		}
		t.Logf("push: %v", err)
		if res == nil || res.Attempts != 1 || !strings.Contains(err.Error(), a.g.manifest.Digest.String()) {
			t.Errorf("push: %+v, %v; want 1 attempt and an error naming the manifest %s", res, err, a.g.manifest.Digest)
		}
		assertRegistryTag(t, ctx, e, "apps/fresh", "")
	}}, {"blob downloads", func(t *testing.T, ctx context.Context) {
		// Faults in a GET's body, past its headers, which only a new
		// attempt of the whole copy can overcome.
		e := startFlaky(t, testkit.Faults{Seed: 13, Rate: 1, Classes: testkit.BlobGet,
			Kinds: []testkit.Fault{testkit.FaultReset, testkit.FaultStall, testkit.FaultCut}})
		if _, err := transfer.Push(ctx, a.src, "v1", e.direct(t, "apps/down"), "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}}); err != nil {
			t.Fatal(err)
		}
		dst := testkit.NewLayout(t)
		packPaths(t, dst, "v1", example[2:]...)
		packPaths(t, dst, "other", example[0])
		old, _ := dst.Resolve(ctx, "v1")
		other, _ := dst.Resolve(ctx, "other")
		res, err := transfer.Pull(ctx, e.viaProxy(t, "apps/down"), dst, "v1", flakyOpts(3))
		assertGaveUp(t, "pull", res, err, 3, a.g.blobDigests()...)
		assertLayoutTag(t, ctx, dst, a, old.Digest, false)
		if d, err := dst.Resolve(ctx, "other"); err != nil || d.Digest != other.Digest {
			t.Errorf("the other tag moved: %v, %v", d.Digest, err)
		}
		// A new tag is not created either.
		fresh := testkit.NewLayout(t)
		res, err = transfer.Pull(ctx, e.viaProxy(t, "apps/down"), fresh, "v1", flakyOpts(2))
		assertGaveUp(t, "pull into an empty layout", res, err, 2, a.g.blobDigests()...)
		_, err = fresh.Resolve(ctx, "v1")
		assertNotFound(t, "v1 after a failed pull into an empty layout", err)
	}}}
	concurrently(t, len(scenarios), func(i int) string { return scenarios[i].name }, func(t *testing.T, i int) {
		scenarios[i].fn(t, testCtx(t))
	})
}

// flakyStallsEnd: stalls that outlast the test (in an upload's body,
// before a HEAD's answer, in a download's body) end in the client's idle
// timeout, and the copy completes after a retry. Without an idle timeout
// each would last flakyStall, past the test's deadline.
func flakyStallsEnd(t *testing.T, a *flakyArtifact) {
	stall := func(c testkit.Class) testkit.Faults {
		return testkit.Faults{Rate: 1, Max: 1, Classes: c, Kinds: []testkit.Fault{testkit.FaultStall}}
	}
	scenarios := []struct {
		name   string
		faults testkit.Faults
		push   bool
	}{
		{"upload body", stall(testkit.UploadData), true},
		// A late HEAD, on a connection used before (where net/http may
		// wrap the timeout as "HTTP/1.x transport connection broken:
		// …", which oras-go's retry does not take for a timeout).
		{"late HEAD", testkit.Faults{Rate: 1, After: 5, Max: 1, Classes: testkit.BlobHead | testkit.ManifestHead,
			Kinds: []testkit.Fault{testkit.FaultStall}}, true},
		{"manifest HEAD", stall(testkit.ManifestHead), false},
		{"download body", stall(testkit.BlobGet), false},
	}
	concurrently(t, len(scenarios), func(i int) string { return scenarios[i].name }, func(t *testing.T, i int) {
		sc := scenarios[i]
		ctx := testCtx(t)
		e := startFlaky(t, testkit.Faults{})
		if !sc.push {
			if _, err := transfer.Push(ctx, a.src, "v1", e.direct(t, "apps/stall"), "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}}); err != nil {
				t.Fatal(err)
			}
		}
		var dst *layout.Layout
		var old ocispec.Descriptor
		if !sc.push {
			dst = testkit.NewLayout(t)
			packPaths(t, dst, "v1", example[2:]...)
			old, _ = dst.Resolve(ctx, "v1")
		}
		e.proxy.SetFaults(sc.faults)
		start := time.Now()
		var res *transfer.Result
		var err error
		if sc.push {
			res, err = transfer.Push(ctx, a.src, "v1", e.viaProxy(t, "apps/stall"), "v1", flakyOpts(4))
		} else {
			res, err = transfer.Pull(ctx, e.viaProxy(t, "apps/stall"), dst, "v1", flakyOpts(4))
		}
		took := time.Since(start)
		if err != nil {
			t.Fatalf("copy through a stall: %v", err)
		}
		t.Logf("copy through %v: %v, %d attempts", e.proxy.Log(), took, res.Attempts)
		if n := e.proxy.Stats().Faults[testkit.FaultStall]; n != 1 {
			t.Errorf("%d stalls, want 1", n)
		}
		if took > flakyStall/2 {
			t.Errorf("copy through a stall of %v took %v, with an idle timeout of %v", flakyStall, took, flakyIdle)
		}
		if sc.push {
			assertRegistryTag(t, ctx, e, "apps/stall", a.g.manifest.Digest)
		} else {
			assertLayoutTag(t, ctx, dst, a, old.Digest, true)
		}
	})
}

// flakyRefusesLargeBodies: a registry (or a proxy in front of it) that
// refuses bodies over 1 MiB with 413 gets the blob again in chunks, halved
// after each 413 down to 1 MiB (still too large here), and the push fails
// naming the blob: a 413 does not go away by trying the copy again. The proxy's byte counters see each
// blob go up once and come down once.
func flakyRefusesLargeBodies(t *testing.T, a *flakyArtifact) {
	ctx := testCtx(t)
	e := startFlaky(t, testkit.Faults{RefuseBodiesOver: 1 << 20})
	res, err := transfer.Push(ctx, a.src, "v1", e.viaProxy(t, "apps/big"), "v1", flakyOpts(4))
	if err == nil {
		t.Fatal("push of 8 MiB blobs through a 1 MiB body limit succeeded")
	}
	t.Logf("push: %v", err)
	if !strings.Contains(err.Error(), "413") || !namesOneOf(err, a.g) {
		t.Errorf("push: %v; want an error naming a blob and the 413", err)
	}
	// Were a 413 tried again, every attempt would meet it, up to the last.
	// (An attempt may fail first for another reason, when the machine is
	// too loaded to answer within the idle timeout.)
	if n := e.proxy.Stats().Refused; n < 1 || res.Attempts >= 4 {
		t.Errorf("the proxy refused %d bodies in %d attempts of 4; a 413 must not be tried again", n, res.Attempts)
	}
	assertRegistryTag(t, ctx, e, "apps/big", "")

	e.proxy.SetFaults(testkit.Faults{})
	before := e.proxy.Stats()
	res, err = transfer.Push(ctx, a.src, "v1", e.viaProxy(t, "apps/big"), "v1", flakyOpts(3))
	if err != nil {
		t.Fatal(err)
	}
	mid := e.proxy.Stats()
	// Blobs pushed before the refusal are skipped now. (More is sent
	// only when the machine is too loaded to answer within the idle
	// timeout, and the push is tried again.)
	if up, most := mid.Up-before.Up, a.g.blobBytes()+a.g.manifest.Size; up < 17<<20 || res.Attempts == 1 && up > most {
		t.Errorf("push sent %d body bytes in %d attempts, want at most %d and at least the big blobs", up, res.Attempts, most)
	}
	dst := testkit.NewLayout(t)
	res, err = transfer.Pull(ctx, e.viaProxy(t, "apps/big"), dst, "v1", flakyOpts(3))
	if err != nil {
		t.Fatal(err)
	}
	// The manifest comes down twice: once to list its blobs, once to store.
	down, want := e.proxy.Stats().Down-mid.Down, a.g.blobBytes()+2*a.g.manifest.Size
	if down < want || res.Attempts == 1 && down != want {
		t.Errorf("pull received %d body bytes in %d attempts, want %d", down, res.Attempts, want)
	}
}
