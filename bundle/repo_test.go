package bundle_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/bundle"
	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
	"github.com/ocipack/ocipack/transfer"
)

// chartRepo is a classic chart repository served over HTTP on 127.0.0.1:
// /charts/index.yaml and the charts' archives, some under /charts/ (the
// index names them relative to the repository), some under /dl/ (named by
// absolute URLs). It counts the requests of each path.
type chartRepo struct {
	srv *httptest.Server
	mu  sync.Mutex
	// files are the served files by path; index is /charts/index.yaml.
	files map[string][]byte
	reqs  map[string]int
	// versions are the index's entries: chart name -> versions, each
	// with its archive's path and whether the index names it absolutely.
	versions map[string][]repoVersion
}

type repoVersion struct {
	version, path string
	absolute      bool
	digest        string // overrides the archive's real digest when set
}

func newChartRepo(t *testing.T) *chartRepo {
	t.Helper()
	r := &chartRepo{files: map[string][]byte{}, reqs: map[string]int{}, versions: map[string][]repoVersion{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs[req.URL.Path]++
		b, ok := r.files[req.URL.Path]
		r.mu.Unlock()
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Write(b)
	})}}
	r.srv.Start()
	t.Cleanup(r.srv.Close)
	return r
}

// URL is the repository's URL.
func (r *chartRepo) URL() string { return r.srv.URL + "/charts" }

// Host is the server's 127.0.0.1:PORT.
func (r *chartRepo) Host() string { return strings.TrimPrefix(r.srv.URL, "http://") }

// add serves the chart archive tgz as version of name and lists it in the
// index.
func (r *chartRepo) add(name, version string, tgz []byte, absolute bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	dir := "/charts/"
	if absolute {
		dir = "/dl/"
	}
	p := dir + name + "-" + version + ".tgz"
	r.files[p] = tgz
	r.versions[name] = append(r.versions[name], repoVersion{version: version, path: p, absolute: absolute})
	r.writeIndex()
}

// writeIndex writes index.yaml as `helm repo index` writes it: apiVersion,
// entries sorted by name, each chart's versions newest first (Helm sorts
// by semver, descending), fields in alphabetical order, then generated.
func (r *chartRepo) writeIndex() {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nentries:\n")
	names := make([]string, 0, len(r.versions))
	for n := range r.versions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  %s:\n", n)
		vs := r.versions[n]
		sort.SliceStable(vs, func(i, j int) bool { return semverLess(vs[j].version, vs[i].version) })
		for _, v := range vs {
			sum := sha256.Sum256(r.files[v.path])
			d := hex.EncodeToString(sum[:])
			if v.digest != "" {
				d = v.digest
			}
			u := strings.TrimPrefix(v.path, "/charts/")
			if v.absolute {
				u = r.srv.URL + v.path
			}
			digestLine := "\n    digest: " + d
			if d == "none" {
				digestLine = "" // an index written by hand, without digests
			}
			fmt.Fprintf(&b, `  - apiVersion: v2
    appVersion: 1.16.0
    created: "2024-01-01T00:00:00Z"
    description: A Helm chart for Kubernetes%s
    name: %s
    type: application
    urls:
    - %s
    version: %s
`, digestLine, n, u, v.version)
		}
	}
	b.WriteString("generated: \"2024-01-01T00:00:00Z\"\n")
	r.files["/charts/index.yaml"] = []byte(b.String())
}

// semverLess orders the few versions the tests use (MAJOR.MINOR.PATCH with
// an optional -PRERELEASE).
func semverLess(a, b string) bool {
	key := func(v string) string {
		core, pre, _ := strings.Cut(v, "-")
		var x, y, z int
		fmt.Sscanf(core, "%d.%d.%d", &x, &y, &z)
		if pre == "" {
			pre = "~" // a release sorts after its prereleases
		}
		return fmt.Sprintf("%05d.%05d.%05d.%s", x, y, z, pre)
	}
	return key(a) < key(b)
}

