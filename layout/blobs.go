package layout

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/graph"
	"github.com/ocipack/ocipack/internal/hashcopy"
)

// Ingest stores the content read from r as a blob and returns its descriptor
// (sha256 digest, size, and the media type given). It reads r once, hashing
// while it writes to a temporary file in the layout, and renames that file to
// its digest at the end; memory use does not depend on the size of r. Content
// that is already stored is not stored twice.
func (l *Layout) Ingest(ctx context.Context, mediaType string, r io.Reader) (ocispec.Descriptor, error) {
	tmp, d, n, synced, err := l.writeTemp(ctx, r, digest.SHA256, -1)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := l.commitTemp(tmp, d, synced); err != nil {
		return ocispec.Descriptor{}, err
	}
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: n}, nil
}

// Push stores the content read from r, which must match expected's size and
// digest; content that does not is refused with ErrSizeMismatch or
// ErrDigestMismatch and nothing is stored. Push returns an error matching
// ErrAlreadyExists when the blob is stored already. It implements oras-go's
// content.Pusher.
func (l *Layout) Push(ctx context.Context, expected ocispec.Descriptor, r io.Reader) error {
	if err := graph.ValidateDigest(expected.Digest); err != nil {
		return fmt.Errorf("push blob %q: %w", expected.Digest, err)
	}
	// Held before looking, so that GC cannot remove a blob found here
	// before the caller references it.
	if err := l.holdWriting(ctx); err != nil {
		return err
	}
	if ok, _ := l.Exists(ctx, expected); ok {
		// The caller may reference it now: see commitTemp.
		l.markDirty(filepath.Dir(l.blobPath(expected.Digest)))
		return fmt.Errorf("blob %s: %w", expected.Digest, ErrAlreadyExists)
	}
	tmp, d, n, synced, err := l.writeTemp(ctx, r, expected.Digest.Algorithm(), expected.Size)
	if err != nil {
		return fmt.Errorf("blob %s: %w", expected.Digest, err)
	}
	if n != expected.Size {
		os.Remove(tmp)
		return fmt.Errorf("blob %s: %w: got %d bytes, want %d", expected.Digest, ErrSizeMismatch, n, expected.Size)
	}
	if d != expected.Digest {
		os.Remove(tmp)
		return fmt.Errorf("blob %s: %w: content hashes to %s", expected.Digest, ErrDigestMismatch, d)
	}
	if err := l.commitTemp(tmp, d, synced); err != nil {
		return err
	}
	return l.addReferrer(ctx, expected)
}

// writeTemp copies r to a new temporary file in the layout while hashing it
// with alg. When limit >= 0, at most limit+1 bytes are read, enough to tell
// that content is too long without reading all of it. On error the temporary
// file is removed.
//
// The file is synced (synced is true) unless the layout already stores a
// blob of that digest and size, which makes the copy redundant: commitTemp
// then removes it, or syncs it first if it has to rename it after all.
func (l *Layout) writeTemp(ctx context.Context, r io.Reader, alg digest.Algorithm, limit int64) (tmp string, d digest.Digest, n int64, synced bool, err error) {
	if !alg.Available() {
		return "", "", 0, false, fmt.Errorf("unsupported digest algorithm %q", alg)
	}
	if err := l.holdWriting(ctx); err != nil {
		return "", "", 0, false, err
	}
	dir := filepath.Join(l.root, WorkDir, tmpName)
	f, err := os.CreateTemp(dir, "blob-*")
	if errors.Is(err, fs.ErrNotExist) {
		if err = l.ensureDirs(); err == nil {
			f, err = os.CreateTemp(dir, "blob-*")
		}
	}
	if err != nil {
		return "", "", 0, false, fmt.Errorf("create temporary blob in %s: %w", dir, err)
	}
	// The deferred cleanup uses its own copy of the name: the error returns
	// below set the named result tmp to "".
	name := f.Name()
	tmp = name
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(name)
		}
	}()
	if limit >= 0 {
		r = io.LimitReader(r, limit+1)
	}
	h := alg.Hash()
	// FileWriter starts write-back as the copy goes, so that the Sync
	// below has little left to write.
	n, err = copyHashing(ctx, hashcopy.NewFileWriter(f), h, r)
	if err != nil {
		return "", "", 0, false, err
	}
	d = digest.NewDigest(alg, h)
	if fi, serr := os.Lstat(l.blobPath(d)); serr != nil || !fi.Mode().IsRegular() || fi.Size() != n {
		if err = f.Sync(); err != nil {
			return "", "", 0, false, fmt.Errorf("sync %s: %w", tmp, err)
		}
		synced = true
	}
	if err = f.Close(); err != nil {
		return "", "", 0, false, fmt.Errorf("write %s: %w", tmp, err)
	}
	return tmp, d, n, synced, nil
}

// copyHashing copies r to w and to h, checking ctx between reads. The
// content is read in pieces of copyBufferSize, each hashed and written while
// the next is read (see hashcopy.Copy), and only a clean io.EOF from r ends
// it: a source's own io.ErrUnexpectedEOF is a failure, not an end. A failed
// write is reported as "write blob: ...".
func copyHashing(ctx context.Context, w io.Writer, h hash.Hash, r io.Reader) (int64, error) {
	n, err := hashcopy.Copy(ctx, w, h, r)
	if we, ok := errors.AsType[*hashcopy.WriteError](err); ok {
		return n, fmt.Errorf("write blob: %w", we.Err)
	}
	return n, err
}

