// Package layout is an OCI image-layout store on disk.
//
// A Layout is a directory holding `oci-layout`, `index.json` and
// `blobs/<alg>/<hex>`, as the OCI image-spec describes. It satisfies oras-go's
// oras.Target (and oras.GraphTarget), so oras.Copy can copy into and out of
// it, but unlike oras-go's own content/oci store it
//
//   - writes every blob to a temporary file while hashing it, in one pass,
//     and renames it to its digest only once size and digest are verified;
//   - replaces index.json atomically (temporary file, fsync, rename), keeps
//     its entries in a stable order, and serialises every read-modify-write
//     of it across processes with a file lock, so that two processes tagging
//     into one layout at once never lose a tag;
//   - keeps entries and annotations written by other tools.
//
// A Layout's methods, by role:
//
//   - content: Fetch, Exists, Push (oras-go's content.Storage), Ingest (a
//     blob of unknown digest), Predecessors (the referrers index.json
//     lists; oras-go's content.PredecessorFinder); OpenPartial, a blob
//     downloaded in parts;
//   - names: Tag (oras-go's content.Tagger), Put (several index.json
//     entries at once: tags, untagged referrers), Untag, Resolve, Tags,
//     Index (index.json as it is);
//   - upkeep: Check (verify the whole layout, or the graph below some
//     roots), GC, Abandon (undo what a failed writer added);
//   - lifetime: Path, HoldForWriting, Close; State, the records an
//     operation keeps to continue in a later run (a chunked push's
//     sessions).
//
// No other package writes or removes files inside a layout: they go
// through these methods.
//
// ocipack's own working files live in the hidden directory `.ocipack/` of
// the layout (the lock file and `tmp/` for partial blobs); other tools ignore
// it. A layout in which `.ocipack/`, `tmp/`, a lock file, `blobs/` or
// `blobs/<algorithm>/` is a symbolic link or a special file is refused with
// ErrUnsafeLayout: ocipack never follows such a link out of the layout.
package layout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/graph"
)

const (
	// WorkDir is the hidden directory inside a layout for ocipack's lock
	// file and temporary files.
	WorkDir = ".ocipack"
	// lockName is the lock file, inside WorkDir.
	lockName = "lock"
	// tmpName is the directory for partial blobs, inside WorkDir.
	tmpName = "tmp"
	// MaxManifestSize bounds the manifests and indexes that are read into
	// memory: graph.MaxManifestSize.
	MaxManifestSize = graph.MaxManifestSize
	// MaxBlobSize bounds the size a descriptor, an archive's contents list
	// or a tar entry may give a blob: graph.MaxBlobSize, 1 PiB.
	MaxBlobSize = graph.MaxBlobSize
	// maxIndexFileSize bounds index.json (10,000 tags take about 3 MiB).
	maxIndexFileSize = 256 << 20
	// maxLayoutFileSize bounds oci-layout (it is about 30 bytes).
	maxLayoutFileSize = 1 << 20
	// copyBufferSize is the buffer used to stream blobs.
	copyBufferSize = 1 << 20
)

// Layout is an OCI image layout on disk. Its methods are safe for concurrent
// use by several goroutines and, for index.json, by several processes.
type Layout struct {
	root string
	mu   sync.Mutex // serialises index.json updates inside this process

	wmu     sync.Mutex
	writing *fileLock // shared lock held from the first write until Close

	// dirty holds the directories into which blobs were renamed since
	// they were last synced (see syncDirty); dmu guards it. fmu is held
	// for the whole of a syncDirty.
	dmu, fmu sync.Mutex
	dirty    map[string]bool
}

// Durability of blobs, and its order with index.json.
//
// A blob is written to a temporary file, which is synced, then renamed to
// blobs/<alg>/<hex>. The rename is durable only once the directory is
// synced, which costs a few milliseconds, as much as the file's own sync
// for a small blob. Syncing it after every rename made a small artifact
// cost three directory syncs; instead commitTemp marks the directory dirty
// (also when it finds the blob stored already, and Push when it refuses a
// stored blob: another process may have renamed it and not synced yet, and
// the caller may now reference it), and syncDirty syncs each dirty
// directory once:
//
//   - in writeIndex, before index.json is replaced. The rule is that every
//     blob index.json references is durable before index.json is: after a
//     crash, index.json (old or new) must never name a blob whose rename
//     was lost. A tag is written only after its blobs are stored, so
//     syncing the blobs' directories first, then writing index.json
//     (temporary file synced, renamed, layout directory synced), keeps it.
//   - at Close, for blobs that no index.json update followed (a push of
//     blobs alone): they are durable once Close returns.
//
// A crash before either loses at most renames that nothing references yet.
// fmu makes a syncDirty that finds nothing left to sync wait for one that
// is still syncing (in another goroutine), so that a writeIndex never
// replaces index.json while a blob it may reference is not yet durable.

