package transfer_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"

	igraph "github.com/ocipack/ocipack/graph"
	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/transfer"
)

// mirrorFixture is a layout of entries of several source registries and
// repositories, named by full names, with plain tags beside them.
type mirrorFixture struct {
	l *layout.Layout
	// names are the layout's entry names, sorted (layout.Tags' order).
	names []string
	// full maps each full name to its manifest.
	full map[string]ocispec.Descriptor
	// plain are the plain tags.
	plain []string
	// pinned is the full name of t02, by digest only.
	pinned string
}

const (
	mirrorNginx  = "docker.io/library/nginx:1.27"
	mirrorTool   = "quay.io/team/tool:v2"
	mirrorApp    = "ghcr.io/org/app:1.0" // the same manifest as mirrorNginx
	mirrorMulti  = "registry.example:5000/multi/arch:1.0"
	mirrorPinned = "docker.io/library/nginx@" // + t02's digest
)

// newMirrorFixture packs three artifacts sharing a file and the config
// (t00, t01, t02) and a linux/amd64 + linux/arm64 index, and names them
// by full names of four registries: t00 twice (two repositories), t01,
// t02 by digest only (in nginx's repository), and the index.
func newMirrorFixture(t *testing.T) *mirrorFixture {
	t.Helper()
	ctx := t.Context()
	l := testkit.NewLayout(t)
	tags, _ := packTags(t, l, 3)
	f := &mirrorFixture{l: l, full: map[string]ocispec.Descriptor{}, plain: tags}
	name := func(desc ocispec.Descriptor, n string) {
		t.Helper()
		if err := l.Put(ctx, layout.WithTags(desc, n)...); err != nil {
			t.Fatal(err)
		}
		f.full[n] = desc
	}
	resolve := func(tag string) ocispec.Descriptor {
		d, err := l.Resolve(ctx, tag)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	t00, t01, t02 := resolve("t00"), resolve("t01"), resolve("t02")
	name(t00, mirrorNginx)
	name(t00, mirrorApp)
	name(t01, mirrorTool)
	f.pinned = mirrorPinned + t02.Digest.String()
	name(t02, f.pinned)
	idx, _ := testkit.PushPlatformIndex(t, l, mirrorMulti, "linux/amd64", "linux/arm64")
	f.full[mirrorMulti] = idx
	tagged, err := l.Tags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tagged {
		f.names = append(f.names, e.Tag)
	}
	return f
}

// mirrorResults collects what PushMirror reports, one call at a time.
type mirrorResults struct {
	mu    sync.Mutex
	busy  bool
	t     *testing.T
	order []string
	all   map[string]transfer.MirrorResult
}

func newMirrorResults(t *testing.T) *mirrorResults {
	return &mirrorResults{t: t, all: map[string]transfer.MirrorResult{}}
}

func (r *mirrorResults) each(m transfer.MirrorResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.busy {
		r.t.Error("each called while another call is running")
	}
	r.busy = true
	r.order = append(r.order, m.Name)
	r.all[m.Name] = m
	r.busy = false
}

// sums adds up the results of the entries pushed.
func (r *mirrorResults) sums() (total transfer.Result) {
	for _, m := range r.all {
		if m.Result != nil {
			total.Copied += m.Result.Copied
			total.Mounted += m.Result.Mounted
			total.Skipped += m.Result.Skipped
			total.Bytes += m.Result.Bytes
			total.Manifests += m.Result.Manifests
		}
	}
	return total
}

// graphParts walks the graph of each root in l and returns its distinct
// blobs (configs and layers) and the sizes of its manifests, counting a
// manifest once a root (each entry pushes its own).
func graphParts(t *testing.T, l *layout.Layout, roots ...ocispec.Descriptor) (blobs map[digest.Digest]int64, manifestBytes int64) {
	t.Helper()
	blobs = map[digest.Digest]int64{}
	for _, r := range roots {
		w := igraph.Walker{Fetcher: l, Visit: func(_ context.Context, n igraph.Node) error {
			if n.Manifest != nil {
				manifestBytes += n.Descriptor.Size
			} else {
				blobs[n.Descriptor.Digest] = n.Descriptor.Size
			}
			return nil
		}}
		if err := w.Walk(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	return blobs, manifestBytes
}

// TestPushMirror pushes a layout holding entries of four source
// registries to a mirror registry without a prefix, through a counting
// proxy: each full name lands at its repository path and tag (the digest
// only entry by digest) with the same digest; plain tags are reported
// skipped first; every blob shared by entries (of one repository or
// several) is sent once, the others mounted; the bytes the proxy
// forwarded are the distinct blobs and the manifests. A second push sends
// no blob.
func TestPushMirror(t *testing.T) {
	ctx := testCtx(t)
	f := newMirrorFixture(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	proxy := testkit.StartProxy(t, reg.URL, testkit.ProxyOptions{})
	dst, err := transfer.ParseMirrorReference(proxy.Host)
	if err != nil {
		t.Fatal(err)
	}
	opts := plainOpts()
	opts.Concurrency = transfer.ConcurrencyOptions{Blobs: 4, Tags: 4}
	got := newMirrorResults(t)
	if err := transfer.PushMirror(ctx, f.l, f.names, dst, opts, got.each); err != nil {
		t.Fatal(err)
	}

	// Plain tags first, skipped; then the full names in the layout's order.
	var wantOrder []string
	wantOrder = append(wantOrder, f.plain...)
	for _, n := range f.names {
		if layout.IsFullName(n) {
			wantOrder = append(wantOrder, n)
		}
	}
	if !slices.Equal(got.order, wantOrder) {
		t.Errorf("each called for %v, want %v", got.order, wantOrder)
	}
	for _, p := range f.plain {
		if m := got.all[p]; !m.Skipped || m.Result != nil {
			t.Errorf("plain tag %s: %+v, want skipped", p, m)
		}
	}

	want := map[string]string{ // full name -> destination repository:tag or @digest
		mirrorNginx: "library/nginx:1.27",
		mirrorApp:   "org/app:1.0",
		mirrorTool:  "team/tool:v2",
		mirrorMulti: "multi/arch:1.0",
		f.pinned:    "library/nginx@" + f.full[f.pinned].Digest.String(),
	}
	var roots []ocispec.Descriptor
	var rootBytes int64
	inRepo := map[string]bool{} // repository + blob digest: what each repository needs
	for n, dest := range want {
		repoName, _, _ := strings.Cut(strings.Replace(dest, "@", ":", 1), ":")
		b, _ := graphParts(t, f.l, f.full[n])
		for d := range b {
			inRepo[repoName+"@"+d.String()] = true
		}
		m := got.all[n]
		if m.Skipped || m.Result == nil {
			t.Errorf("%s: %+v, want pushed", n, m)
			continue
		}
		wantDesc := f.full[n]
		roots = append(roots, wantDesc)
		rootBytes += wantDesc.Size
		if m.Destination.String() != proxy.Host+"/"+dest {
			t.Errorf("%s -> %s, want %s/%s", n, m.Destination, proxy.Host, dest)
		}
		if m.Result.Manifest.Digest != wantDesc.Digest {
			t.Errorf("%s pushed %s, want %s", n, m.Result.Manifest.Digest, wantDesc.Digest)
		}
		_, ref, _ := strings.Cut(strings.Replace(dest, "@", ":", 1), ":")
		if d, err := reg.Repository(t, repoName).Resolve(ctx, ref); err != nil || d.Digest != wantDesc.Digest {
			t.Errorf("mirror %s = %v, %v; want %s", dest, d.Digest, err, wantDesc.Digest)
		}
	}
	if tags := registryTags(t, reg.Repository(t, "library/nginx")); !slices.Equal(tags, []string{"1.27"}) {
		t.Errorf("library/nginx tags = %v, want only 1.27 (the pinned entry goes by digest)", tags)
	}

	// Each distinct blob sent once: the others skipped (same repository)
	// or mounted (another repository).
	blobs, manifestBytes := graphParts(t, f.l, roots...)
	var blobBytes int64
	for _, n := range blobs {
		blobBytes += n
	}
	sum := got.sums()
	if sent := sum.Copied - sum.Mounted; sent != len(blobs) {
		t.Errorf("sent %d blobs (copied %d, mounted %d), want each of the %d distinct blobs once", sent, sum.Copied, sum.Mounted, len(blobs))
	}
	if want := len(inRepo) - len(blobs); sum.Mounted != want || want == 0 {
		t.Errorf("mounted %d blobs, want %d: each blob once into each repository but the one it was sent to", sum.Mounted, want)
	}
	if sum.Bytes != blobBytes+manifestBytes {
		t.Errorf("results sum %d bytes, want %d (distinct blobs %d, manifests %d)", sum.Bytes, blobBytes+manifestBytes, blobBytes, manifestBytes)
	}
	if up := proxy.Stats().Up; up != blobBytes+manifestBytes {
		t.Errorf("the proxy forwarded %d bytes up, want %d (distinct blobs %d, manifests %d)", up, blobBytes+manifestBytes, blobBytes, manifestBytes)
	}

	// Again: everything is there; only the root manifests go up (to tag).
	before := proxy.Stats().Up
	again := newMirrorResults(t)
	if err := transfer.PushMirror(ctx, f.l, f.names, dst, opts, again.each); err != nil {
		t.Fatal(err)
	}
	if s := again.sums(); s.Copied != 0 || s.Bytes != rootBytes {
		t.Errorf("second push: %+v; want nothing copied, only the root manifests (%d bytes)", s, rootBytes)
	}
	if up := proxy.Stats().Up - before; up != rootBytes {
		t.Errorf("second push sent %d bytes, want only the root manifests (%d)", up, rootBytes)
	}
}

// TestPushMirrorPrefixPlatform pushes the fixture to a mirror under a
// prefix with a platform filter: every entry lands under PREFIX/PATH; the
// index arrives as the linux/arm64 subset (its one child at the mirror),
// the artifacts without a platform unchanged.
func TestPushMirrorPrefixPlatform(t *testing.T) {
	ctx := testCtx(t)
	f := newMirrorFixture(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	dst, err := transfer.ParseMirrorReference(reg.Host + "/mirror/cache")
	if err != nil {
		t.Fatal(err)
	}
	opts := plainOpts()
	opts.Platforms = []ocispec.Platform{{OS: "linux", Architecture: "arm64"}}
	got := newMirrorResults(t)
	if err := transfer.PushMirror(ctx, f.l, f.names, dst, opts, got.each); err != nil {
		t.Fatal(err)
	}
	for n, dest := range map[string]string{
		mirrorNginx: "mirror/cache/library/nginx:1.27",
		mirrorApp:   "mirror/cache/org/app:1.0",
		mirrorTool:  "mirror/cache/team/tool:v2",
	} {
		m := got.all[n]
		if m.Destination.String() != reg.Host+"/"+dest || m.Result == nil || m.Result.Manifest.Digest != f.full[n].Digest {
			t.Errorf("%s: %+v, want %s with %s", n, m, dest, f.full[n].Digest)
			continue
		}
		repo, tag, _ := strings.Cut(dest, ":")
		if d, err := reg.Repository(t, repo).Resolve(ctx, tag); err != nil || d.Digest != f.full[n].Digest {
			t.Errorf("mirror %s = %v, %v", dest, d.Digest, err)
		}
	}
	pinned := got.all[f.pinned]
	if pinned.Destination.String() != reg.Host+"/mirror/cache/library/nginx@"+f.full[f.pinned].Digest.String() {
		t.Errorf("pinned entry -> %s", pinned.Destination)
	}

	m := got.all[mirrorMulti]
	if m.Result == nil {
		t.Fatalf("index not pushed: %+v", m)
	}
	if m.Result.Manifest.Digest == f.full[mirrorMulti].Digest {
		t.Error("the index was pushed whole, not as the linux/arm64 subset")
	}
	repo := reg.Repository(t, "mirror/cache/multi/arch")
	d, err := repo.Resolve(ctx, "1.0")
	if err != nil || d.Digest != m.Result.Manifest.Digest {
		t.Fatalf("mirror multi/arch:1.0 = %v, %v; want %s", d.Digest, err, m.Result.Manifest.Digest)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(testkit.FetchBytes(t, repo, d), &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].Platform == nil || idx.Manifests[0].Platform.Architecture != "arm64" {
		t.Errorf("mirrored index lists %+v, want only linux/arm64", idx.Manifests)
	}
}

// TestPushMirrorErrors: a layout of plain tags only, an empty one, two
// full names meeting at one destination tag with different manifests, and
// a destination with a tag fail before any request, in one line naming
// what is at fault.
func TestPushMirrorErrors(t *testing.T) {
	ctx := testCtx(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	proxy := testkit.StartProxy(t, reg.URL, testkit.ProxyOptions{})
	dst, err := transfer.ParseMirrorReference(proxy.Host)
	if err != nil {
		t.Fatal(err)
	}

	l := testkit.NewLayout(t)
	tags, want := packTags(t, l, 2)
	err = transfer.PushMirror(ctx, l, tags, dst, plainOpts(), nil)
	if !errors.Is(err, transfer.ErrNothingToMirror) || !strings.Contains(err.Error(), "t00, t01") || strings.Contains(err.Error(), "\n") {
		t.Errorf("plain tags only: %v, want ErrNothingToMirror naming them", err)
	}
	if err := transfer.PushMirror(ctx, l, nil, dst, plainOpts(), nil); !errors.Is(err, transfer.ErrNothingToMirror) {
		t.Errorf("no entries: %v, want ErrNothingToMirror", err)
	}

	a, b := "docker.io/library/app:v1", "quay.io/library/app:v1"
	if err := l.Put(ctx, append(layout.WithTags(mustResolve(t, l, "t00"), a), layout.WithTags(mustResolve(t, l, "t01"), b)...)...); err != nil {
		t.Fatal(err)
	}
	err = transfer.PushMirror(ctx, l, []string{a, b}, dst, plainOpts(), nil)
	if !errors.Is(err, transfer.ErrInvalidReference) || !strings.Contains(err.Error(), a) || !strings.Contains(err.Error(), b) ||
		!strings.Contains(err.Error(), want["t00"].String()) || !strings.Contains(err.Error(), proxy.Host+"/library/app:v1") {
		t.Errorf("conflict: %v, want an error naming both names and the destination", err)
	}

	withTag := dst
	withTag.Reference = "v1"
	if err := transfer.PushMirror(ctx, l, []string{a}, withTag, plainOpts(), nil); !errors.Is(err, transfer.ErrInvalidReference) {
		t.Errorf("destination with a tag: %v, want ErrInvalidReference", err)
	}
	if n := proxy.Stats().Requests; n != 0 {
		t.Errorf("the failures sent %d requests, want none", n)
	}
}

func mustResolve(t *testing.T, l *layout.Layout, ref string) ocispec.Descriptor {
	t.Helper()
	d, err := l.Resolve(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestMirrorDestination maps full names to a mirror with and without a
// prefix, and parses mirror references.
func TestMirrorDestination(t *testing.T) {
	dgst := digest.FromString("x").String()
	for _, c := range []struct{ name, dst, want string }{
		{"docker.io/library/nginx:1.27", "mirror.internal", "mirror.internal/library/nginx:1.27"},
		{"docker.io/library/nginx:1.27", "mirror.internal:5000/cache", "mirror.internal:5000/cache/library/nginx:1.27"},
		{"quay.io/a/b/c:v1", "m.example/x/y", "m.example/x/y/a/b/c:v1"},
		{"localhost:5000/app@" + dgst, "m.example", "m.example/app@" + dgst},
		{"ghcr.io/org/app:v1@" + dgst, "m.example", "m.example/org/app:v1"},
	} {
		dst, err := transfer.ParseMirrorReference(c.dst)
		if err != nil {
			t.Errorf("ParseMirrorReference(%q): %v", c.dst, err)
			continue
		}
		got, err := transfer.MirrorDestination(c.name, dst)
		if err != nil || got.String() != c.want {
			t.Errorf("MirrorDestination(%q, %q) = %v, %v; want %s", c.name, c.dst, got, err, c.want)
		}
	}
	if _, err := transfer.MirrorDestination("v1", registry.Reference{Registry: "m.example"}); !errors.Is(err, transfer.ErrInvalidReference) {
		t.Errorf("a plain tag: %v, want ErrInvalidReference", err)
	}
	for _, bad := range []string{"", "/prefix", "m.example/Upper", "m.example/app:v1", "m.example/app@" + dgst, "no such host!"} {
		if ref, err := transfer.ParseMirrorReference(bad); !errors.Is(err, transfer.ErrInvalidReference) {
			t.Errorf("ParseMirrorReference(%q) = %v, %v; want ErrInvalidReference", bad, ref, err)
		}
	}
}
