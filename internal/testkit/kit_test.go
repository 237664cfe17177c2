package testkit_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocipack/ocipack/internal/testkit"
)

// TestDiffTrees: a snapshot compared with itself shows nothing, and every
// kind of change shows as one line naming the path.
func TestDiffTrees(t *testing.T) {
	dir := t.TempDir()
	testkit.WriteFile(t, filepath.Join(dir, "a", "one.txt"), "one")
	testkit.WriteFile(t, filepath.Join(dir, "two.txt"), "two")
	before := testkit.Snapshot(t, dir)
	if d := testkit.DiffTrees(before, testkit.Snapshot(t, dir), testkit.Untouched); len(d) != 0 {
		t.Fatalf("unchanged tree differs: %q", d)
	}
	testkit.FlipByte(t, filepath.Join(dir, "two.txt"), -1)
	if err := os.Remove(filepath.Join(dir, "a", "one.txt")); err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, filepath.Join(dir, "three.txt"), "three")
	got := testkit.DiffTrees(before, testkit.Snapshot(t, dir), testkit.Content)
	if len(got) != 3 || !strings.HasPrefix(got[0], "a/one.txt: missing") || !strings.HasPrefix(got[1], "two.txt: file sha256:") || !strings.HasPrefix(got[2], "three.txt: unexpected") {
		t.Errorf("diff: %q", got)
	}

	// A tree that did not exist and still does not is unchanged; one that
	// appeared is not, even empty.
	gone := filepath.Join(dir, "gone")
	if s := testkit.Snapshot(t, gone); s != nil {
		t.Fatalf("snapshot of a missing tree: %v", s)
	}
	if err := os.Mkdir(gone, 0o755); err != nil {
		t.Fatal(err)
	}
	if d := testkit.DiffTrees(nil, testkit.Snapshot(t, gone), testkit.Content); !slices.Equal(d, []string{".: unexpected (dir)"}) {
		t.Errorf("a tree that appeared: %q", d)
	}
}

// TestSnapshotPaths: a directory holding copies of paths matches
// SnapshotPaths of them.
func TestSnapshotPaths(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	testkit.WriteFile(t, filepath.Join(src, "d", "f.txt"), "f")
	testkit.WriteFile(t, filepath.Join(src, "g.txt"), "g")
	testkit.WriteFile(t, filepath.Join(dst, "d", "f.txt"), "f")
	testkit.WriteFile(t, filepath.Join(dst, "g.txt"), "g")
	want := testkit.SnapshotPaths(t, filepath.Join(src, "d"), filepath.Join(src, "g.txt"))
	if d := testkit.DiffTrees(want, testkit.Snapshot(t, dst), testkit.ContentExec); len(d) != 0 {
		t.Errorf("copies differ: %q", d)
	}
	testkit.WriteFile(t, filepath.Join(dst, "d", "f.txt"), "F")
	if d := testkit.DiffTrees(want, testkit.Snapshot(t, dst), testkit.ContentExec); len(d) != 1 {
		t.Errorf("a changed copy: %q", d)
	}
}

// TestRandomBytes: the same seed gives the same bytes, another seed others,
// and WriteRandomFile writes that stream.
func TestRandomBytes(t *testing.T) {
	a, b := testkit.RandomBytes(1, 3<<20), testkit.RandomBytes(2, 3<<20)
	if !bytes.Equal(a, testkit.RandomBytes(1, 3<<20)) || bytes.Equal(a, b) {
		t.Fatal("RandomBytes is not a function of its seed")
	}
	p := testkit.WriteRandomFile(t, filepath.Join(t.TempDir(), "x", "r.bin"), 3<<20, 1)
	if !bytes.Equal(testkit.ReadFile(t, p), a) {
		t.Error("WriteRandomFile wrote other bytes than RandomBytes")
	}
}

// TestLayoutFixtures: a stored, tagged manifest shows in index.json, among
// the blob files, and through Manifest and Tags.
func TestLayoutFixtures(t *testing.T) {
	l := testkit.NewLayout(t)
	d := testkit.StoreManifest(t, l, "application/x.test", "body")
	if err := l.Tag(t.Context(), d, "v1"); err != nil {
		t.Fatal(err)
	}
	if tags := testkit.IndexTags(t, l.Path()); tags["v1"] != d.Digest.String() || len(tags) != 1 {
		t.Errorf("IndexTags: %v", tags)
	}
	if got := testkit.Tags(t, l); !slices.Equal(got, []string{"v1"}) {
		t.Errorf("Tags: %v", got)
	}
	desc, m := testkit.Manifest(t, l, "v1")
	if desc.Digest != d.Digest || len(m.Layers) != 1 {
		t.Errorf("Manifest: %v, %d layers", desc.Digest, len(m.Layers))
	}
	blobs := testkit.BlobDigests(t, l.Path())
	if len(blobs) != 3 || !slices.Contains(blobs, d.Digest.String()) {
		t.Errorf("BlobDigests: %v", blobs)
	}
	if got := testkit.FileDigest(t, testkit.BlobPath(l.Path(), d.Digest.String())); got != d.Digest {
		t.Errorf("the blob file of %s hashes to %s", d.Digest, got)
	}
}
