package bundle_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocipack/ocipack/bundle"
)

// writeBundle writes content as dir/bundle.yaml and returns its path.
func writeBundle(t *testing.T, dir, content string) string {
	t.Helper()
	p := filepath.Join(dir, "bundle.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadValid(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "install.sh"), []byte("echo hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	chart, _ := filepath.Abs("../testdata/example/hello-0.1.0.tgz")
	p := writeBundle(t, dir, `images:
  - ref: nginx:1.27
    platforms: [linux/amd64, linux/arm64]
  - ref: registry.example/app@sha256:`+strings.Repeat("a", 64)+`
charts:
  - ref: oci://registry.example/charts/podinfo
    version: 6.7.0+1
  - path: `+chart+`
  - repo: https://Charts.example:8443/Stable/
    name: podinfo
    version: ^6.7.0
    images: true
files:
  - path: ./install.sh
    name: tools/install:1.0
  - url: https://downloads.example/tool-1.0.tar.gz
    sha256: `+strings.Repeat("B", 64)+`
    name: v1
`)
	f, err := bundle.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		kind bundle.Kind
		line int
		name string
	}{
		{bundle.KindImage, 2, "docker.io/library/nginx:1.27"},
		{bundle.KindImage, 4, "registry.example/app@sha256:" + strings.Repeat("a", 64)},
		{bundle.KindChart, 6, "registry.example/charts/podinfo:6.7.0_1"},
		{bundle.KindChart, 8, "bundle.local/charts/hello:0.1.0"},
		{bundle.KindChart, 9, "charts.example:8443/stable/podinfo:^6.7.0"},
		{bundle.KindFile, 14, "bundle.local/tools/install:1.0"},
		{bundle.KindFile, 16, "v1"},
	}
	if len(f.Entries) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(f.Entries), len(want), f.Entries)
	}
	for i, w := range want {
		e := f.Entries[i]
		if e.Kind != w.kind || e.Line != w.line || e.Name != w.name {
			t.Errorf("entry %d: %s line %d %q, want %s line %d %q", i, e.Kind, e.Line, e.Name, w.kind, w.line, w.name)
		}
	}
	if len(f.Entries[0].Platforms) != 2 || f.Entries[0].Platforms[1].Architecture != "arm64" {
		t.Errorf("platforms %+v", f.Entries[0].Platforms)
	}
	if f.Entries[2].Ref != "registry.example/charts/podinfo:6.7.0_1" {
		t.Errorf("chart ref %q", f.Entries[2].Ref)
	}
	if e := f.Entries[4]; e.Repo != "https://Charts.example:8443/Stable/" || e.ChartName != "podinfo" || e.Version != "^6.7.0" || !e.Images {
		t.Errorf("chart repository entry %+v", e)
	}
	if e := f.Entries[5]; e.Path != filepath.Join(dir, "install.sh") {
		t.Errorf("path %q not made absolute against the bundle's directory", e.Path)
	}
	if e := f.Entries[6]; e.SHA256 != strings.Repeat("b", 64) {
		t.Errorf("sha256 %q not lower-cased", e.SHA256)
	}
}