// isWriting reports whether this Layout holds the writers lock.
func (l *Layout) isWriting() bool {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.writing != nil
}

// markDirty records that a blob was renamed into dir.
func (l *Layout) markDirty(dir string) {
	l.dmu.Lock()
	defer l.dmu.Unlock()
	if l.dirty == nil {
		l.dirty = map[string]bool{}
	}
	l.dirty[dir] = true
}

// syncDirty syncs every directory markDirty recorded, once each, and
// forgets them. A directory that fails to sync stays recorded (for the
// next try) and fails syncDirty.
func (l *Layout) syncDirty() error {
	l.fmu.Lock()
	defer l.fmu.Unlock()
	l.dmu.Lock()
	dirs := l.dirty
	l.dirty = nil
	l.dmu.Unlock()
	var errs []error
	for _, d := range slices.Sorted(maps.Keys(dirs)) {
		if err := syncDir(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			l.markDirty(d)
		}
	}
	return errors.Join(errs...)
}

// writersLockName is the lock file that writers hold shared and garbage
// collection holds exclusive, inside WorkDir.
const writersLockName = "writers.lock"

// ErrBusy means another process is writing into the layout.
var ErrBusy = errors.New("layout is busy")

// holdWriting takes, once per Layout, a shared lock on the layout that is
// kept until Close. Garbage collection takes the same lock exclusively, so it
// never runs while a writer has blobs that are stored but not yet tagged.
func (l *Layout) holdWriting(ctx context.Context) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.writing != nil {
		return nil
	}
	if err := l.ensureDirs(); err != nil {
		return err
	}
	fl, err := l.lockWork(ctx, writersLockName, false, " for writing")
	if err != nil {
		return err
	}
	l.writing = fl
	return nil
}

// HoldForWriting takes now the shared lock that l otherwise takes at its
// first write, and keeps it until Close, so that GC waits meanwhile. A
// writer that decides from what the layout holds which blobs to skip (a
// pull, an import) calls it before it looks, so that GC cannot remove a
// blob it found and means to reference.
func (l *Layout) HoldForWriting(ctx context.Context) error { return l.holdWriting(ctx) }

// Close releases the layout's locks. A Layout that wrote into the layout
// keeps a shared lock that holds garbage collection off until Close (or
// until the process ends). The Layout stays usable; a later write takes the
// lock again.
//
// Close also makes durable the blobs stored through l that no update of
// index.json has made durable yet (see syncDirty), and reports a failure
// to.
func (l *Layout) Close() error {
	serr := l.syncDirty()
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.writing == nil {
		return serr
	}
	err := l.writing.unlock()
	l.writing = nil
	return errors.Join(serr, err)
}

// exclusive runs fn while no other Layout, in this process or another, is
// writing into the layout, waiting for writers to Close until ctx is done.
// Garbage collection runs under it. It fails if l itself holds the writing
// lock (Close it first).
func (l *Layout) exclusive(ctx context.Context, fn func() error) error {
	l.wmu.Lock()
	held := l.writing != nil
	l.wmu.Unlock()
	if held {
		return fmt.Errorf("layout %s: %w: this Layout is writing; Close it first", l.root, ErrBusy)
	}
	if err := l.ensureDirs(); err != nil {
		return err
	}
	fl, err := l.lock(ctx, path.Join(WorkDir, writersLockName), true, 50*time.Millisecond)
	if errors.Is(err, ErrUnsafeLayout) {
		return err
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("lock layout %s: %w", l.root, err)
	}
	if err != nil {
		return fmt.Errorf("layout %s: %w: another process is writing into it (%v)", l.root, ErrBusy, ctx.Err())
	}
	defer fl.unlock()
	return fn()
}

