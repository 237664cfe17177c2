package pack_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/pack"
)

// unpackChart extracts the chart archive at tgz into a new directory and
// returns the chart's directory.
func unpackChart(t *testing.T, tgz string) string {
	t.Helper()
	f, err := os.Open(tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, e := range testkit.TarEntries(t, zr) {
		if e.Header.Typeflag == tar.TypeReg {
			writeFile(t, filepath.Join(dir, filepath.FromSlash(e.Header.Name)), string(e.Body))
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("%s holds %d top directories", tgz, len(entries))
	}
	return filepath.Join(dir, entries[0].Name())
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

type dirTarEntry struct {
	name string
	mode int64
	mod  time.Time
	body string
}

func readTgz(t *testing.T, b []byte) ([]dirTarEntry, *gzip.Reader) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out []dirTarEntry
	for _, e := range testkit.TarEntries(t, zr) {
		out = append(out, dirTarEntry{e.Header.Name, e.Header.Mode, e.Header.ModTime, string(e.Body)})
	}
	return out, zr
}

// TestPackageHelmDir packages the hello chart unpacked, with a .helmignore:
// NAME/ entries, Chart.yaml first, Helm's gzip header, mode 0644, the
// ignored files left out, the same bytes every time; PackHelm stores it
// with the config Helm writes for hello.
func TestPackageHelmDir(t *testing.T) {
	dir := unpackChart(t, helloChart)
	writeFile(t, filepath.Join(dir, ".helmignore"), "# comment\n\n*.bak\nsecret/\n/top.txt\ndocs/*.md\n")
	for _, f := range []string{"old.bak", "templates/x.bak", "secret/key", "top.txt", "sub/top.txt", "docs/a.md", "docs/deep/b.md", "templates/.hidden", "templates/NOTES.txt"} {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(f)), f+"\n")
	}
	if err := os.Symlink(filepath.Join(dir, "values.yaml"), filepath.Join(dir, "linked.yaml")); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 500, time.UTC)
	var a, b bytes.Buffer
	meta, err := pack.PackageHelmDir(t.Context(), dir, &a, mtime)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Name != "hello" || meta.Version != "0.1.0" {
		t.Errorf("metadata %+v", meta)
	}
	if _, err := pack.PackageHelmDir(t.Context(), dir, &b, mtime); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two packagings differ")
	}
	entries, zr := readTgz(t, a.Bytes())
	if zr.Comment != "Helm" || string(zr.Extra) != "+aHR0cHM6Ly95b3V0dS5iZS96OVV6MWljandyTQo=" {
		t.Errorf("gzip header comment %q extra %q, want Helm's", zr.Comment, zr.Extra)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.name)
		if e.mode != 0o644 || !e.mod.Equal(mtime.Truncate(time.Second)) {
			t.Errorf("%s: mode %o mtime %v", e.name, e.mode, e.mod)
		}
	}
	want := "hello/Chart.yaml hello/.helmignore hello/docs/deep/b.md hello/linked.yaml hello/sub/top.txt hello/templates/NOTES.txt hello/templates/deployment.yaml hello/templates/service.yaml hello/values.yaml"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("archive holds\n%s\nwant\n%s", got, want)
	}
	values, _ := os.ReadFile(filepath.Join(dir, "values.yaml"))
	chartYAML, _ := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if entries[0].body != string(chartYAML) || entries[3].body != string(values) {
		t.Error("Chart.yaml or the linked file was not stored as it is")
	}

	// Stored as Helm stores it: the config Helm writes for hello.
	tgz := filepath.Join(t.TempDir(), "hello-0.1.0.tgz")
	if err := os.WriteFile(tgz, a.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	l := testkit.NewLayout(t)
	r, err := pack.PackHelm(t.Context(), l, "", tgz, pack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := packedManifest(t, l, r)
	if got := string(blob(t, l, m.Config)); got != helloConfigJSON {
		t.Errorf("config %s, want %s", got, helloConfigJSON)
	}

	// Another mtime, other bytes.
	var c bytes.Buffer
	if _, err := pack.PackageHelmDir(t.Context(), dir, &c, mtime.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Error("the mtime is not recorded")
	}
}

// TestPackageHelmDirRefuses: what is no chart, or what this does not
// package, fails.
func TestPackageHelmDirRefuses(t *testing.T) {
	cases := []struct {
		name  string
		setup func(dir string)
		want  string
		not   bool // wraps ErrNotHelmChart
	}{
		{"no Chart.yaml", func(dir string) {}, "no Chart.yaml", true},
		{"no version", func(dir string) { writeFile(t, filepath.Join(dir, "Chart.yaml"), "apiVersion: v2\nname: x\n") }, "version", true},
		{"double star", func(dir string) { writeFile(t, filepath.Join(dir, ".helmignore"), "**/x\n") }, ".helmignore line 1: double-star", true},
		{"ignores Chart.yaml", func(dir string) { writeFile(t, filepath.Join(dir, ".helmignore"), "*.yaml\n") }, "leaves out Chart.yaml", true},
		{"linked directory", func(dir string) {
			os.Mkdir(filepath.Join(dir, "real"), 0o755)
			os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "templates"))
		}, "templates is a symbolic link to a directory", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.name != "no Chart.yaml" && c.name != "no version" {
				writeFile(t, filepath.Join(dir, "Chart.yaml"), "apiVersion: v2\nname: x\nversion: 1.0.0\n")
			}
			c.setup(dir)
			_, err := pack.PackageHelmDir(t.Context(), dir, io.Discard, time.Unix(0, 0))
			if err == nil || !strings.Contains(err.Error(), c.want) || c.not != errors.Is(err, pack.ErrNotHelmChart) {
				t.Errorf("error %v, want one saying %q", err, c.want)
			}
		})
	}
}
