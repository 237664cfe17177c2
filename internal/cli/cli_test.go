package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the command line in-process.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestHelpBoolFlags: every command's --help lists its boolean flags as
// --json, without pflag's [=true|false] (nor any [=...]).
func TestHelpBoolFlags(t *testing.T) {
	for _, c := range commands() {
		code, out, errOut := runCLI(t, c.name, "--help")
		if code != 0 || errOut != "" {
			t.Fatalf("%s --help: exit %d, stderr %q", c.name, code, errOut)
		}
		if strings.Contains(out, "[=") {
			t.Errorf("%s --help lists a flag with [=...]:\n%s", c.name, out)
		}
		if !strings.Contains(out, "\n  -q, --quiet ") || !strings.Contains(out, "\n  -h, --help ") {
			t.Errorf("%s --help does not list -q, --quiet and -h, --help:\n%s", c.name, out)
		}
	}
	_, out, _ := runCLI(t, "ls", "--help")
	if !strings.Contains(out, "      --json    print JSON for scripts\n") {
		t.Errorf("ls --help does not list --json aligned:\n%s", out)
	}
}

// TestBoolFlagsStillParse: listing bool flags plainly leaves their parsing
// alone: --json, --json=true, --json=false and -q all work.
func TestBoolFlagsStillParse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lay")
	f := filepath.Join(t.TempDir(), "a.txt")
	if err := os.WriteFile(f, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "pack", "-q", dir+":v1", f); code != 0 {
		t.Fatalf("pack: exit %d: %s", code, errOut)
	}
	for _, args := range [][]string{{"--json"}, {"--json=true"}} {
		code, out, errOut := runCLI(t, append([]string{"ls", dir}, args...)...)
		if code != 0 || !strings.HasPrefix(out, "[") {
			t.Errorf("ls %v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	code, out, _ := runCLI(t, "ls", dir, "--json=false")
	if code != 0 || !strings.HasPrefix(out, "TAG") {
		t.Errorf("ls --json=false: exit %d, stdout %q", code, out)
	}
}

func TestUsageAndVersion(t *testing.T) {
	if code, _, errOut := runCLI(t); code != 2 || !strings.Contains(errOut, "Commands:") {
		t.Errorf("no args: exit %d, stderr %q", code, errOut)
	}
	if code, out, _ := runCLI(t, "--version"); code != 0 || out != "ocipack dev\n" {
		t.Errorf("--version: exit %d, %q", code, out)
	}
	if code, _, errOut := runCLI(t, "nosuch"); code != 2 || !strings.Contains(errOut, `unknown command "nosuch"`) {
		t.Errorf("unknown command: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "ls"); code != 2 || errOut != "ocipack ls: need exactly one LAYOUT; run 'ocipack ls --help'\n" {
		t.Errorf("usage error: exit %d, stderr %q", code, errOut)
	}
	if code, out, _ := runCLI(t, "help", "gc"); code != 0 || !strings.Contains(out, "--dry-run") {
		t.Errorf("help gc: exit %d, %q", code, out)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "4K": 4 << 10, "700M": 700 << 20, "1.5GiB": 3 << 29, "2t": 2 << 40, " 1gb ": 1 << 30} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1", "0", "4Q", "1e30T"} {
		if n, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, n)
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine("a\n  b\tc \n"); got != "a b c" {
		t.Errorf("oneLine = %q", got)
	}
}
