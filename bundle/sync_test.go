package bundle_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocipack/ocipack/bundle"
	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
	"github.com/ocipack/ocipack/transfer"
)

// fixture is a registry behind a counting proxy holding a three-platform
// image index and an OCI chart, a URL server, and a bundle directory.
type fixture struct {
	reg   *testkit.Registry
	proxy *testkit.Proxy
	web   *httptest.Server
	gets  atomic.Int64 // requests the URL server answered
	dir   string
	tool  []byte
	opts  bundle.Options
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	fx := &fixture{dir: t.TempDir(), tool: []byte("the tool, version 1\n")}
	fx.reg = testkit.StartRegistry(t, testkit.RegistryOptions{})
	fx.proxy = testkit.StartProxy(t, fx.reg.URL, testkit.ProxyOptions{})
	testkit.PushPlatformIndex(t, fx.reg.Repository(t, "apps/multi"), "v1", "linux/amd64", "linux/arm64/v8", "linux/arm/v7")

	// An OCI chart, stored as pack --helm stores it, pushed as helm push does.
	cl, err := layout.OpenOrCreate(ctx, filepath.Join(t.TempDir(), "charts"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := pack.PackHelm(ctx, cl, "0.1.0", "../testdata/example/hello-0.1.0.tgz", pack.Options{}); err != nil {
		t.Fatal(err)
	}
	dst, err := transfer.ParseReference(fx.reg.Ref("charts/hello"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transfer.Push(ctx, cl, "0.1.0", dst, "0.1.0", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}}); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fx.web = &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fx.gets.Add(1)
		if r.URL.Path != "/tool-1.0.tar.gz" {
			http.NotFound(w, r)
			return
		}
		w.Write(fx.tool)
	})}}
	fx.web.Start()
	t.Cleanup(fx.web.Close)

	if err := os.WriteFile(filepath.Join(fx.dir, "install.sh"), []byte("echo install\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	chart, _ := filepath.Abs("../testdata/example/hello-0.1.0.tgz")
	if err := os.Symlink(chart, filepath.Join(fx.dir, "hello-0.1.0.tgz")); err != nil {
		t.Fatal(err)
	}
	fx.opts = bundle.Options{Transfer: transfer.Options{
		Connection: transfer.ConnectionOptions{PlainHTTP: true},
		Retry:      transfer.RetryOptions{Attempts: 1},
	}}
	return fx
}

func (fx *fixture) sum() string {
	s := sha256.Sum256(fx.tool)
	return hex.EncodeToString(s[:])
}

// yaml is the fixture's bundle file, with platforms for the image.
func (fx *fixture) yaml(platforms string) string {
	return fmt.Sprintf(`images:
  - ref: %s/apps/multi:v1
    platforms: [%s]
charts:
  - ref: oci://%s/charts/hello
    version: 0.1.0
  - path: ./hello-0.1.0.tgz
files:
  - path: ./install.sh
    name: tools/install:1.0
  - url: %s/tool-1.0.tar.gz
    sha256: %s
    name: tools/tool:1.0
`, fx.proxy.Host, platforms, fx.proxy.Host, fx.web.URL, fx.sum())
}

func (fx *fixture) sync(t *testing.T, ctx context.Context, yaml, layoutDir string, opts bundle.Options) (*bundle.Result, error) {
	t.Helper()
	p := writeBundle(t, fx.dir, yaml)
	f, err := bundle.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	l, err := layout.OpenOrCreate(ctx, layoutDir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return bundle.Sync(ctx, f, l, opts)
}

func statuses(res *bundle.Result) map[string]bundle.Status {
	m := map[string]bundle.Status{}
	for _, e := range res.Entries {
		m[e.Name] = e.Status
	}
	return m
}

func tags(t *testing.T, dir string) map[string]string {
	t.Helper()
	l, err := layout.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ts, err := l.Tags(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, tg := range ts {
		m[tg.Tag] = tg.Descriptor.Digest.String()
	}
	return m
}

// TestSync fills a layout from a bundle of every kind, re-syncs it with
// nothing changed (resolutions only: HEAD requests, no body), changes one
// entry, prunes, and syncs --locked.
func TestSync(t *testing.T) {
	ctx := t.Context()
	fx := newFixture(t)
	out := filepath.Join(t.TempDir(), "bundle")
	image := fx.proxy.Host + "/apps/multi:v1"
	chart := fx.proxy.Host + "/charts/hello:0.1.0"
	names := []string{image, chart, "bundle.local/charts/hello:0.1.0", "bundle.local/tools/install:1.0", "bundle.local/tools/tool:1.0"}

	res, err := fx.sync(t, ctx, fx.yaml("linux/amd64, linux/arm64"), out, fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	st := statuses(res)
	for _, n := range names {
		if st[n] != bundle.Added {
			t.Errorf("%s: %q, want added (%v)", n, st[n], st)
		}
	}
	first := tags(t, out)
	if len(first) != len(names) {
		t.Errorf("layout tags %v, want %v", first, names)
	}
	lock, err := bundle.ReadLock(filepath.Join(fx.dir, "bundle.lock"))
	if err != nil || len(lock.Entries) != len(names) {
		t.Fatalf("lock %+v, %v", lock, err)
	}
	for _, le := range lock.Entries {
		if first[le.Name] != le.Digest || !strings.HasPrefix(le.Resolved, "sha256:") || le.Size <= 0 {
			t.Errorf("lock entry %+v; layout has %s", le, first[le.Name])
		}
	}
	// The image is a subset: its stored index is not the registry's.
	if le := lock.Entries[0]; le.Resolved == le.Digest {
		t.Errorf("platform subset stored as the source index %s", le.Digest)
	}
	if fx.gets.Load() != 1 {
		t.Errorf("%d URL requests, want 1", fx.gets.Load())
	}

	// Nothing changed: resolutions only.
	before := fx.proxy.Stats()
	res, err = fx.sync(t, ctx, fx.yaml("linux/amd64, linux/arm64"), out, fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	after := fx.proxy.Stats()
	for n, s := range statuses(res) {
		if s != bundle.Unchanged {
			t.Errorf("re-sync: %s %s", n, s)
		}
	}
	reqs, down := after.Requests-before.Requests, after.Down-before.Down
	t.Logf("re-sync: %d registry request(s), %d byte(s) of bodies received, %d URL request(s)", reqs, down, fx.gets.Load()-1)
	if reqs != 2 || down != 0 || after.Up != before.Up || fx.gets.Load() != 1 {
		t.Errorf("re-sync: %d requests, %d bytes down, %d up, %d URL gets; want 2 HEADs, no body", reqs, down, after.Up-before.Up, fx.gets.Load())
	}
	if got := tags(t, out); fmt.Sprint(got) != fmt.Sprint(first) {
		t.Errorf("re-sync changed the layout: %v, was %v", got, first)
	}

	// One entry changes (another platform set): only it is updated.
	res, err = fx.sync(t, ctx, fx.yaml("linux/arm/v7"), out, fx.opts)
	if err != nil {
		t.Fatal(err)
	}
	for n, s := range statuses(res) {
		want := bundle.Unchanged
		if n == image {
			want = bundle.Updated
		}
		if s != want {
			t.Errorf("changed image: %s %s, want %s", n, s, want)
		}
	}
	second := tags(t, out)
	if second[image] == first[image] {
		t.Error("the image entry was not updated")
	}

	// --locked agrees with the lock: nothing is fetched.
	locked := fx.opts
	locked.Locked = true
	before = fx.proxy.Stats()
	if _, err := fx.sync(t, ctx, fx.yaml("linux/arm/v7"), out, locked); err != nil {
		t.Fatal(err)
	}
	if after := fx.proxy.Stats(); after.Requests != before.Requests {
		t.Errorf("--locked with everything there made %d request(s)", after.Requests-before.Requests)
	}
	// --locked with a file that disagrees fails before fetching.
	before = fx.proxy.Stats()
	_, err = fx.sync(t, ctx, fx.yaml("linux/amd64"), out, locked)
	if !errors.Is(err, bundle.ErrInvalid) || !strings.Contains(err.Error(), "bundle.yaml:2") {
		t.Errorf("--locked disagreeing: %v", err)
	}
	if after := fx.proxy.Stats(); after.Requests != before.Requests {
		t.Errorf("--locked disagreeing made %d request(s)", after.Requests-before.Requests)
	}
	// --locked into an empty layout fetches what the lock names.
	out2 := filepath.Join(t.TempDir(), "bundle")
	if _, err := fx.sync(t, ctx, fx.yaml("linux/arm/v7"), out2, locked); err != nil {
		t.Fatal(err)
	}
	if got := tags(t, out2); fmt.Sprint(got) != fmt.Sprint(second) {
		t.Errorf("--locked layout %v, want %v", got, second)
	}

	// The file drops the image and the URL: without --prune they stay
	// (and stay recorded), with --prune they go; other tags stay.
	l, err := layout.Open(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := l.Resolve(ctx, image)
	if err := l.Tag(ctx, d, "mine"); err != nil {
		t.Fatal(err)
	}
	l.Close()
	short := strings.Join(strings.Split(fx.yaml("linux/arm/v7"), "\n")[3:10], "\n") + "\n"
	if _, err := fx.sync(t, ctx, short, out, fx.opts); err != nil {
		t.Fatal(err)
	}
	if got := tags(t, out); len(got) != len(names)+1 {
		t.Errorf("without --prune: %v", got)
	}
	prune := fx.opts
	prune.Prune = true
	res, err = fx.sync(t, ctx, short, out, prune)
	if err != nil {
		t.Fatal(err)
	}
	got := tags(t, out)
	if _, ok := got[image]; ok || got["mine"] == "" || len(got) != 4 {
		t.Errorf("after --prune: %v", got)
	}
	if st := statuses(res); st[image] != bundle.Pruned || st["bundle.local/tools/tool:1.0"] != bundle.Pruned {
		t.Errorf("prune statuses %v", st)
	}
}

// TestSyncURLMismatch: a download whose sha256 differs fails naming the
// line and both digests, and tags nothing.
func TestSyncURLMismatch(t *testing.T) {
	fx := newFixture(t)
	out := filepath.Join(t.TempDir(), "bundle")
	want := fx.sum()
	fx.tool = []byte("tampered")
	got := sha256.Sum256(fx.tool)
	yaml := fmt.Sprintf("files:\n  - path: ./install.sh\n    name: a:1\n  - url: %s/tool-1.0.tar.gz\n    sha256: %s\n    name: tool:1\n", fx.web.URL, want)
	_, err := fx.sync(t, t.Context(), yaml, out, fx.opts)
	if !errors.Is(err, bundle.ErrDigestMismatch) || !strings.Contains(err.Error(), "bundle.yaml:4") ||
		!strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), hex.EncodeToString(got[:])) {
		t.Fatalf("error %v", err)
	}
	if ts := tags(t, out); len(ts) != 1 || ts["bundle.local/a:1"] == "" {
		t.Errorf("tags %v", ts)
	}
}

// TestSyncFailureKeepsEntries: a failure half way (a tag the registry
// does not have) leaves every entry the layout had as it was.
func TestSyncFailureKeepsEntries(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	fx := newFixture(t)
	out := filepath.Join(t.TempDir(), "bundle")
	if _, err := fx.sync(t, ctx, fx.yaml("linux/amd64"), out, fx.opts); err != nil {
		t.Fatal(err)
	}
	before := tags(t, out)
	bad := strings.Replace(fx.yaml("linux/arm64"), "charts/hello\n", "charts/gone\n", 1)
	_, err := fx.sync(t, ctx, bad, out, fx.opts)
	if err == nil || !strings.Contains(err.Error(), "bundle.yaml:5") {
		t.Fatalf("error %v, want one naming bundle.yaml:5", err)
	}
	after := tags(t, out)
	for n, d := range before {
		if strings.Contains(n, "apps/multi") {
			continue // synced before the failure: updated
		}
		if after[n] != d {
			t.Errorf("%s: %s, was %s", n, after[n], d)
		}
	}
	if len(after) != len(before) {
		t.Errorf("tags %v, were %v", after, before)
	}
}

// TestLockPortable: the lock file records a local path as the bundle file
// writes it, so that a checkout of the bundle elsewhere (another machine,
// another directory) syncs --locked against the same lock.
func TestLockPortable(t *testing.T) {
	ctx := t.Context()
	write := func(dir string) string {
		if err := os.MkdirAll(filepath.Join(dir, "tools"), 0o755); err != nil {
			t.Fatal(err)
		}
		testkit.WriteFile(t, filepath.Join(dir, "tools", "install.sh"), "#!/bin/sh\necho hi\n")
		bf := filepath.Join(dir, "bundle.yaml")
		testkit.WriteFile(t, bf, "files:\n  - path: ./tools/install.sh\n    name: tools/install:1.0\n")
		return bf
	}
	syncFile := func(bf string, opts bundle.Options) error {
		f, err := bundle.Load(bf)
		if err != nil {
			return err
		}
		l := testkit.NewLayout(t)
		_, err = bundle.Sync(ctx, f, l, opts)
		return err
	}
	a := write(filepath.Join(t.TempDir(), "a"))
	if err := syncFile(a, bundle.Options{}); err != nil {
		t.Fatal(err)
	}
	lock, err := bundle.ReadLock(bundle.LockPath(a))
	if err != nil {
		t.Fatal(err)
	}
	if len(lock.Entries) != 1 || lock.Entries[0].Source != "path tools/install.sh" {
		t.Fatalf("lock entries %+v, want one with source \"path tools/install.sh\"", lock.Entries)
	}
	// The same bundle checked out elsewhere, with its lock.
	b := write(filepath.Join(t.TempDir(), "b"))
	testkit.WriteFile(t, bundle.LockPath(b), string(testkit.ReadFile(t, bundle.LockPath(a))))
	if err := syncFile(b, bundle.Options{Locked: true}); err != nil {
		t.Errorf("--locked in another checkout: %v", err)
	}
}
