package layout

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// dirtyDirs returns the directories l has yet to sync.
func dirtyDirs(l *Layout) []string {
	l.dmu.Lock()
	defer l.dmu.Unlock()
	var out []string
	for d := range l.dirty {
		out = append(out, d)
	}
	return out
}

// TestDeferredDirSync: storing blobs marks their directory for one sync,
// which writing index.json (and Close) performs; a blob stored already
// costs no file sync.
func TestDeferredDirSync(t *testing.T) {
	ctx := context.Background()
	l, err := OpenOrCreate(ctx, filepath.Join(t.TempDir(), "l"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if d := dirtyDirs(l); len(d) != 0 {
		t.Fatalf("a new layout has dirty directories %v", d)
	}
	var descs []ocispec.Descriptor
	for _, s := range []string{"one", "two", "three"} {
		d, err := l.Ingest(ctx, "application/octet-stream", strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		descs = append(descs, d)
	}
	blobsDir := filepath.Dir(l.BlobPath(descs[0].Digest))
	if d := dirtyDirs(l); len(d) != 1 || d[0] != blobsDir {
		t.Fatalf("dirty directories %v, want just %s", d, blobsDir)
	}
	// index.json is written only once the blobs' directory is synced.
	if err := l.UpdateIndex(ctx, func(idx *ocispec.Index) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if d := dirtyDirs(l); len(d) != 0 {
		t.Fatalf("dirty directories %v after an index.json update", d)
	}

	// The same content again: the temporary copy is not synced, and
	// the directory is marked again (the blob may have been renamed by
	// another process that has not synced it yet).
	tmp, d, n, synced, err := l.writeTemp(ctx, strings.NewReader("one"), descs[0].Digest.Algorithm(), -1)
	if err != nil {
		t.Fatal(err)
	}
	if synced || d != descs[0].Digest || n != 3 {
		t.Errorf("writeTemp of stored content: synced %v, %s, %d", synced, d, n)
	}
	if err := l.commitTemp(tmp, d, synced); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}
	if d := dirtyDirs(l); len(d) != 1 {
		t.Errorf("dirty directories %v, want the blobs' directory", d)
	}

	// An unsynced temporary file that has to be renamed after all (the
	// stored copy vanished meanwhile) is synced first, and stored.
	tmp, d, _, synced, err = l.writeTemp(ctx, strings.NewReader("two"), descs[1].Digest.Algorithm(), -1)
	if err != nil || synced {
		t.Fatalf("writeTemp: synced %v, %v", synced, err)
	}
	if err := os.Remove(l.BlobPath(d)); err != nil {
		t.Fatal(err)
	}
	if err := l.commitTemp(tmp, d, synced); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(l.BlobPath(d)); err != nil || !bytes.Equal(b, []byte("two")) {
		t.Errorf("blob = %q, %v", b, err)
	}

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if d := dirtyDirs(l); len(d) != 0 {
		t.Fatalf("dirty directories %v after Close", d)
	}
}

// TestSyncDirtyRemovedDir: a marked directory that no longer exists (the
// layout was removed) does not fail syncDirty, and is forgotten.
func TestSyncDirtyRemovedDir(t *testing.T) {
	l := &Layout{root: t.TempDir()}
	gone := filepath.Join(l.root, "gone")
	l.markDirty(gone)
	if err := l.syncDirty(); err != nil {
		t.Errorf("a removed directory fails syncDirty: %v", err)
	}
	if d := dirtyDirs(l); len(d) != 0 {
		t.Errorf("dirty directories %v", d)
	}
}
