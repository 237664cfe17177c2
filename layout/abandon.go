package layout

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// AbandonOptions says what a failed writer added to a layout, for Abandon.
type AbandonOptions struct {
	// Blobs are blobs the writer stored (that were not there before).
	Blobs []digest.Digest
	// Layout says the writer created the layout (OpenOrCreate into a new
	// or empty directory): oci-layout, index.json, blobs/ and .ocipack/.
	Layout bool
	// Dir says the writer created the layout's directory itself.
	Dir bool
}

// Abandon undoes, best effort, what a failed writer (an import) added to
// l, and nothing else:
//
//   - each of opts.Blobs that index.json does not reach is removed: while
//     the writer worked, another one may have found the blob stored and
//     tagged something that references it;
//   - with opts.Layout, the files that created the layout are removed, but
//     only when nothing else uses them by then: index.json lists nothing,
//     no blob is stored and no other file is there; with opts.Dir, the
//     directory too, once empty.
//
// It closes l first, then works inside exclusive (no other writer at
// work) holding index.json's lock, so that nobody tags meanwhile. When
// another writer holds the layout until ctx is done, or when what
// index.json reaches cannot be known (a manifest missing or unreadable),
// it removes nothing and says why: what is left is unreferenced and
// `ocipack gc` collects it. It never removes a directory with its
// contents wholesale.
func (l *Layout) Abandon(ctx context.Context, opts AbandonOptions) error {
	if len(opts.Blobs) == 0 && !opts.Layout {
		return nil
	}
	cerr := l.Close()
	err := l.exclusive(ctx, func() error {
		return l.withLock(ctx, func() error { return l.abandonLocked(ctx, opts) })
	})
	if err == nil && opts.Dir {
		// Fails, leaving it, when anything is left in it.
		if rerr := os.Remove(l.root); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && !errors.Is(rerr, fs.ErrExist) {
			err = fmt.Errorf("remove %s: %w", l.root, rerr)
		}
	}
	return errors.Join(cerr, err)
}

// errKept stops abandonLocked when the layout holds more than what the
// failed writer added.
var errKept = errors.New("in use")

func (l *Layout) abandonLocked(ctx context.Context, opts AbandonOptions) error {
	idx, err := l.Index(ctx)
	if err != nil {
		return fmt.Errorf("abandon: %w", err)
	}
	g := newGraph(l)
	if err := g.walk(ctx, idx); err != nil {
		return err
	}
	if len(g.blockers) > 0 {
		return fmt.Errorf("abandon: %w: what index.json reaches cannot be known: %s", ErrCorrupt, g.blockers[0])
	}
	for _, d := range opts.Blobs {
		if _, reached := g.nodes[d]; reached || d.Validate() != nil {
			continue
		}
		if err := os.Remove(l.blobPath(d)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", l.blobPath(d), err)
		}
	}
	if !opts.Layout {
		return nil
	}
	if len(idx.Manifests) > 0 {
		return nil // another writer tagged something: the layout is in use
	}
	// Everything must be what OpenOrCreate wrote: look before removing
	// anything, so that a layout in use is left whole.
	var files, dirs []string // removed in this order
	only := func(rel string, want map[string]bool) error {
		p := filepath.Join(l.root, rel)
		if fi, err := os.Lstat(p); err != nil || !fi.IsDir() {
			return errKept
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return err
		}
		for _, e := range entries {
			dir, ok := want[e.Name()]
			if !ok || dir != e.IsDir() || e.Type()&fs.ModeSymlink != 0 {
				return errKept
			}
			if !dir {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
		dirs = append(dirs, p)
		return nil
	}
	blobs := filepath.Join(l.root, ocispec.ImageBlobsDir)
	algs, err := os.ReadDir(blobs)
	if err != nil {
		return err
	}
	for _, a := range algs {
		if err := only(filepath.Join(ocispec.ImageBlobsDir, a.Name()), nil); err != nil {
			return ignoreKept(err)
		}
	}
	for _, c := range []struct {
		rel  string
		want map[string]bool // name: is a directory
	}{
		{filepath.Join(WorkDir, tmpName), nil},
		{WorkDir, map[string]bool{lockName: false, writersLockName: false, tmpName: true}},
		{ocispec.ImageBlobsDir, map[string]bool{digest.SHA256.String(): true, digest.SHA512.String(): true}},
		{".", map[string]bool{ocispec.ImageLayoutFile: false, ocispec.ImageIndexFile: false, ocispec.ImageBlobsDir: true, WorkDir: true}},
	} {
		if err := only(c.rel, c.want); err != nil {
			return ignoreKept(err)
		}
	}
	dirs = dirs[:len(dirs)-1] // the root: Abandon removes it with opts.Dir
	// index.json and oci-layout last: until then it is a layout.
	for _, p := range files {
		if name := filepath.Base(p); filepath.Dir(p) == filepath.Clean(l.root) && (name == ocispec.ImageIndexFile || name == ocispec.ImageLayoutFile) {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	for _, p := range dirs {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	for _, name := range []string{ocispec.ImageIndexFile, ocispec.ImageLayoutFile} {
		if err := os.Remove(filepath.Join(l.root, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// ignoreKept turns errKept into success: a layout in use is kept.
func ignoreKept(err error) error {
	if errors.Is(err, errKept) {
		return nil
	}
	return err
}