// requests returns the number of requests of each path since the last call.
func (r *chartRepo) requests() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.reqs
	r.reqs = map[string]int{}
	return m
}

// buildChart packages a chart directory holding Chart.yaml (with extra
// lines appended) and a template, and returns the archive.
func buildChart(t *testing.T, name, version, extra string) []byte {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "Chart.yaml"), fmt.Sprintf("apiVersion: v2\nname: %s\nversion: %s\ntype: application\n%s", name, version, extra))
	write(t, filepath.Join(dir, "templates", "cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "+name+"\n")
	var buf bytes.Buffer
	if _, err := pack.PackageHelmDir(t.Context(), dir, &buf, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func plainOpts() bundle.Options {
	return bundle.Options{Transfer: transfer.Options{
		Connection: transfer.ConnectionOptions{PlainHTTP: true},
		Retry:      transfer.RetryOptions{Attempts: 1},
	}}
}

func syncFile(t *testing.T, dir, yaml, layoutDir string, opts bundle.Options) (*bundle.Result, error) {
	t.Helper()
	f, err := bundle.Load(writeBundle(t, dir, yaml))
	if err != nil {
		t.Fatal(err)
	}
	l, err := layout.OpenOrCreate(t.Context(), layoutDir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return bundle.Sync(t.Context(), f, l, opts)
}

// chartLayer returns the chart archive stored under name in the layout at
// dir.
func chartLayer(t *testing.T, dir, name string) []byte {
	t.Helper()
	ctx := t.Context()
	l, err := layout.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d, err := l.Resolve(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(testkit.FetchBytes(t, l, d), &m); err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != pack.HelmConfigMediaType || len(m.Layers) != 1 || m.Layers[0].MediaType != pack.HelmChartMediaType {
		t.Fatalf("%s is not stored as Helm stores a chart: %+v", name, m)
	}
	return testkit.FetchBytes(t, l, m.Layers[0])
}

// TestSyncChartRepo: charts of a classic chart repository by exact version
// and by range, with relative and absolute URLs; a re-sync asks for
// index.yaml only; --locked fetches the locked version without the index;
// a new version in the range is added.
func TestSyncChartRepo(t *testing.T) {
	repo := newChartRepo(t)
	hello, err := os.ReadFile("../testdata/example/hello-0.1.0.tgz")
	if err != nil {
		t.Fatal(err)
	}
	repo.add("hello", "0.1.0", hello, false)
	podinfo := map[string][]byte{}
	for _, v := range []string{"6.7.0", "6.8.1", "6.9.0-rc.1", "7.0.0"} {
		podinfo[v] = buildChart(t, "podinfo", v, "")
		repo.add("podinfo", v, podinfo[v], v == "6.7.0")
	}
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "bundle")
	yaml := fmt.Sprintf(`charts:
  - repo: %[1]s
    name: hello
    version: 0.1.0
  - repo: %[1]s/
    name: podinfo
    version: ^6.7.0
  - repo: %[1]s
    name: podinfo
    version: 6.7.0
`, repo.URL())
	base := repo.Host() + "/charts/"
	names := map[string][]byte{base + "hello:0.1.0": hello, base + "podinfo:6.8.1": podinfo["6.8.1"], base + "podinfo:6.7.0": podinfo["6.7.0"]}

	res, err := syncFile(t, dir, yaml, out, plainOpts())
	if err != nil {
		t.Fatal(err)
	}
	st := statuses(res)
	for n, tgz := range names {
		if st[n] != bundle.Added {
			t.Errorf("%s: %q, want added (%v)", n, st[n], st)
		}
		// Stored byte for byte as the repository serves it.
		if got := chartLayer(t, out, n); !bytes.Equal(got, tgz) {
			t.Errorf("%s: stored chart is not the repository's archive", n)
		}
	}
	if len(tags(t, out)) != 3 {
		t.Errorf("tags %v", tags(t, out))
	}
	got := repo.requests()
	want := map[string]int{"/charts/index.yaml": 1, "/charts/hello-0.1.0.tgz": 1, "/charts/podinfo-6.8.1.tgz": 1, "/dl/podinfo-6.7.0.tgz": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests %v, want %v (one index.yaml for one repository)", got, want)
	}
	lock, err := bundle.ReadLock(bundle.LockPath(filepath.Join(dir, "bundle.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	for _, le := range lock.Entries {
		tgz := names[le.Name]
		if tgz == nil || le.Resolved != "sha256:"+sha(tgz) || le.Version == "" || !strings.HasSuffix(le.Name, ":"+le.Version) || !strings.HasPrefix(le.URL, repo.srv.URL) {
			t.Errorf("lock entry %+v", le)
		}
	}

	// Nothing changed: index.yaml only.
	res, err = syncFile(t, dir, yaml, out, plainOpts())
	if err != nil {
		t.Fatal(err)
	}
	for n, s := range statuses(res) {
		if s != bundle.Unchanged {
			t.Errorf("re-sync: %s %s", n, s)
		}
	}
	if got := repo.requests(); fmt.Sprint(got) != fmt.Sprint(map[string]int{"/charts/index.yaml": 1}) {
		t.Errorf("re-sync requests %v, want index.yaml once", got)
	}

	// A new version in the range: the index moves, only it is fetched.
	podinfo["6.8.2"] = buildChart(t, "podinfo", "6.8.2", "description: newer\n")
	repo.add("podinfo", "6.8.2", podinfo["6.8.2"], false)
	res, err = syncFile(t, dir, yaml, out, plainOpts())
	if err != nil {
		t.Fatal(err)
	}
	if st := statuses(res); st[base+"podinfo:6.8.2"] != bundle.Added || st[base+"podinfo:6.7.0"] != bundle.Unchanged || st[base+"hello:0.1.0"] != bundle.Unchanged {
		t.Errorf("after 6.8.2: %v", st)
	}
	if got := repo.requests(); fmt.Sprint(got) != fmt.Sprint(map[string]int{"/charts/index.yaml": 1, "/charts/podinfo-6.8.2.tgz": 1}) {
		t.Errorf("requests %v", got)
	}

	// --locked into an empty layout: what the lock names, no index.
	locked := plainOpts()
	locked.Locked = true
	out2 := filepath.Join(t.TempDir(), "bundle")
	if _, err := syncFile(t, dir, yaml, out2, locked); err != nil {
		t.Fatal(err)
	}
	if got := repo.requests(); got["/charts/index.yaml"] != 0 || got["/charts/podinfo-6.8.2.tgz"] != 1 || len(got) != 3 {
		t.Errorf("--locked requests %v", got)
	}
	first, second := tags(t, out), tags(t, out2)
	if second[base+"podinfo:6.8.2"] == "" || second[base+"podinfo:6.8.2"] != first[base+"podinfo:6.8.2"] || len(second) != 3 {
		t.Errorf("--locked layout %v; first %v", second, first)
	}
	// A newer version in the index does not move --locked.
	repo.add("podinfo", "6.8.3", buildChart(t, "podinfo", "6.8.3", ""), false)
	res, err = syncFile(t, dir, yaml, out2, locked)
	if err != nil {
		t.Fatal(err)
	}
	if st := statuses(res); st[base+"podinfo:6.8.2"] != bundle.Unchanged || len(st) != 3 {
		t.Errorf("--locked after 6.8.3: %v", st)
	}
	// The old version stays until --prune.
	if tags(t, out)[base+"podinfo:6.8.1"] == "" {
		t.Error("podinfo 6.8.1 went without --prune")
	}
	prune := plainOpts()
	prune.Prune = true
	res, err = syncFile(t, dir, yaml, out, prune)
	if err != nil {
		t.Fatal(err)
	}
	ts := tags(t, out)
	if ts[base+"podinfo:6.8.1"] != "" || ts[base+"podinfo:6.8.2"] != "" || ts[base+"podinfo:6.8.3"] == "" {
		t.Errorf("after --prune: %v (%v)", ts, statuses(res))
	}
}

// TestSyncChartRepoErrors: a version or chart the repository does not
// have fails naming the file and line before anything else is fetched; a
// digest that does not match is refused and tags nothing.
func TestSyncChartRepoErrors(t *testing.T) {
	repo := newChartRepo(t)
	repo.add("podinfo", "6.7.0", buildChart(t, "podinfo", "6.7.0", ""), false)
	repo.add("podinfo", "7.0.0-rc.1", buildChart(t, "podinfo", "7.0.0-rc.1", ""), false)
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "bundle")
	// The image and the URL are on the chart server: a request for them
	// would show.
	head := fmt.Sprintf("images:\n  - ref: %s/apps/web:v1\ncharts:\n  - repo: %s\n    name: podinfo\n    version: 6.7.0\n", repo.Host(), repo.URL())
	tail := fmt.Sprintf("files:\n  - url: %s/tool.tgz\n    sha256: %s\n    name: tool:1\n", repo.srv.URL, strings.Repeat("a", 64))
	cases := []struct {
		name, chart, want string
	}{
		{"unknown version", "  - repo: %s\n    name: podinfo\n    version: 6.7.1\n", "bundle.yaml:7: the chart repository " + repo.URL() + " has no version 6.7.1 of chart podinfo (it has 7.0.0-rc.1, 6.7.0)"},
		{"range of none", "  - repo: %s\n    name: podinfo\n    version: '>=7.0.0'\n", "bundle.yaml:7: the chart repository " + repo.URL() + " has no version >=7.0.0"},
		{"unknown chart", "  - repo: %s\n    name: nginx\n    version: 1.0.0\n", "bundle.yaml:7: the chart repository " + repo.URL() + " has no chart nginx"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo.requests()
			_, err := syncFile(t, dir, head+fmt.Sprintf(c.chart, repo.URL())+tail, out, plainOpts())
			if !errors.Is(err, bundle.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if got := repo.requests(); fmt.Sprint(got) != fmt.Sprint(map[string]int{"/charts/index.yaml": 1}) {
				t.Errorf("requests %v, want index.yaml only", got)
			}
			if ts := tags(t, out); len(ts) != 0 {
				t.Errorf("tags %v", ts)
			}
		})
	}
	// A prerelease is picked when the range asks for one.
	if _, err := syncFile(t, dir, fmt.Sprintf("charts:\n  - repo: %s\n    name: podinfo\n    version: '>=7.0.0-0'\n", repo.URL()), out, plainOpts()); err != nil {
		t.Fatal(err)
	}
	if ts := tags(t, out); ts[repo.Host()+"/charts/podinfo:7.0.0-rc.1"] == "" {
		t.Errorf("tags %v, want podinfo 7.0.0-rc.1", ts)
	}

	// The index's digest does not match the archive.
	repo.mu.Lock()
	repo.versions["podinfo"][1].digest = strings.Repeat("0", 64)
	repo.writeIndex()
	repo.mu.Unlock()
	out = filepath.Join(t.TempDir(), "bundle")
	_, err := syncFile(t, dir, fmt.Sprintf("charts:\n  - repo: %s\n    name: podinfo\n    version: 6.7.0\n", repo.URL()), out, plainOpts())
	if !errors.Is(err, bundle.ErrDigestMismatch) || !strings.Contains(err.Error(), "bundle.yaml:2") || !strings.Contains(err.Error(), "the repository's index.yaml says "+strings.Repeat("0", 64)) {
		t.Fatalf("error %v", err)
	}
	if ts := tags(t, out); len(ts) != 0 {
		t.Errorf("tags %v after a digest mismatch", ts)
	}
}

// TestSyncChartImages: images: true adds the images a chart lists in
// artifacthub.io/images, with their platforms, recorded in the lock as the
// chart's; a re-sync transfers nothing; images: false drops them (--prune).
func TestSyncChartImages(t *testing.T) {
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	testkit.PushPlatformIndex(t, reg.Repository(t, "apps/web"), "v1", "linux/amd64", "linux/arm64")
	testkit.PushPlatformIndex(t, reg.Repository(t, "apps/sidecar"), "v2", "linux/amd64", "linux/arm64")
	proxy := testkit.StartProxy(t, reg.URL, testkit.ProxyOptions{})
	web, sidecar := proxy.Host+"/apps/web:v1", proxy.Host+"/apps/sidecar:v2"
	repo := newChartRepo(t)
	repo.add("app", "1.0.0", buildChart(t, "app", "1.0.0", fmt.Sprintf(`annotations:
  artifacthub.io/images: |
    - name: web
      image: %s
      platforms:
        - linux/arm64
    - name: sidecar
      image: %s
`, web, sidecar)), false)
	chart := repo.Host() + "/charts/app:1.0.0"
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "bundle")
	yaml := func(images bool) string {
		return fmt.Sprintf("charts:\n  - repo: %s\n    name: app\n    version: ~1.0.0\n    images: %v\n", repo.URL(), images)
	}
	res, err := syncFile(t, dir, yaml(true), out, plainOpts())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 3 || res.Entries[0].Name != chart || res.Entries[1].Name != web || res.Entries[2].Name != sidecar {
		t.Fatalf("entries %+v", res.Entries)
	}
	for _, e := range res.Entries {
		if e.Status != bundle.Added || e.Line != 2 {
			t.Errorf("entry %+v", e)
		}
	}
	lock, err := bundle.ReadLock(filepath.Join(dir, "bundle.lock"))
	if err != nil {
		t.Fatal(err)
	}
	if len(lock.Entries) != 3 {
		t.Fatalf("lock %+v", lock)
	}
	w, s := lock.Entries[1], lock.Entries[2]
	if w.Chart != chart || s.Chart != chart || w.Kind != bundle.KindImage {
		t.Errorf("lock entries %+v %+v do not belong to %s", w, s, chart)
	}
	// web is limited to linux/arm64 (a subset), sidecar is whole.
	if w.Resolved == w.Digest || !strings.Contains(w.Source, "platforms linux/arm64") || s.Resolved != s.Digest {
		t.Errorf("platforms: web %+v, sidecar %+v", w, s)
	}

	// Nothing changed: index.yaml, and the images' tags (HEAD).
	repo.requests()
	before := proxy.Stats()
	res, err = syncFile(t, dir, yaml(true), out, plainOpts())
	if err != nil {
		t.Fatal(err)
	}
	after := proxy.Stats()
	for n, st := range statuses(res) {
		if st != bundle.Unchanged {
			t.Errorf("re-sync: %s %s", n, st)
		}
	}
	if reqs := after.Requests - before.Requests; reqs != 2 || after.Down != before.Down {
		t.Errorf("re-sync: %d registry requests, %d bytes; want 2 HEADs", reqs, after.Down-before.Down)
	}
	if got := repo.requests(); fmt.Sprint(got) != fmt.Sprint(map[string]int{"/charts/index.yaml": 1}) {
		t.Errorf("re-sync requests %v", got)
	}

	// --locked fetches the images the lock names.
	locked := plainOpts()
	locked.Locked = true
	out2 := filepath.Join(t.TempDir(), "bundle")
	if _, err := syncFile(t, dir, yaml(true), out2, locked); err != nil {
		t.Fatal(err)
	}
	if a, b := tags(t, out), tags(t, out2); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("--locked layout %v, want %v", b, a)
	}

	// images: false: the images are no longer listed; --prune drops them.
	prune := plainOpts()
	prune.Prune = true
	res, err = syncFile(t, dir, yaml(false), out, prune)
	if err != nil {
		t.Fatal(err)
	}
	if st := statuses(res); st[web] != bundle.Pruned || st[sidecar] != bundle.Pruned {
		t.Errorf("statuses %v", st)
	}
	if ts := tags(t, out); len(ts) != 1 || ts[chart] == "" {
		t.Errorf("tags %v", ts)
	}
}

// TestSyncChartDir: a chart directory is packaged as helm package does
// (NAME/ prefix, .helmignore), the same digest every time.
func TestSyncChartDir(t *testing.T) {
	dir := t.TempDir()
	chart := filepath.Join(dir, "mychart")
	write(t, filepath.Join(chart, "Chart.yaml"), "apiVersion: v2\nname: mychart\nversion: 1.2.3\n")
	write(t, filepath.Join(chart, "values.yaml"), "replicas: 1\n")
	write(t, filepath.Join(chart, "templates", "deploy.yaml"), "kind: Deployment\n")
	write(t, filepath.Join(chart, "templates", ".swp"), "editor junk\n")
	write(t, filepath.Join(chart, "notes.bak"), "old\n")
	write(t, filepath.Join(chart, "secret", "key"), "do not ship\n")
	write(t, filepath.Join(chart, ".helmignore"), "# editor files\n*.bak\nsecret/\n")
	yaml := "charts:\n  - path: ./mychart\n"
	name := "bundle.local/charts/mychart:1.2.3"

	var digests []string
	for range 2 {
		out := filepath.Join(t.TempDir(), "bundle")
		res, err := syncFile(t, dir, yaml, out, plainOpts())
		if err != nil {
			t.Fatal(err)
		}
		if st := statuses(res); st[name] != bundle.Added || len(st) != 1 {
			t.Fatalf("statuses %v", st)
		}
		digests = append(digests, tags(t, out)[name])
		tgz := chartLayer(t, out, name)
		var files []string
		zr, err := gzip.NewReader(bytes.NewReader(tgz))
		if err != nil {
			t.Fatal(err)
		}
		if zr.Comment != "Helm" {
			t.Errorf("gzip comment %q, want Helm's", zr.Comment)
		}
		for _, e := range testkit.TarEntries(t, zr) {
			files = append(files, e.Header.Name)
		}
		want := []string{"mychart/Chart.yaml", "mychart/.helmignore", "mychart/templates/deploy.yaml", "mychart/values.yaml"}
		if fmt.Sprint(files) != fmt.Sprint(want) {
			t.Errorf("archive holds %v, want %v", files, want)
		}
	}
	if digests[0] == "" || digests[0] != digests[1] {
		t.Errorf("digests %v, want one digest twice", digests)
	}
	// A re-sync into the same layout after an ignored file changed: same
	// digest, unchanged.
	out := filepath.Join(t.TempDir(), "bundle")
	if _, err := syncFile(t, dir, yaml, out, plainOpts()); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(chart, "notes.bak"), "older\n")
	res, err := syncFile(t, dir, yaml, out, plainOpts())
	if err != nil {
		t.Fatal(err)
	}
	if st := statuses(res); st[name] != bundle.Unchanged || tags(t, out)[name] != digests[0] {
		t.Errorf("after an ignored change: %v", st)
	}
}

// TestSyncChartRepoNoDigest: an index without digests: the archive's sha256
// is computed and locked, a re-sync asks for index.yaml only, and --locked
// checks the archive against the locked sha256.
func TestSyncChartRepoNoDigest(t *testing.T) {
	repo := newChartRepo(t)
	tgz := buildChart(t, "plain", "1.0.0", "")
	repo.add("plain", "1.0.0", tgz, false)
	repo.mu.Lock()
	repo.versions["plain"][0].digest = "none"
	repo.writeIndex()
	if strings.Contains(string(repo.files["/charts/index.yaml"]), "digest") {
		t.Fatal("the index has a digest")
	}
	repo.mu.Unlock()
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "bundle")
	yaml := fmt.Sprintf("charts:\n  - repo: %s\n    name: plain\n    version: 1.0.0\n", repo.URL())
	if _, err := syncFile(t, dir, yaml, out, plainOpts()); err != nil {
		t.Fatal(err)
	}
	lock, err := bundle.ReadLock(filepath.Join(dir, "bundle.lock"))
	if err != nil || len(lock.Entries) != 1 || lock.Entries[0].Resolved != "sha256:"+sha(tgz) {
		t.Fatalf("lock %+v, %v", lock, err)
	}
	repo.requests()
	res, err := syncFile(t, dir, yaml, out, plainOpts())
	if err != nil || res.Entries[0].Status != bundle.Unchanged {
		t.Fatalf("re-sync %+v, %v", res, err)
	}
	if got := repo.requests(); fmt.Sprint(got) != fmt.Sprint(map[string]int{"/charts/index.yaml": 1}) {
		t.Errorf("re-sync requests %v", got)
	}
	// The archive changes under the same version: --locked refuses it.
	repo.mu.Lock()
	repo.files["/charts/plain-1.0.0.tgz"] = buildChart(t, "plain", "1.0.0", "description: changed\n")
	repo.mu.Unlock()
	locked := plainOpts()
	locked.Locked = true
	_, err = syncFile(t, dir, yaml, filepath.Join(t.TempDir(), "bundle"), locked)
	if !errors.Is(err, bundle.ErrDigestMismatch) || !strings.Contains(err.Error(), "bundle.yaml:2") || !strings.Contains(err.Error(), "the lock file says "+sha(tgz)) {
		t.Errorf("--locked with a changed archive: %v", err)
	}
	// A repository that is not there fails naming the line, before anything.
	_, err = syncFile(t, dir, fmt.Sprintf("charts:\n  - repo: %s/nope\n    name: plain\n    version: 1.0.0\n", repo.srv.URL), out, plainOpts())
	if err == nil || !strings.Contains(err.Error(), "bundle.yaml:2: chart plain: chart repository index "+repo.srv.URL+"/nope/index.yaml: 404") {
		t.Errorf("missing repository: %v", err)
	}
}

