package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSyncStoredCredential: a bundle URL on a server that wants a password
// is refused until `login --no-verify` stores the credential for its host;
// then sync sends it there and the file arrives.
func TestSyncStoredCredential(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	content := []byte("a tool behind a password\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "ci" || p != "t0ken" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write(content)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	sum := sha256.Sum256(content)

	dir := t.TempDir()
	bf := filepath.Join(dir, "bundle.yaml")
	if err := os.WriteFile(bf, []byte("files:\n  - url: "+srv.URL+"/tool.txt\n    sha256: "+hex.EncodeToString(sum[:])+"\n    name: tools/tool:1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if code, stdout, stderr := runCLI(t, "sync", "-f", bf, out, "--plain-http"); code != 1 || !strings.Contains(stderr, "401") && !strings.Contains(stderr, "nauthorized") {
		t.Fatalf("sync without a stored credential: %d\n%s\n%s", code, stdout, stderr)
	}

	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"login", host, "-u", "ci", "--password-stdin", "--no-verify"}, strings.NewReader("t0ken\n"), &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "credential stored (not checked): "+host) {
		t.Fatalf("login --no-verify: %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if code, stdout, stderr := runCLI(t, "sync", "-f", bf, out, "--plain-http"); code != 0 || !strings.Contains(stdout, "bundle.local/tools/tool:1.0") {
		t.Fatalf("sync with the stored credential: %d\n%s\n%s", code, stdout, stderr)
	}
	// Without --plain-http the credential is not sent over plain HTTP.
	if code, _, _ := runCLI(t, "sync", "-f", bf, filepath.Join(dir, "out2")); code != 1 {
		t.Errorf("sync over plain HTTP without --plain-http: exit %d, want 1 (no credential sent)", code)
	}
}
