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
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrPartialBusy means another process is downloading the same blob into
// the layout right now.
var ErrPartialBusy = errors.New("blob is being downloaded by another process")

// Partial is a blob being downloaded into the layout under a name that
// outlives the process, so that an interrupted download continues where it
// stopped instead of starting over. It lives in the layout's temporary area
// (.ocipack/tmp/partial-ALG-HEX): the file there always holds the first
// Offset bytes of the blob, which OpenPartial hashes again (nothing on disk
// is trusted), and Write appends to it while hashing.
//
// A download in several ranges at once keeps each later range in a segment
// file of its own (partial-ALG-HEX.at-START), which grows from START; Join
// appends the segments, in order and hashed, once every range is complete.
// Commit then checks the size and digest before the blob becomes visible.
//
// gc removes partial downloads along with every other temporary file.
type Partial struct {
	l      *Layout
	desc   ocispec.Descriptor
	path   string
	f      *os.File
	lock   *fileLock
	h      hash.Hash
	offset int64
}

// Segment is a range of a partial blob downloaded into a file of its own.
type Segment struct {
	// Start is the blob offset of the segment's first byte.
	Start int64
	// Len is how many bytes of the segment are on disk.
	Len int64
}

// OpenPartial opens the partial download of desc, creating it if there is
// none, and hashes the bytes already there. It returns ErrAlreadyExists if
// the blob is stored, and ErrPartialBusy if another process (or Partial)
// holds it. The caller must Close (or Commit) it.
func (l *Layout) OpenPartial(ctx context.Context, desc ocispec.Descriptor) (_ *Partial, err error) {
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("blob %q: %w", desc.Digest, err)
	}
	if desc.Size < 0 {
		return nil, fmt.Errorf("blob %s: negative size %d", desc.Digest, desc.Size)
	}
	if err := l.holdWriting(ctx); err != nil {
		return nil, err
	}
	if ok, _ := l.Exists(ctx, desc); ok {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, ErrAlreadyExists)
	}
	dir := filepath.Join(l.root, WorkDir, tmpName)
	if err := l.ensureDirs(); err != nil {
		return nil, err
	}
	name := "partial-" + string(desc.Digest.Algorithm()) + "-" + desc.Digest.Encoded()
	base := filepath.Join(dir, name)
	lk, err := l.tryLock(path.Join(WorkDir, tmpName, name+".lock"), true)
	if errors.Is(err, ErrUnsafeLayout) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("lock partial download of %s: %w", desc.Digest, err)
	}
	if lk == nil {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, ErrPartialBusy)
	}
	defer func() {
		if err != nil {
			lk.unlock()
		}
	}()
	// Another process may have stored it while this one waited.
	if ok, _ := l.Exists(ctx, desc); ok {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, ErrAlreadyExists)
	}
	// A symlink or fifo planted here must not be followed or block.
	if fi, err := os.Lstat(base); err == nil && !fi.Mode().IsRegular() {
		if err := os.Remove(base); err != nil {
			return nil, fmt.Errorf("partial download %s is a %v and cannot be removed: %w", base, fi.Mode().Type(), err)
		}
	}
	f, err := openRegular(base, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open partial download of %s: %w", desc.Digest, err)
	}
	p := &Partial{l: l, desc: desc, path: base, f: f, lock: lk, h: desc.Digest.Algorithm().Hash()}
	if err := p.rehash(ctx); err != nil {
		f.Close()
		return nil, err
	}
	return p, nil
}

// rehash hashes what the partial file holds, cutting it back to the blob's
// size if it is longer.
func (p *Partial) rehash(ctx context.Context) error {
	fi, err := p.f.Stat()
	if err != nil {
		return err
	}
	n := fi.Size()
	if n > p.desc.Size {
		if err := p.f.Truncate(p.desc.Size); err != nil {
			return fmt.Errorf("partial download of %s: %w", p.desc.Digest, err)
		}
		n = p.desc.Size
	}
	if _, err := p.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	got, err := copyHashing(ctx, io.Discard, p.h, io.LimitReader(p.f, n))
	if err != nil {
		return fmt.Errorf("re-read partial download of %s: %w", p.desc.Digest, err)
	}
	if got != n {
		return fmt.Errorf("re-read partial download of %s: %w: %d of %d bytes", p.desc.Digest, io.ErrUnexpectedEOF, got, n)
	}
	p.offset = n
	_, err = p.f.Seek(n, io.SeekStart)
	return err
}

// Descriptor is the blob being downloaded.
func (p *Partial) Descriptor() ocispec.Descriptor { return p.desc }

// Offset is how many bytes of the blob, from its start, are on disk and
// hashed: where the download continues.
func (p *Partial) Offset() int64 { return p.offset }

// Write appends b to the blob and hashes it. Bytes past the blob's size are
// refused with ErrSizeMismatch.
func (p *Partial) Write(b []byte) (int, error) {
	n, err := offsetWriter{p}.Write(b)
	p.h.Write(b[:n])
	return n, err
}

// ReadFrom appends what r yields to the blob, hashing while it writes (on
// another core, as Ingest does), until r ends. More than the blob's size is
// refused with ErrSizeMismatch; what was written stays.
func (p *Partial) ReadFrom(r io.Reader) (int64, error) {
	rest := p.desc.Size - p.offset
	n, err := copyHashing(context.Background(), offsetWriter{p}, p.h, io.LimitReader(r, rest+1))
	if err == nil && n > rest {
		err = fmt.Errorf("blob %s: %w: more than the %d bytes of its descriptor", p.desc.Digest, ErrSizeMismatch, p.desc.Size)
	}
	return n, err
}

