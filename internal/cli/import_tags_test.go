package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