// TestSyncHelmIndexedRepo serves testdata/helmrepo, a repository whose
// index.yaml `helm repo index` wrote for charts `helm package` made:
// ^6.7.0 picks 6.8.1 (not 6.9.0-rc.1, not 7.0.0), each archive is checked
// against the index's digest and stored as it is.
func TestSyncHelmIndexedRepo(t *testing.T) {
	var mu sync.Mutex
	reqs := map[string]int{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	files := http.StripPrefix("/stable", http.FileServer(http.Dir("../testdata/helmrepo")))
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reqs[r.URL.Path]++
		mu.Unlock()
		files.ServeHTTP(w, r)
	})}}
	srv.Start()
	defer srv.Close()
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "bundle")
	yaml := fmt.Sprintf("charts:\n  - repo: %[1]s/stable\n    name: podinfo\n    version: ^6.7.0\n  - repo: %[1]s/stable\n    name: hello\n    version: 0.1.0\n", srv.URL)
	if _, err := syncFile(t, dir, yaml, out, plainOpts()); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	for name, file := range map[string]string{host + "/stable/podinfo:6.8.1": "podinfo-6.8.1.tgz", host + "/stable/hello:0.1.0": "hello-0.1.0.tgz"} {
		want, err := os.ReadFile(filepath.Join("../testdata/helmrepo", file))
		if err != nil {
			t.Fatal(err)
		}
		if got := chartLayer(t, out, name); !bytes.Equal(got, want) {
			t.Errorf("%s is not %s", name, file)
		}
	}
	index, _ := os.ReadFile("../testdata/helmrepo/index.yaml")
	lock, err := bundle.ReadLock(filepath.Join(dir, "bundle.lock"))
	if err != nil || len(lock.Entries) != 2 || !strings.Contains(string(index), "digest: "+strings.TrimPrefix(lock.Entries[0].Resolved, "sha256:")) || lock.Entries[0].Version != "6.8.1" {
		t.Errorf("lock %+v, %v", lock, err)
	}
	want := map[string]int{"/stable/index.yaml": 1, "/stable/podinfo-6.8.1.tgz": 1, "/stable/hello-0.1.0.tgz": 1}
	if fmt.Sprint(reqs) != fmt.Sprint(want) {
		t.Errorf("requests %v, want %v", reqs, want)
	}
}