// Open opens the existing layout at path. It fails with ErrNotLayout when path
// holds no `oci-layout` file of version 1.0.0, and with ErrUnsafeLayout when
// a directory or lock file ocipack uses inside it is a link or of the wrong
// kind. Open writes nothing, so it works on read-only media.
func Open(ctx context.Context, path string) (*Layout, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := filepath.Join(path, ocispec.ImageLayoutFile)
	// oci-layout is a few bytes: a fifo (which would block the read) or a
	// huge file (which would exhaust memory) is not a layout's.
	if fi, err := os.Stat(p); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w: %s is a %v, not a regular file", path, ErrNotLayout, ocispec.ImageLayoutFile, fi.Mode().Type())
	} else if err == nil && fi.Size() > maxLayoutFileSize {
		return nil, fmt.Errorf("%s: %w: %s has %d bytes, more than %d", path, ErrNotLayout, ocispec.ImageLayoutFile, fi.Size(), maxLayoutFileSize)
	}
	b, err := openAndReadLimited(p, maxLayoutFileSize)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w (no %s file)", path, ErrNotLayout, ocispec.ImageLayoutFile)
		}
		return nil, fmt.Errorf("open layout %s: %w", path, err)
	}
	var l ocispec.ImageLayout
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("%s: %w: %s is not valid JSON: %v", path, ErrNotLayout, ocispec.ImageLayoutFile, err)
	}
	if l.Version != ocispec.ImageLayoutVersion {
		return nil, fmt.Errorf("%s: %w: unsupported imageLayoutVersion %q (want %q)", path, ErrNotLayout, l.Version, ocispec.ImageLayoutVersion)
	}
	ol := &Layout{root: path}
	if err := ol.checkOwn(); err != nil {
		return nil, err
	}
	return ol, nil
}

// OpenOrCreate opens the layout at path, creating the directory, `oci-layout`,
// an empty `index.json` and `blobs/sha256/` when they are missing. A
// directory that exists but is not empty and not a layout is refused with
// ErrNotLayout, so that ocipack never scatters blobs into an unrelated
// directory, and one whose own directories or lock files are links or of
// the wrong kind with ErrUnsafeLayout, before anything is created.
func OpenOrCreate(ctx context.Context, path string) (*Layout, error) {
	openExisting := func() (*Layout, error) {
		l, err := Open(ctx, path)
		if err != nil {
			return nil, err
		}
		if err := l.ensureDirs(); err != nil {
			return nil, err
		}
		return l, l.withLock(ctx, func() error { return l.ensureIndex() })
	}
	if l, err := openExisting(); err == nil || !errors.Is(err, ErrNotLayout) {
		return l, err
	}
	entries, err := os.ReadDir(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("create layout %s: %w", path, err)
	default:
		for _, e := range entries {
			if e.Name() == ocispec.ImageLayoutFile {
				// Either there from the start and not valid (Open then
				// fails again), or just written by another process
				// creating the same layout (and then valid).
				return openExisting()
			}
			if !isCreationEntry(e.Name()) {
				return nil, fmt.Errorf("%s: %w: the directory is not empty and has no %s file; choose a new or empty directory", path, ErrNotLayout, ocispec.ImageLayoutFile)
			}
		}
	}
	l := &Layout{root: path}
	if err := l.ensureDirs(); err != nil {
		return nil, err
	}
	err = l.withLock(ctx, func() error {
		if err := l.ensureIndex(); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(path, ocispec.ImageLayoutFile)); err == nil {
			// Written meanwhile by another process creating the same
			// layout, or there from the start: it must be valid.
			_, err := Open(ctx, path)
			return err
		}
		b, _ := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
		return writeFileAtomic(filepath.Join(path, ocispec.ImageLayoutFile), b)
	})
	if err != nil {
		return nil, fmt.Errorf("create layout %s: %w", path, err)
	}
	return l, nil
}

// isCreationEntry reports whether name is something OpenOrCreate itself
// writes while it creates a layout (possibly in another process, at the
// same time), so that a directory holding only such entries is taken for a
// layout being created rather than refused.
func isCreationEntry(name string) bool {
	switch name {
	case WorkDir, ocispec.ImageBlobsDir, ocispec.ImageIndexFile:
		return true
	}
	return strings.HasPrefix(name, "."+ocispec.ImageIndexFile+".tmp-") ||
		strings.HasPrefix(name, "."+ocispec.ImageLayoutFile+".tmp-")
}

// Path returns the layout's directory.
func (l *Layout) Path() string { return l.root }

// blobPath returns the path of the blob with digest d (which may not exist).
func (l *Layout) blobPath(d digest.Digest) string {
	return filepath.Join(l.root, ocispec.ImageBlobsDir, d.Algorithm().String(), d.Encoded())
}

