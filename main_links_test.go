//go:build unix

package main

// Command-line tests of layouts that arrive from outside with links or
// fifos where ocipack's own directories and lock files belong: every
// command refuses them with one line naming the path, promptly, and
// nothing outside the layout is read, written or removed. Every identifier
// here starts with "links" (tests with TestLinks) so as not to clash with
// the other test files of this package.

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocipack/ocipack/internal/testkit"
)

// linksRun runs the command line in-process under a context of a few
// seconds, and fails the test if it has not returned 10 s later: the old
// code blocked in open(2) on a fifo lock file, which no context ends.
func linksRun(t *testing.T, args ...string) result {
	t.Helper()
	var r result
	testkit.Within(t, "ocipack "+strings.Join(args, " "), 10*time.Second, func() {
		r = runCLI(t, 5*time.Second, nil, args...)
	})
	return r
}

// linksWantRefused runs the command line and checks that it fails (exit
// 1) with one stderr line holding every one of wants.
func linksWantRefused(t *testing.T, wants []string, args ...string) {
	t.Helper()
	wantFailure(t, args, linksRun(t, args...), 1, wants...)
}

// linksPacked packs a layout with tag v1 and an untagged leftover (a tag
// moved by a second pack), so that gc has something to remove.
func linksPacked(t *testing.T) string {
	t.Helper()
	lay := filepath.Join(t.TempDir(), "lay")
	mustRun(t, "pack", lay+":v1", filepath.Join(example, "app-1.0.tar"))
	mustRun(t, "pack", lay+":v1", filepath.Join(example, "hello-0.1.0.tgz"))
	return lay
}

// TestLinksCLIGCLinkedTmp: `.ocipack/tmp` is a link to a directory
// elsewhere. The old gc removed every file in that directory and reported
// success.
func TestLinksCLIGCLinkedTmp(t *testing.T) {
	lay := linksPacked(t)
	out := testkit.Outside(t)
	testkit.ReplaceWithSymlink(t, filepath.Join(lay, ".ocipack", "tmp"), out)
	before := testkit.Snapshot(t, out)
	linksWantRefused(t, []string{lay, ".ocipack/tmp is a symbolic link", "remove it"}, "gc", lay)
	linksWantRefused(t, []string{lay, ".ocipack/tmp is a symbolic link"}, "gc", "--dry-run", lay)
	testkit.SameTree(t, out, before, testkit.Snapshot(t, out), testkit.TypeSize)
}

// TestLinksCLIPackLinkedWorkDir: `.ocipack` is a link to a directory
// elsewhere, in a layout and in a new directory. The old pack created its
// lock files and tmp/ there.
func TestLinksCLIPackLinkedWorkDir(t *testing.T) {
	src := filepath.Join(example, "app-1.0.tar")
	t.Run("layout", func(t *testing.T) {
		lay := linksPacked(t)
		out := filepath.Join(t.TempDir(), "empty")
		if err := os.Mkdir(out, 0o755); err != nil {
			t.Fatal(err)
		}
		testkit.ReplaceWithSymlink(t, filepath.Join(lay, ".ocipack"), out)
		linksWantRefused(t, []string{lay, ".ocipack is a symbolic link"}, "pack", lay+":v2", src)
		if names := testkit.DirNames(t, out); len(names) != 0 {
			t.Errorf("pack created %q outside the layout", names)
		}
	})
	t.Run("new directory", func(t *testing.T) {
		lay := filepath.Join(t.TempDir(), "new")
		out := filepath.Join(t.TempDir(), "empty")
		for _, d := range []string{lay, out} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(out, filepath.Join(lay, ".ocipack")); err != nil {
			t.Skip(err)
		}
		linksWantRefused(t, []string{lay, ".ocipack is a symbolic link"}, "pack", lay+":v1", src)
		if names := testkit.DirNames(t, out); len(names) != 0 {
			t.Errorf("pack created %q outside the layout", names)
		}
		if names := testkit.DirNames(t, lay); !slices.Equal(names, []string{".ocipack"}) {
			t.Errorf("pack left %q in the new directory, want only the link", names)
		}
	})
}

// TestLinksCLIFifoLocks: `.ocipack/lock` or `.ocipack/writers.lock` is a
// fifo. The old tag and pack blocked forever in open(2), deaf to SIGINT;
// now they fail at once naming the file.
func TestLinksCLIFifoLocks(t *testing.T) {
	src := filepath.Join(example, "app-1.0.tar")
	for _, name := range []string{"lock", "writers.lock"} {
		t.Run(name, func(t *testing.T) {
			lay := linksPacked(t)
			testkit.ReplaceWithFifo(t, filepath.Join(lay, ".ocipack", name))
			want := []string{lay, ".ocipack/" + name + " is a named pipe (fifo), not a regular file"}
			linksWantRefused(t, want, "tag", lay+":v1", "v2")
			linksWantRefused(t, want, "pack", lay+":v2", src)
			linksWantRefused(t, want, "gc", lay)
		})
	}
}

// TestLinksCLILinkedBlobs: `blobs/sha256` is a link to the blobs, moved
// elsewhere, beside files of the same form. The old verify read the blobs
// through the link and passed; now verify, gc and ls refuse the layout
// and nothing there changes.
func TestLinksCLILinkedBlobs(t *testing.T) {
	lay := linksPacked(t)
	out := filepath.Join(t.TempDir(), "sha256")
	if err := os.Rename(filepath.Join(lay, "blobs", "sha256"), out); err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, filepath.Join(out, strings.Repeat("ab", 32)), []byte("someone else's"))
	if err := os.Symlink(out, filepath.Join(lay, "blobs", "sha256")); err != nil {
		t.Skip(err)
	}
	before := testkit.Snapshot(t, out)
	want := []string{lay, "blobs/sha256 is a symbolic link, not a directory"}
	linksWantRefused(t, want, "verify", lay)
	linksWantRefused(t, want, "gc", lay)
	linksWantRefused(t, want, "ls", lay)
	testkit.SameTree(t, out, before, testkit.Snapshot(t, out), testkit.TypeSize)
}
