package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadInPlaceEveryKind: ls, inspect and export read a layout
// directory, a .tar, a .tar.zst and split volumes alike: ls and inspect
// print the same as for the layout (inspect's Reference line names what
// was given), and an archive exports again.
func TestReadInPlaceEveryKind(t *testing.T) {
	dir := t.TempDir()
	lay := filepath.Join(dir, "lay")
	for i, tag := range []string{"v1", "v2"} {
		f := filepath.Join(dir, tag+".bin")
		data := make([]byte, 200<<10)
		for j := range data {
			data[j] = byte(j*31 + i)
		}
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := runCLI(t, "pack", "-q", lay+":"+tag, f, "--annotation", "com.example.n="+tag); code != 0 {
			t.Fatalf("pack %s: exit %d: %s", tag, code, errOut)
		}
	}
	tarPath := filepath.Join(dir, "bundle.tar")
	zstPath := filepath.Join(dir, "bundle.tar.zst")
	volPath := filepath.Join(dir, "vol.tar")
	for _, args := range [][]string{
		{"export", "-q", lay, tarPath},
		{"export", "-q", lay, zstPath},
		{"export", "-q", lay, volPath, "--split", "128K"},
	} {
		if code, _, errOut := runCLI(t, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	if _, err := os.Stat(volPath + ".002"); err != nil {
		t.Fatalf("no second volume: %v", err)
	}

	run := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	wantLs := run("ls", lay)
	wantLsJSON := run("ls", lay, "--json")
	wantIn := run("inspect", lay+":v1")
	wantInJSON := run("inspect", lay+":v2", "--json")
	if !strings.Contains(wantLs, "v1") || !strings.Contains(wantLs, "v2") || !strings.Contains(wantIn, "com.example.n=v1") {
		t.Fatalf("layout: ls\n%s\ninspect\n%s", wantLs, wantIn)
	}
	for _, p := range []string{tarPath, zstPath, volPath, volPath + ".001"} {
		t.Run(filepath.Base(p), func(t *testing.T) {
			if got := run("ls", p); got != wantLs {
				t.Errorf("ls %s:\n%s\nwant (as the layout's)\n%s", p, got, wantLs)
			}
			if got := run("ls", p, "--json"); got != wantLsJSON {
				t.Errorf("ls %s --json:\n%s\nwant\n%s", p, got, wantLsJSON)
			}
			got := run("inspect", p+":v1")
			if want := strings.Replace(wantIn, lay+":v1", p+":v1", 1); got != want {
				t.Errorf("inspect %s:v1:\n%s\nwant\n%s", p, got, want)
			}
			if got := run("inspect", p+":v2", "--json"); got != wantInJSON {
				t.Errorf("inspect %s:v2 --json:\n%s\nwant\n%s", p, got, wantInJSON)
			}
			if code, _, errOut := runCLI(t, "inspect", p+":nope"); code == 0 || !strings.Contains(errOut, "not found") {
				t.Errorf("inspect %s:nope: exit %d, stderr %q", p, code, errOut)
			}
		})
	}
	// An archive exports again, read in place: the new one lists the same.
	again := filepath.Join(dir, "again.tar")
	run("export", "-q", zstPath+":v2", again)
	lines := strings.Split(wantLs, "\n") // header, v1, v2, ""
	if got, want := run("ls", again), lines[0]+"\n"+lines[2]+"\n"; got != want {
		t.Errorf("ls of an archive exported from an archive:\n%s\nwant\n%s", got, want)
	}
}
