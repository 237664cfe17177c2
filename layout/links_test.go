//go:build unix

package layout_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

// Layouts arrive from outside: ocipack never follows a link, or opens a
// fifo, in place of a directory or lock file of its own inside one.

// lnLink replaces the layout's entry rel by a symbolic link to target.
func lnLink(t *testing.T, l *layout.Layout, rel, target string) {
	t.Helper()
	p := filepath.Join(l.Path(), filepath.FromSlash(rel))
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Skipf("symlink: %v", err)
	}
}

// lnWantUnsafe checks that err matches ErrUnsafeLayout and names rel.
func lnWantUnsafe(t *testing.T, what string, err error, rel string) {
	t.Helper()
	if !errors.Is(err, layout.ErrUnsafeLayout) {
		t.Errorf("%s: %v, want an error matching ErrUnsafeLayout", what, err)
		return
	}
	if !strings.Contains(err.Error(), rel+" is ") {
		t.Errorf("%s: %q does not name %s", what, err, rel)
	}
}

// lnTagged is a layout holding one tagged manifest and one unreferenced
// blob (which GC would remove).
func lnTagged(t *testing.T) *layout.Layout {
	t.Helper()
	l := testkit.NewLayout(t)
	if err := l.Tag(t.Context(), testkit.StoreManifest(t, l, "application/x.links", "tagged"), "v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Ingest(t.Context(), "application/octet-stream", bytes.NewReader([]byte("unreferenced"))); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestGCRefusesLinkedWorkDirs: a layout whose .ocipack/tmp, .ocipack,
// blobs or blobs/sha256 is a link to a directory elsewhere. The old GC
// emptied the directory .ocipack/tmp pointed to and reported success.
func TestGCRefusesLinkedWorkDirs(t *testing.T) {
	for _, rel := range []string{".ocipack/tmp", ".ocipack", "blobs", "blobs/sha256"} {
		t.Run(strings.ReplaceAll(rel, "/", "_"), func(t *testing.T) {
			l := lnTagged(t)
			out := testkit.Outside(t)
			if rel == "blobs" || rel == "blobs/sha256" {
				// The blobs themselves, so that the layout reads as sound
				// through the link, beside files GC would remove.
				src := filepath.Join(l.Path(), filepath.FromSlash(rel))
				if err := os.Rename(src, filepath.Join(out, "moved")); err != nil {
					t.Fatal(err)
				}
				lnLink(t, l, rel, filepath.Join(out, "moved"))
			} else {
				lnLink(t, l, rel, out)
			}
			before := testkit.Snapshot(t, out)
			rep, err := l.GC(t.Context(), layout.GCOptions{})
			if err == nil {
				t.Errorf("GC succeeded through a linked %s: %+v", rel, rep)
			}
			lnWantUnsafe(t, "GC", err, rel)
			testkit.SameTree(t, "GC changed the directory outside the layout", before, testkit.Snapshot(t, out), testkit.TypeSize)
			_, err = layout.Open(t.Context(), l.Path())
			lnWantUnsafe(t, "Open", err, rel)
		})
	}
}

// TestGCRemovesLinksInTmpAsLinks: a link inside .ocipack/tmp is a
// temporary entry like any other: GC removes the link, never what it
// points to.
func TestGCRemovesLinksInTmpAsLinks(t *testing.T) {
	l := lnTagged(t)
	out := testkit.Outside(t)
	before := testkit.Snapshot(t, out)
	tmp := filepath.Join(l.Path(), layout.WorkDir, "tmp")
	for n, target := range map[string]string{"dir-link": out, "file-link": filepath.Join(out, "precious.txt")} {
		if err := os.Symlink(target, filepath.Join(tmp, n)); err != nil {
			t.Skip(err)
		}
	}
	rep, err := l.GC(t.Context(), layout.GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.TempFiles != 2 {
		t.Errorf("GC removed %d temporary entries, want 2", rep.TempFiles)
	}
	if got := testkit.TmpFiles(t, l.Path()); len(got) != 0 {
		t.Errorf(".ocipack/tmp still holds %q", got)
	}
	testkit.SameTree(t, "GC changed the directory outside the layout", before, testkit.Snapshot(t, out), testkit.TypeSize)
}

// TestUnsafeLayoutRefused: every directory and lock file ocipack uses
// inside a layout, as a link to a directory, a link to a file, a fifo, or
// the wrong kind: Open, OpenOrCreate, Check, writes and GC all refuse the
// layout, naming the entry, and nothing is created where the link points.
func TestUnsafeLayoutRefused(t *testing.T) {
	type entry struct {
		rel string
		dir bool
	}
	entries := []entry{
		{"blobs", true}, {"blobs/sha256", true}, {"blobs/sha512", true},
		{".ocipack", true}, {".ocipack/tmp", true},
		{".ocipack/lock", false}, {".ocipack/writers.lock", false},
	}
	kinds := []string{"link to a directory", "link to a file", "fifo", "wrong kind"}
	for _, e := range entries {
		for _, kind := range kinds {
			t.Run(strings.ReplaceAll(e.rel, "/", "_")+" "+kind, func(t *testing.T) {
				ctx := t.Context()
				l := lnTagged(t)
				out := testkit.Outside(t)
				p := filepath.Join(l.Path(), filepath.FromSlash(e.rel))
				switch kind {
				case "link to a directory":
					lnLink(t, l, e.rel, out)
				case "link to a file":
					lnLink(t, l, e.rel, filepath.Join(out, "precious.txt"))
				case "fifo":
					testkit.ReplaceWithFifo(t, p)
				case "wrong kind":
					if err := os.RemoveAll(p); err != nil {
						t.Fatal(err)
					}
					if e.dir {
						err := os.WriteFile(p, nil, 0o644)
						if err != nil {
							t.Fatal(err)
						}
					} else if err := os.Mkdir(p, 0o755); err != nil {
						t.Fatal(err)
					}
				}
				before := testkit.Snapshot(t, out)
				testkit.Within(t, "Open, OpenOrCreate, Check, Ingest, Tag, GC", 10*time.Second, func() {
					_, err := layout.Open(ctx, l.Path())
					lnWantUnsafe(t, "Open", err, e.rel)
					_, err = layout.OpenOrCreate(ctx, l.Path())
					lnWantUnsafe(t, "OpenOrCreate", err, e.rel)
					_, err = l.Check(ctx, layout.CheckOptions{})
					lnWantUnsafe(t, "Check", err, e.rel)
					_, err = l.Ingest(ctx, "application/octet-stream", strings.NewReader("new"))
					lnWantUnsafe(t, "Ingest", err, e.rel)
					_, err = l.GC(ctx, layout.GCOptions{})
					lnWantUnsafe(t, "GC", err, e.rel)
					l.Close()
				})
				testkit.SameTree(t, "the directory outside the layout changed", before, testkit.Snapshot(t, out), testkit.TypeSize)
			})
		}
	}
}

// TestCreateRefusesLinkedWorkDir: a new layout's directory that holds
// only a link .ocipack (which OpenOrCreate would otherwise take for a
// layout being created): refused, nothing created where it points, and
// nothing created in the directory either.
func TestCreateRefusesLinkedWorkDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	out := testkit.Outside(t)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(out, filepath.Join(dir, layout.WorkDir)); err != nil {
		t.Skip(err)
	}
	before := testkit.Snapshot(t, out)
	_, err := layout.OpenOrCreate(t.Context(), dir)
	lnWantUnsafe(t, "OpenOrCreate", err, ".ocipack")
	testkit.SameTree(t, "OpenOrCreate created files outside the layout", before, testkit.Snapshot(t, out), testkit.TypeSize)
	if got := testkit.DirNames(t, dir); !slices.Equal(got, []string{layout.WorkDir}) {
		t.Errorf("the directory holds %q, want only the link", got)
	}
}

// TestFifoLockFiles: the lock files as fifos, planted after the Layout was
// opened. The old code blocked forever in open(2) (Tag on .ocipack/lock,
// every write and GC on .ocipack/writers.lock, OpenWriter on the partial
// download's lock); now each is refused at once.
func TestFifoLockFiles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Run("lock", func(t *testing.T) {
		l := lnTagged(t)
		desc, err := l.Resolve(ctx, "v1")
		if err != nil {
			t.Fatal(err)
		}
		testkit.ReplaceWithFifo(t, filepath.Join(l.Path(), layout.WorkDir, "lock"))
		testkit.Within(t, "Tag", 10*time.Second, func() {
			lnWantUnsafe(t, "Tag", l.Tag(ctx, desc, "v2"), ".ocipack/lock")
		})
	})
	t.Run("writers.lock", func(t *testing.T) {
		l := lnTagged(t)
		testkit.ReplaceWithFifo(t, filepath.Join(l.Path(), layout.WorkDir, "writers.lock"))
		testkit.Within(t, "Ingest", 10*time.Second, func() {
			_, err := l.Ingest(ctx, "application/octet-stream", strings.NewReader("x"))
			lnWantUnsafe(t, "Ingest", err, ".ocipack/writers.lock")
		})
		testkit.Within(t, "GC", 10*time.Second, func() {
			_, err := l.GC(ctx, layout.GCOptions{})
			lnWantUnsafe(t, "GC", err, ".ocipack/writers.lock")
		})
	})
	t.Run("partial lock", func(t *testing.T) {
		l := lnTagged(t)
		b := []byte("partial download")
		desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(b), Size: int64(len(b))}
		if err := l.HoldForWriting(ctx); err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		lock := filepath.Join(l.TempDir(), "partial-sha256-"+desc.Digest.Encoded()+".lock")
		testkit.ReplaceWithFifo(t, lock)
		testkit.Within(t, "OpenWriter", 10*time.Second, func() {
			p, err := l.OpenWriter(ctx, desc)
			if err == nil {
				p.Close()
			}
			lnWantUnsafe(t, "OpenWriter", err, ".ocipack/tmp/partial-sha256-"+desc.Digest.Encoded()+".lock")
		})
	})
}

