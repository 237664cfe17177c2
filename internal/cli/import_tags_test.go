package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocipack/ocipack/internal/testkit"
)

// TestImportLongTagList: an import of many tags names the first ten and
// says how many more there are, instead of printing every tag on one line.
func TestImportLongTagList(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.txt")
	if err := os.WriteFile(file, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "src")
	runOK(t, "pack", src+":t00", file)
	for i := 1; i < 13; i++ {
		runOK(t, "tag", src+":t00", fmt.Sprintf("t%02d", i))
	}
	runOK(t, "export", src, filepath.Join(dir, "a.tar"))
	out := runOK(t, "import", filepath.Join(dir, "a.tar"), filepath.Join(dir, "dst"))
	if !strings.Contains(out, "t09 and 3 more (ocipack ls ") || strings.Contains(out, "t10") {
		t.Fatalf("import printed %q, want the first ten tags and '3 more'", out)
	}
}

// TestChangeArchiveRefused: tag, rm and sign of an archive say that an
// archive is never changed and to import it first (they said "open
// ex.tar/oci-layout: not a directory").
func TestChangeArchiveRefused(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.txt")
	if err := os.WriteFile(file, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "src")
	runOK(t, "pack", src+":v1", file)
	tarPath := filepath.Join(dir, "a.tar")
	runOK(t, "export", src, tarPath)
	before := testkit.ReadFile(t, tarPath)
	for _, args := range [][]string{{"tag", tarPath + ":v1", "v2"}, {"rm", tarPath + ":v1"}, {"sign", tarPath + ":v1", "--key", filepath.Join(dir, "none.key")}} {
		code, _, errOut := runCLI(t, args...)
		if code != 1 || !strings.Contains(errOut, "is an archive, which ocipack reads but never changes: import it into a layout first") {
			t.Errorf("%v: exit %d, %q", args, code, errOut)
		}
	}
	if !bytes.Equal(before, testkit.ReadFile(t, tarPath)) {
		t.Error("the archive changed")
	}
}