// TestLoadErrors: each mistake fails before anything is fetched, naming
// the file and the line.
func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "chartdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, yaml, want string
		unsupported      bool
	}{
		{"unknown top key", "images: []\nextras: 1\n", ":2: unknown key \"extras\"", false},
		{"unknown item key", "images:\n  - ref: a/b:1\n    tag: x\n", ":3: unknown key \"tag\"", false},
		{"no tag", "images:\n  - ref: registry.example/app\n", ":2: ref \"registry.example/app\" names no tag or digest", false},
		{"bad platform", "images:\n  - ref: a.example/b:1\n    platforms:\n      - linux\n", ":4: platform \"linux\"", false},
		{"url without sha", "files:\n  - url: https://x.example/a\n    name: a:1\n", ":2: url https://x.example/a needs its sha256", false},
		{"bad sha", "files:\n  - url: https://x.example/a\n    sha256: abc\n    name: a:1\n", ":3: sha256 \"abc\"", false},
		{"missing path", "files:\n  - path: ./nope\n    name: a:1\n", ":2: path ./nope", false},
		{"missing chart", "charts:\n  - path: ./nope.tgz\n", ":2: chart path ./nope.tgz", false},
		{"chart without version", "charts:\n  - ref: oci://a.example/c/d\n", ":2: chart oci://a.example/c/d needs a version", false},
		{"chart ref with tag", "charts:\n  - ref: oci://a.example/c/d:1\n    version: 1.0.0\n", ":2: chart ref", false},
		{"duplicate name", "images:\n  - ref: a.example/b:1\n  - ref: a.example/b:1\n", ":3: image is named a.example/b:1, as the entry of line 2 is", false},
		{"empty", "images: []\n", "lists no images", false},
		{"not a list", "images: nginx\n", ":1: images is a list", false},
		{"chart dir without Chart.yaml", "charts:\n  - path: ./chartdir\n", ":2: chart path ./chartdir: " + filepath.Join(dir, "chartdir") + ": not a Helm chart: the directory has no Chart.yaml", false},
		{"chart repo bad range", "charts:\n  - repo: https://charts.example\n    name: podinfo\n    version: '>>6'\n", ":4: version \">>6\" is neither a version nor a semver range", false},
		{"chart repo without name", "charts:\n  - repo: https://charts.example\n    version: ^6.0.0\n", ":2: a chart of a chart repository needs name: and version:", false},
		{"chart repo not http", "charts:\n  - repo: oci://charts.example\n    name: a\n    version: 1.0.0\n", ":2: repo \"oci://charts.example\": give the chart repository's http:// or https:// URL", false},
		{"chart repo images", "charts:\n  - repo: https://charts.example\n    name: a\n    version: 1.0.0\n    images: yes please\n", ":5: images is true or false", false},
		{"chart repo with path", "charts:\n  - repo: https://charts.example\n    path: ./chartdir\n", ":2: a chart has one of ref, repo or path", false},
		{"images on a local chart", "charts:\n  - path: ./chartdir\n    images: true\n", ":2: a local chart takes only path", false},
		{"bad name", "files:\n  - url: https://x.example/a\n    sha256: " + strings.Repeat("a", 64) + "\n    name: 'no good'\n", ":4: name \"no good\"", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeBundle(t, dir, c.yaml)
			_, err := bundle.Load(p)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name %s and say %q", err, p, c.want)
			}
			if c.unsupported != errors.Is(err, bundle.ErrUnsupported) || !c.unsupported && !errors.Is(err, bundle.ErrInvalid) {
				t.Errorf("error %q: unsupported=%v invalid=%v", err, errors.Is(err, bundle.ErrUnsupported), errors.Is(err, bundle.ErrInvalid))
			}
		})
	}
}

func TestLockPath(t *testing.T) {
	if got := bundle.LockPath(filepath.Join("a", "bundle.yaml")); got != filepath.Join("a", "bundle.lock") {
		t.Errorf("LockPath = %q", got)
	}
}

// TestRepoChartName: the names of charts of chart repositories, and the
// URLs Helm resolves.
func TestRepoChartName(t *testing.T) {
	for _, c := range []struct{ repo, chart, version, want string }{
		{"https://charts.example/stable", "podinfo", "6.7.0", "charts.example/stable/podinfo:6.7.0"},
		{"https://charts.example/stable/", "podinfo", "6.7.0+up1", "charts.example/stable/podinfo:6.7.0_up1"},
		{"https://user:pw@Charts.Example:8443/~Team/Helm%20Charts/?x=1", "PodInfo", "1.0.0", "charts.example:8443/team/helm-charts/podinfo:1.0.0"},
		{"http://127.0.0.1:8080", "a", "1.0.0", "127.0.0.1:8080/a:1.0.0"},
	} {
		got, err := bundle.RepoChartName(c.repo, c.chart, c.version)
		if err != nil || got != c.want {
			t.Errorf("RepoChartName(%q, %q, %q) = %q, %v; want %q", c.repo, c.chart, c.version, got, err, c.want)
		}
	}
	if got, err := bundle.RepoChartName("https://charts/x", "a", "1.0.0"); err == nil {
		t.Errorf("a host without dot or port gave %q", got)
	}
	for _, c := range []struct{ repo, ref, want string }{
		{"https://charts.example/stable", "podinfo-6.7.0.tgz", "https://charts.example/stable/podinfo-6.7.0.tgz"},
		{"https://charts.example/stable/", "podinfo-6.7.0.tgz", "https://charts.example/stable/podinfo-6.7.0.tgz"},
		{"https://charts.example/stable?token=t", "../dl/p.tgz", "https://charts.example/dl/p.tgz?token=t"},
		{"https://charts.example/stable", "https://cdn.example/p.tgz", "https://cdn.example/p.tgz"},
	} {
		if got, err := bundle.ResolveChartURL(c.repo, c.ref); err != nil || got != c.want {
			t.Errorf("ResolveChartURL(%q, %q) = %q, %v; want %q", c.repo, c.ref, got, err, c.want)
		}
	}
	if got, _ := bundle.IndexURL("https://charts.example/stable/"); got != "https://charts.example/stable/index.yaml" {
		t.Errorf("IndexURL = %q", got)
	}
}