// TestPartialSegmentLinkNotFollowed: a segment of a partial download
// replaced by a link to a file outside: TruncateSegment and OpenSegment
// refuse it; the old TruncateSegment truncated the file it points to.
func TestPartialSegmentLinkNotFollowed(t *testing.T) {
	l := testkit.NewLayout(t)
	data, desc := partialBlob(1 << 16)
	p := openWriter(t, l, desc)
	defer p.Close()
	f, err := p.OpenSegment(4096)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data[4096:8192]); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := testkit.Outside(t)
	victim := filepath.Join(out, "precious.txt")
	seg := filepath.Join(l.TempDir(), "partial-sha256-"+desc.Digest.Encoded()+".at-4096")
	if err := os.Remove(seg); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, seg); err != nil {
		t.Skip(err)
	}
	before := testkit.Snapshot(t, out)
	if err := p.TruncateSegment(4096, 0); err == nil {
		t.Error("TruncateSegment followed a link")
	}
	if f, err := p.OpenSegment(4096); err == nil {
		f.Close()
		t.Error("OpenSegment opened a link")
	}
	testkit.SameTree(t, "the directory outside the layout changed", before, testkit.Snapshot(t, out), testkit.TypeSize)
}

// TestFetchRefusesLinkedBlobDirAfterOpen: blobs/sha256 swapped for a link
// to a directory elsewhere after the layout was opened (a layout served or
// read while another process changes it). Fetch refuses it rather than
// read the other directory's files, which have the right names and sizes.
func TestFetchRefusesLinkedBlobDirAfterOpen(t *testing.T) {
	ctx := t.Context()
	l := testkit.NewLayout(t)
	d, err := l.Ingest(ctx, "application/octet-stream", bytes.NewReader([]byte("inside the layout")))
	if err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, d.Digest.Encoded()), []byte("OUTSIDE the layout"[:d.Size]), 0o644); err != nil {
		t.Fatal(err)
	}
	lnLink(t, l, "blobs/sha256", outside)
	rc, err := l.Fetch(ctx, d)
	if err == nil {
		rc.Close()
		t.Fatal("Fetch read a blob through a linked blobs/sha256")
	}
	lnWantUnsafe(t, "Fetch", err, "blobs/sha256")
}