// ensureDirs checks the layout's own directories and lock files (see
// checkOwn), then creates the layout directory, blobs/sha256/ and
// .ocipack/tmp/ where missing, never following a link (see ensureDir).
func (l *Layout) ensureDirs() error {
	if err := l.checkOwn(); err != nil {
		return err
	}
	if err := os.MkdirAll(l.root, 0o755); err != nil {
		return fmt.Errorf("create layout %s: %w", l.root, err)
	}
	for _, d := range []string{
		path.Join(ocispec.ImageBlobsDir, digest.SHA256.String()),
		path.Join(WorkDir, tmpName),
	} {
		if err := l.ensureDir(d); err != nil {
			return err
		}
	}
	return nil
}

// ensureIndex writes an empty index.json if there is none. Call it with the
// lock held.
func (l *Layout) ensureIndex() error {
	p := filepath.Join(l.root, ocispec.ImageIndexFile)
	if _, err := os.Stat(p); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return l.writeIndex(&ocispec.Index{})
}

// withLock runs fn holding the layout's cross-process lock.
func (l *Layout) withLock(ctx context.Context, fn func() error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.ensureDir(WorkDir); err != nil {
		return err
	}
	fl, err := l.lockWork(ctx, lockName, true, "")
	if err != nil {
		return err
	}
	defer fl.unlock()
	return fn()
}

// lockWork takes the lock file name in WorkDir (see lock), trying again
// every 20ms. Its failure reads "lock layout ROOT<purpose>: …", except
// ErrUnsafeLayout, returned as it is.
func (l *Layout) lockWork(ctx context.Context, name string, exclusive bool, purpose string) (*fileLock, error) {
	fl, err := l.lock(ctx, path.Join(WorkDir, name), exclusive, 20*time.Millisecond)
	if err != nil && !errors.Is(err, ErrUnsafeLayout) {
		return nil, fmt.Errorf("lock layout %s%s: %w", l.root, purpose, err)
	}
	return fl, err
}

// Index returns the layout's index.json as it is now.
func (l *Layout) Index(ctx context.Context) (*ocispec.Index, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := filepath.Join(l.root, ocispec.ImageIndexFile)
	// A fifo would block Open, and an absurd size is refused before a byte
	// of it is read (and allocated).
	if fi, err := os.Stat(p); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w: a %v, not a regular file", p, ErrCorrupt, fi.Mode().Type())
	} else if err == nil && fi.Size() > maxIndexFileSize {
		return nil, fmt.Errorf("%s: %w: %d bytes, larger than %d", p, ErrCorrupt, fi.Size(), maxIndexFileSize)
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: graph.MediaTypeOCIIndex}, nil
		}
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxIndexFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if len(b) > maxIndexFileSize {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", p, ErrCorrupt, maxIndexFileSize)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", p, ErrCorrupt, err)
	}
	if idx.SchemaVersion != 2 {
		return nil, fmt.Errorf("%s: %w: schemaVersion %d, want 2", p, ErrCorrupt, idx.SchemaVersion)
	}
	for i, d := range idx.Manifests {
		if err := graph.ValidateDigest(d.Digest); err != nil {
			return nil, fmt.Errorf("%s: %w: manifests[%d] has a bad digest %q: %v", p, ErrCorrupt, i, d.Digest, err)
		}
	}
	return &idx, nil
}

// writeIndex replaces index.json atomically, its entries sorted by tag and
// then by digest. Call it with the lock held. The blobs stored through l
// are made durable first (syncDirty), so that index.json never references
// a blob whose rename a crash could undo.
func (l *Layout) writeIndex(idx *ocispec.Index) error {
	idx.SchemaVersion = 2
	idx.MediaType = graph.MediaTypeOCIIndex
	if idx.Manifests == nil {
		idx.Manifests = []ocispec.Descriptor{}
	}
	sortDescriptors(idx.Manifests)
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	if err := l.syncDirty(); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(l.root, ocispec.ImageIndexFile), b)
}

func sortDescriptors(ds []ocispec.Descriptor) {
	slices.SortStableFunc(ds, func(a, b ocispec.Descriptor) int {
		if c := strings.Compare(a.Annotations[ocispec.AnnotationRefName], b.Annotations[ocispec.AnnotationRefName]); c != 0 {
			return c
		}
		return strings.Compare(string(a.Digest), string(b.Digest))
	})
}

// writeFileAtomic writes b to a temporary file beside path, syncs it, renames
// it over path and syncs the directory.
func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir makes a rename inside dir durable. Windows cannot sync a
// directory, and does not need to.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
