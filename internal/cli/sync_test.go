package cli

import (
	"encoding/json"
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
