package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLIIn runs the command line in-process with stdin.
func runCLIIn(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// TestSignCLI: key generate, sign, verify --key, as a release team and the
// far side of the air gap run them.
func TestSignCLI(t *testing.T) {
	dir := t.TempDir()
	lay := filepath.Join(dir, "bundle")
	f := filepath.Join(dir, "a.txt")
	if err := os.WriteFile(f, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"v1", "v2"} {
		if code, _, errOut := runCLI(t, "pack", "-q", lay+":"+tag, f+":application/vnd.example."+tag); code != 0 {
			t.Fatalf("pack: %s", errOut)
		}
	}
	key := filepath.Join(dir, "cosign")
	other := filepath.Join(dir, "other")

	// No password anywhere (and no terminal): a usage error.
	t.Setenv("COSIGN_PASSWORD", "") // restored at the end
	os.Unsetenv("COSIGN_PASSWORD")
	if code, _, errOut := runCLI(t, "key", "generate", key); code != 2 || !strings.Contains(errOut, "COSIGN_PASSWORD") {
		t.Fatalf("key generate without a password: exit %d, %q", code, errOut)
	}
	if code, out, errOut := runCLIIn(t, "pw\n", "key", "generate", key, "--password-stdin"); code != 0 || !strings.Contains(out, "cosign.key") {
		t.Fatalf("key generate: exit %d, %q %q", code, out, errOut)
	}
	if code, _, errOut := runCLIIn(t, "pw\n", "key", "generate", key, "--password-stdin"); code != 1 || !strings.Contains(errOut, "remove it first") {
		t.Errorf("key generate over existing files: exit %d, %q", code, errOut)
	}
	t.Setenv("COSIGN_PASSWORD", "")
	if code, _, errOut := runCLI(t, "key", "generate", other); code != 0 {
		t.Fatalf("key generate, empty COSIGN_PASSWORD: %s", errOut)
	}

	// A wrong password is refused, nothing signed.
	if code, _, errOut := runCLIIn(t, "nope\n", "sign", lay+":v1", "--key", key+".key", "--password-stdin"); code != 1 || !strings.Contains(errOut, "wrong password") {
		t.Errorf("wrong password: exit %d, %q", code, errOut)
	}
	if code, out, errOut := runCLIIn(t, "pw\n", "sign", lay+":v1", "--key", key+".key", "--password-stdin"); code != 0 || !strings.HasPrefix(out, "signed v1 (sha256:") {
		t.Fatalf("sign: exit %d, %q %q", code, out, errOut)
	}
	if code, out, _ := runCLIIn(t, "pw", "sign", lay+":v1", "--key", key+".key", "--password-stdin"); code != 0 || !strings.Contains(out, "already signed with this key") {
		t.Errorf("sign again: exit %d, %q", code, out)
	}

	code, out, errOut := runCLI(t, "verify", lay+":v1", "--key", key+".pub")
	if code != 0 || !strings.Contains(out, "signed: v1 (sha256:") || !strings.Contains(out, "by key "+key+".pub") {
		t.Errorf("verify v1: exit %d, %q %q", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "verify", lay, "--key", other+".pub", "--key", key+".pub")
	if code != 1 || !strings.Contains(out, "problem: v2 (sha256:") || !strings.Contains(out, "not signed") || !strings.Contains(errOut, "1 entry without a valid signature") {
		t.Errorf("verify all, v2 unsigned: exit %d, %q %q", code, out, errOut)
	}
	code, out, _ = runCLI(t, "verify", lay+":v1", "--key", other+".pub")
	if code != 1 || !strings.Contains(out, "no valid signature") || !strings.Contains(out, "not made by the key "+other+".pub") {
		t.Errorf("verify with another key: exit %d, %q", code, out)
	}
	// Without signature flags verify is what it was.
	if code, _, errOut := runCLI(t, "verify", lay); code != 0 {
		t.Errorf("plain verify of a signed layout: %s", errOut)
	}

	if code, out, errOut := runCLIIn(t, "", "sign", lay, "--all-tags", "--key", other+".key"); code != 0 || !strings.Contains(out, "signed v2") || !strings.Contains(out, "signed v1") {
		t.Fatalf("sign --all-tags: exit %d, %q %q", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "verify", lay, "--key", other+".pub", "--json"); code != 0 || !strings.Contains(out, `"signedBy"`) {
		t.Errorf("verify --json after --all-tags: exit %d, %q %q", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "sign", lay, "--key", other+".key"); code != 2 || !strings.Contains(errOut, "has 2 tags") {
		t.Errorf("sign of a layout with two tags: exit %d, %q", code, errOut)
	}

	// The signatures travel in an archive and verify there.
	tarPath := filepath.Join(dir, "bundle.tar")
	if code, _, errOut := runCLI(t, "export", "-q", lay, tarPath); code != 0 {
		t.Fatalf("export: %s", errOut)
	}
	if code, out, errOut := runCLI(t, "verify", tarPath, "--key", key+".pub"); code != 1 || !strings.Contains(out, "signed: v1") || !strings.Contains(out, "problem: v2") {
		t.Errorf("verify archive: exit %d, %q %q", code, out, errOut)
	}
	imported := filepath.Join(dir, "far")
	if code, _, errOut := runCLI(t, "import", "-q", tarPath, imported); code != 0 {
		t.Fatalf("import: %s", errOut)
	}
	if code, out, errOut := runCLI(t, "verify", imported+":v2", "--key", other+".pub"); code != 0 {
		t.Errorf("verify after import: exit %d, %q %q", code, out, errOut)
	}

	// Usage errors.
	for _, c := range [][]string{
		{"sign", lay + ":v1"},
		{"sign", lay + ":v1", "--all-tags", "--key", key + ".key"},
		{"verify", lay, "--certificate-identity", "a@b"},
		{"verify", lay, "--trusted-root", f},
		{"key", "make"},
	} {
		if code, _, errOut := runCLI(t, c...); code != 2 {
			t.Errorf("%v: exit %d, %q, want a usage error", c, code, errOut)
		}
	}
}
