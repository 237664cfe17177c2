package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSyncCLI syncs a bundle of one file twice: the table says added, then
// unchanged; --json gives the same entries; a bad bundle exits 1 naming
// file:line.
func TestSyncCLI(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "install.sh"), []byte("echo hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bf := filepath.Join(dir, "bundle.yaml")
	if err := os.WriteFile(bf, []byte("files:\n  - path: install.sh\n    name: tools/install:1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	code, stdout, stderr := runCLI(t, "sync", "-f", bf, out)
	if code != 0 || !strings.Contains(stdout, "bundle.local/tools/install:1.0") || !strings.Contains(stdout, "added") {
		t.Fatalf("sync: %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "file bundle.local/tools/install:1.0 (line 2)") {
		t.Errorf("no progress line: %s", stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "bundle.lock")); err != nil {
		t.Errorf("no lock: %v", err)
	}
	code, stdout, _ = runCLI(t, "sync", "-f", bf, out, "--json")
	var doc struct {
		Entries []struct{ Name, Kind, Status, Digest string }
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &doc) != nil || len(doc.Entries) != 1 ||
		doc.Entries[0].Status != "unchanged" || doc.Entries[0].Kind != "file" || !strings.HasPrefix(doc.Entries[0].Digest, "sha256:") {
		t.Errorf("sync --json: %d %s", code, stdout)
	}
	if err := os.WriteFile(bf, []byte("files:\n  - path: install.sh\n    nme: x:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, "sync", "-f", bf, out)
	if code != 1 || !strings.Contains(stderr, bf+":3: unknown key \"nme\"") {
		t.Errorf("bad bundle: %d %s", code, stderr)
	}
	if code, _, _ = runCLI(t, "sync", out); code != 2 {
		t.Errorf("no -f: exit %d, want 2", code)
	}
}

// TestSyncCLIChartRepo: a chart of a chart repository by range, and a
// chart directory; a version the repository does not have exits 1 naming
// file:line.
func TestSyncCLIChartRepo(t *testing.T) {
	hello, err := os.ReadFile("../../testdata/example/hello-0.1.0.tgz")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(hello)
	index := "apiVersion: v1\nentries:\n  hello:\n  - apiVersion: v2\n    digest: " + hex.EncodeToString(sum[:]) +
		"\n    name: hello\n    urls:\n    - hello-0.1.0.tgz\n    version: 0.1.0\ngenerated: \"2024-01-01T00:00:00Z\"\n"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/repo/index.yaml":
			w.Write([]byte(index))
		case "/repo/hello-0.1.0.tgz":
			w.Write(hello)
		default:
			http.NotFound(w, r)
		}
	})}}
	srv.Start()
	defer srv.Close()

	dir := t.TempDir()
	chart := filepath.Join(dir, "mine")
	for name, content := range map[string]string{"Chart.yaml": "apiVersion: v2\nname: mine\nversion: 2.0.0\n", "templates/cm.yaml": "kind: ConfigMap\n"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(chart, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(chart, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bf := filepath.Join(dir, "bundle.yaml")
	write := func(version string) {
		b := "charts:\n  - repo: " + srv.URL + "/repo\n    name: hello\n    version: '" + version + "'\n  - path: ./mine\n"
		if err := os.WriteFile(bf, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("~0.1")
	out := filepath.Join(dir, "out")
	code, stdout, stderr := runCLI(t, "sync", "-f", bf, out)
	host := strings.TrimPrefix(srv.URL, "http://")
	if code != 0 || !strings.Contains(stdout, host+"/repo/hello:0.1.0") || !strings.Contains(stdout, "bundle.local/charts/mine:2.0.0") || strings.Count(stdout, "added") != 2 {
		t.Fatalf("sync: %d\n%s\n%s", code, stdout, stderr)
	}
	write("0.2.0")
	code, _, stderr = runCLI(t, "sync", "-f", bf, out)
	if code != 1 || !strings.Contains(stderr, bf+":2: the chart repository "+srv.URL+"/repo has no version 0.2.0 of chart hello (it has 0.1.0)") {
		t.Errorf("unknown version: %d %s", code, stderr)
	}
}