// commit renames a verified temporary file, which the caller has synced, to
// its digest's path.
func (l *Layout) commit(tmp string, d digest.Digest) error {
	return l.commitTemp(tmp, d, true)
}

// commitTemp renames a verified temporary file to its digest's path. When
// synced is false the file is synced first, unless the blob turns out to be
// stored already (the file is then only removed).
//
// The rename is made durable lazily: the blob's directory is only marked
// dirty here, and synced, once for all the blobs of an operation, before
// index.json is next replaced or at Close (see syncDirty).
func (l *Layout) commitTemp(tmp string, d digest.Digest, synced bool) error {
	dst := l.blobPath(d)
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if fi, err := os.Lstat(dst); err == nil && fi.Mode().IsRegular() {
		if tfi, err := os.Stat(tmp); err == nil && tfi.Size() == fi.Size() {
			// Stored already (by us or by a concurrent writer): the
			// content is the same, since the digest is. Another
			// process may have renamed it and not yet synced the
			// directory; as the caller may reference it now, the
			// directory is synced before index.json is written,
			// as for a blob renamed here.
			os.Remove(tmp)
			l.markDirty(filepath.Dir(dst))
			return nil
		}
		// A damaged copy (wrong size) is replaced by the verified one.
	}
	if !synced {
		if err := syncFile(tmp); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	dir := filepath.Dir(dst)
	// Never through a link: blobs/ was checked when the writing lock was
	// taken (ensureDirs), blobs/<alg>/ is checked here, or created with
	// its parent by ensureDir, which checks both.
	fi, statErr := os.Lstat(dir)
	if statErr != nil || !fi.IsDir() {
		if err := l.ensureDir(path.Join(ocispec.ImageBlobsDir, d.Algorithm().String())); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store blob %s: %w", d, err)
	}
	l.markDirty(dir)
	if statErr != nil {
		// blobs/<alg>/ was just created: its entry in blobs/ must be
		// durable too.
		l.markDirty(filepath.Dir(dir))
	}
	return nil
}

// syncFile syncs the file at path, through a new descriptor.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}

// Exists reports whether the blob target describes is stored with the right
// size. It implements oras-go's content.ReadOnlyStorage.
func (l *Layout) Exists(ctx context.Context, target ocispec.Descriptor) (bool, error) {
	if err := graph.ValidateDigest(target.Digest); err != nil {
		return false, fmt.Errorf("blob %q: %w", target.Digest, err)
	}
	p := l.blobPath(target.Digest)
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	ok := fi.Mode().IsRegular() && fi.Size() == target.Size
	if ok && l.isWriting() {
		// A writer that skips a stored blob (oras.Copy, import) may tag
		// it next, and another process may have renamed it without
		// syncing its directory yet: sync it before index.json.
		l.markDirty(filepath.Dir(p))
	}
	return ok, nil
}

// Fetch opens the blob target describes. It fails with ErrNotFound when the
// blob is missing and ErrSizeMismatch when the stored file has another size.
// It does not hash the content: callers that need to trust it verify the
// digest as they read (see VerifyReader). It implements oras-go's
// content.Fetcher.
func (l *Layout) Fetch(ctx context.Context, target ocispec.Descriptor) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := graph.ValidateDigest(target.Digest); err != nil {
		return nil, fmt.Errorf("blob %q: %w", target.Digest, err)
	}
	p := l.blobPath(target.Digest)
	// A hostile layout may hold a fifo (which would block Open) or a
	// symlink to any file of the machine where a blob should be, or have
	// its blob directory swapped for a link after Open checked it.
	if err := l.checkBlobDirs(target.Digest); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(p); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("blob %s: %w: %s is a %v, not a regular file", target.Digest, ErrCorrupt, p, fi.Mode().Type())
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("blob %s: %w in layout %s", target.Digest, ErrNotFound, l.root)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.Size() != target.Size {
		f.Close()
		return nil, fmt.Errorf("blob %s: %w: stored file has %d bytes, descriptor says %d", target.Digest, ErrSizeMismatch, fi.Size(), target.Size)
	}
	return f, nil
}

// checkBlobDirs refuses to read a blob of digest d through blobs/ or
// blobs/<alg>/ when either is no longer a real directory (a link swapped
// in after Open checked the layout, by a layout served or read while
// another process changes it): a link there could point anywhere on the
// machine. Missing directories are left to the caller (the blob is not
// found).
func (l *Layout) checkBlobDirs(d digest.Digest) error {
	for _, rel := range []string{ocispec.ImageBlobsDir, ocispec.ImageBlobsDir + "/" + d.Algorithm().String()} {
		fi, err := os.Lstat(filepath.Join(l.root, filepath.FromSlash(rel)))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("layout %s: %w", l.root, err)
		}
		if err := l.wantKind(rel, fi.Mode(), true); err != nil {
			return err
		}
	}
	return nil
}