// offsetWriter writes to the partial file and counts its offset, without
// hashing (copyHashing does).
type offsetWriter struct{ p *Partial }

func (w offsetWriter) Write(b []byte) (int, error) {
	if int64(len(b)) > w.p.desc.Size-w.p.offset {
		return 0, fmt.Errorf("blob %s: %w: more than the %d bytes of its descriptor", w.p.desc.Digest, ErrSizeMismatch, w.p.desc.Size)
	}
	n, err := w.p.f.Write(b)
	w.p.offset += int64(n)
	return n, err
}

// Reset throws away every byte downloaded so far (and every segment), to
// start the blob over.
func (p *Partial) Reset() error {
	if err := p.removeSegments(); err != nil {
		return err
	}
	if err := p.f.Truncate(0); err != nil {
		return err
	}
	if _, err := p.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	p.h.Reset()
	p.offset = 0
	return nil
}

// Segments lists the segment files of the download, by Start.
func (p *Partial) Segments() ([]Segment, error) {
	dir := filepath.Dir(p.path)
	prefix := filepath.Base(p.path) + ".at-"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Segment
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		start, err := strconv.ParseInt(rest, 10, 64)
		if err != nil || start <= 0 || start >= p.desc.Size || !e.Type().IsRegular() {
			// Not one of ours: a segment name is written by OpenSegment only.
			os.Remove(filepath.Join(dir, e.Name()))
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return nil, err
		}
		out = append(out, Segment{Start: start, Len: fi.Size()})
	}
	slices.SortFunc(out, func(a, b Segment) int { return int(min(max(a.Start-b.Start, -1), 1)) })
	return out, nil
}

// OpenSegment opens (creating it if need be) the segment that starts at
// start, for appending. The caller closes it.
func (p *Partial) OpenSegment(start int64) (*os.File, error) {
	if start <= 0 || start >= p.desc.Size {
		return nil, fmt.Errorf("blob %s: segment at %d outside its %d bytes", p.desc.Digest, start, p.desc.Size)
	}
	name := p.segmentPath(start)
	f, err := openRegular(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("segment %s: %w", name, err)
	}
	return f, nil
}

func (p *Partial) segmentPath(start int64) string {
	return p.path + ".at-" + strconv.FormatInt(start, 10)
}

// TruncateSegment cuts the segment at start back to n bytes.
// A link planted in its place is refused, not followed.
func (p *Partial) TruncateSegment(start, n int64) error {
	f, err := openRegular(p.segmentPath(start), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("segment %s: %w", p.segmentPath(start), err)
	}
	err = f.Truncate(n)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Join appends every segment to the blob, in order and hashed, and removes
// it. Each segment must start where the blob's bytes so far end, and all
// together they must complete the blob.
func (p *Partial) Join(ctx context.Context) error {
	segs, err := p.Segments()
	if err != nil {
		return err
	}
	for _, s := range segs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.Start != p.offset {
			return fmt.Errorf("blob %s: %w: segment at %d does not follow byte %d", p.desc.Digest, ErrSizeMismatch, s.Start, p.offset)
		}
		f, err := openRegular(p.segmentPath(s.Start), os.O_RDONLY, 0)
		if err != nil {
			return err
		}
		_, err = p.ReadFrom(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("join segment at %d of blob %s: %w", s.Start, p.desc.Digest, err)
		}
		if err := os.Remove(p.segmentPath(s.Start)); err != nil {
			return err
		}
	}
	return nil
}

// removeSegments deletes the segment files.
func (p *Partial) removeSegments() error {
	segs, err := p.Segments()
	if err != nil {
		return err
	}
	for _, s := range segs {
		if err := os.Remove(p.segmentPath(s.Start)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Commit checks that the whole blob is there with the right digest and
// stores it; the partial download is gone then. A blob whose bytes do not
// hash to its digest is discarded (ErrDigestMismatch), so that the next try
// starts over.
func (p *Partial) Commit(ctx context.Context) error {
	if p.f == nil {
		return fmt.Errorf("blob %s: partial download already closed", p.desc.Digest)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.offset != p.desc.Size {
		return fmt.Errorf("blob %s: %w: have %d of %d bytes", p.desc.Digest, ErrSizeMismatch, p.offset, p.desc.Size)
	}
	// Written by Write and Join only, which hash what they write.
	got := digest.NewDigest(p.desc.Digest.Algorithm(), p.h)
	if got != p.desc.Digest {
		p.discard()
		return fmt.Errorf("blob %s: %w: content hashes to %s", p.desc.Digest, ErrDigestMismatch, got)
	}
	if err := p.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", p.path, err)
	}
	if err := p.f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", p.path, err)
	}
	p.f = nil
	// commit renames the file away; the lock file is removed, then released.
	err := p.l.commit(p.path, p.desc.Digest)
	os.Remove(p.path + ".lock")
	p.lock.unlock()
	if err != nil {
		return err
	}
	return p.l.addReferrer(ctx, p.desc)
}

// discard removes the download and its segments.
func (p *Partial) discard() {
	p.removeSegments()
	p.f.Close()
	p.f = nil
	os.Remove(p.path)
	os.Remove(p.path + ".lock")
	p.lock.unlock()
}

// Close releases the partial download, keeping what was downloaded for the
// next try. Closing a committed Partial does nothing.
func (p *Partial) Close() error {
	if p.f == nil {
		return nil
	}
	err := p.f.Close()
	p.f = nil
	p.lock.unlock()
	return err
}

// TempDir is the layout's temporary area (.ocipack/tmp), where partial
// downloads and the state of interrupted uploads are kept. gc empties it.
func (l *Layout) TempDir() string { return filepath.Join(l.root, WorkDir, tmpName) }
