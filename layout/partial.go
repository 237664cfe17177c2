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

// ErrWriterBusy means another process (or another Writer) is writing the
// same blob into the layout right now.
var ErrWriterBusy = errors.New("blob is being written by another process")

// Writer is a blob being written into the layout in containerd's ingest
// style: it is opened by name (the expected descriptor), it takes bytes at
// the offset it reports (Offset), and the blob becomes visible only when
// Commit finds the expected size and digest. Its bytes live under a name
// that outlives the process, in the layout's temporary area
// (.ocipack/tmp/partial-ALG-HEX), so that an interrupted download continues
// where it stopped instead of starting over: the file there always holds
// the first Offset bytes of the blob, which OpenWriter hashes again
// (nothing on disk is trusted), and Write appends to it while hashing.
//
// A download in several ranges at once (see Sections) keeps each later
// range in a segment file of its own (partial-ALG-HEX.at-START), which
// grows from START; Commit appends the segments, in order and hashed,
// before it checks the size and digest.
//
// gc removes unfinished writers along with every other temporary file.
type Writer struct {
	l      *Layout
	desc   ocispec.Descriptor
	path   string
	f      *os.File
	lock   *fileLock
	h      hash.Hash
	offset int64
	// open are the segment files Sections opened, closed by Close, Commit
	// and Reset.
	open []*os.File
}

// segment is a range of a blob written into a file of its own.
type segment struct {
	// Start is the blob offset of the segment's first byte.
	Start int64
	// Len is how many bytes of the segment are on disk.
	Len int64
}

// OpenWriter opens the writer of the blob desc describes, continuing what
// an earlier writer of it left (it hashes those bytes again), or starting
// it. It returns ErrAlreadyExists if the blob is stored, and ErrWriterBusy
// if another process (or Writer) holds it. The caller must Close it (after
// Commit too).
func (l *Layout) OpenWriter(ctx context.Context, desc ocispec.Descriptor) (_ *Writer, err error) {
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
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, ErrWriterBusy)
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
	p := &Writer{l: l, desc: desc, path: base, f: f, lock: lk, h: desc.Digest.Algorithm().Hash()}
	if err := p.rehash(ctx); err != nil {
		f.Close()
		return nil, err
	}
	return p, nil
}

// rehash hashes what the partial file holds, cutting it back to the blob's
// size if it is longer.
func (p *Writer) rehash(ctx context.Context) error {
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

// Descriptor is the blob being written.
func (p *Writer) Descriptor() ocispec.Descriptor { return p.desc }

// Offset is how many bytes of the blob, from its start, are on disk and
// hashed: where Write continues.
func (p *Writer) Offset() int64 { return p.offset }

// Write appends b to the blob and hashes it. Bytes past the blob's size are
// refused with ErrSizeMismatch.
func (p *Writer) Write(b []byte) (int, error) {
	n, err := offsetWriter{p}.Write(b)
	p.h.Write(b[:n])
	return n, err
}

// ReadFrom appends what r yields to the blob, hashing while it writes (on
// another core, as Ingest does), until r ends. More than the blob's size is
// refused with ErrSizeMismatch; what was written stays.
func (p *Writer) ReadFrom(r io.Reader) (int64, error) {
	rest := p.desc.Size - p.offset
	n, err := copyHashing(context.Background(), offsetWriter{p}, p.h, io.LimitReader(r, rest+1))
	if err == nil && n > rest {
		err = fmt.Errorf("blob %s: %w: more than the %d bytes of its descriptor", p.desc.Digest, ErrSizeMismatch, p.desc.Size)
	}
	return n, err
}

// offsetWriter writes to the partial file and counts its offset, without
// hashing (copyHashing does).
type offsetWriter struct{ p *Writer }

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
func (p *Writer) Reset() error {
	p.closeSegments()
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

// segments lists the segment files of the download, by Start.
func (p *Writer) segments() ([]segment, error) {
	dir := filepath.Dir(p.path)
	prefix := filepath.Base(p.path) + ".at-"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []segment
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		start, err := strconv.ParseInt(rest, 10, 64)
		if err != nil || start <= 0 || start >= p.desc.Size || !e.Type().IsRegular() {
			// Not one of ours: a segment name is written by openSegment only.
			os.Remove(filepath.Join(dir, e.Name()))
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return nil, err
		}
		out = append(out, segment{Start: start, Len: fi.Size()})
	}
	slices.SortFunc(out, func(a, b segment) int { return int(min(max(a.Start-b.Start, -1), 1)) })
	return out, nil
}

// openSegment opens (creating it if need be) the segment that starts at
// start, for appending. The caller closes it.
func (p *Writer) openSegment(start int64) (*os.File, error) {
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

func (p *Writer) segmentPath(start int64) string {
	return p.path + ".at-" + strconv.FormatInt(start, 10)
}

// truncateSegment cuts the segment at start back to n bytes.
// A link planted in its place is refused, not followed.
func (p *Writer) truncateSegment(start, n int64) error {
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

// join appends every segment to the blob, in order and hashed, and removes
// it. Each segment must start where the blob's bytes so far end.
func (p *Writer) join(ctx context.Context) error {
	p.closeSegments()
	segs, err := p.segments()
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
func (p *Writer) removeSegments() error {
	segs, err := p.segments()
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

// Commit appends the segments (see Sections), checks that the blob has
// exactly the expected size and digest, and stores it; the writer's files
// are gone then. A blob that is short (a range still missing) fails with
// ErrSizeMismatch and is kept, for a later writer to complete. A blob that
// is complete but hashes to another digest, or is longer than expected, is
// discarded (ErrDigestMismatch, ErrSizeMismatch), so that the next writer
// starts over. Close the writer after Commit too.
func (p *Writer) Commit(ctx context.Context) error {
	if p.f == nil {
		return fmt.Errorf("blob %s: writer already closed", p.desc.Digest)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.join(ctx); err != nil {
		if errors.Is(err, ErrSizeMismatch) && p.offset == p.desc.Size {
			p.discard() // complete, and more follows: nothing to resume
		}
		return err
	}
	if p.offset != p.desc.Size {
		return fmt.Errorf("blob %s: %w: have %d of %d bytes", p.desc.Digest, ErrSizeMismatch, p.offset, p.desc.Size)
	}
	// Written by Write and join only, which hash what they write.
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

// discard removes the writer's files.
func (p *Writer) discard() {
	p.closeSegments()
	p.removeSegments()
	p.f.Close()
	p.f = nil
	os.Remove(p.path)
	os.Remove(p.path + ".lock")
	p.lock.unlock()
}

// Close releases the writer, keeping what was written for the next writer
// of the blob. Closing a committed or discarded Writer does nothing.
func (p *Writer) Close() error {
	p.closeSegments()
	if p.f == nil {
		return nil
	}
	err := p.f.Close()
	p.f = nil
	p.lock.unlock()
	return err
}

func (p *Writer) closeSegments() {
	for _, f := range p.open {
		f.Close()
	}
	p.open = nil
}

// Section is a range of a blob that a Writer still lacks, [Start, End),
// and where its bytes go: written in order from Start on (ReadFrom).
type Section struct {
	// Start is the blob offset of the first byte missing.
	Start int64
	// End is the blob offset just past the section.
	End int64

	w   *Writer  // the first section: the blob's own file, hashed
	seg *os.File // a later section: its segment file
}

// ReadFrom writes what r yields at the section's position, until r ends.
// Sections may be filled at the same time, each from one goroutine.
func (s *Section) ReadFrom(r io.Reader) (int64, error) {
	if s.w != nil {
		return s.w.ReadFrom(r) // hashes on another core while it writes
	}
	// writerOnly hides the file's ReadFrom, so that the buffer given is
	// used and r sees reads of its size.
	return io.CopyBuffer(writerOnly{s.seg}, r, make([]byte, 256<<10))
}

type writerOnly struct{ io.Writer }

// Sections returns what the blob still lacks: the rest of its first range
// (from Offset), and the rest of each segment up to the next segment's
// start. With n > 1 and no segments yet, the rest is first split into up
// to n sections of at least minLen bytes each, which may be filled at the
// same time; a segment longer than its range (never written so) is cut
// back. Commit joins them. A section with Start == End is complete.
func (p *Writer) Sections(n int, minLen int64) ([]*Section, error) {
	if p.f == nil {
		return nil, fmt.Errorf("blob %s: writer already closed", p.desc.Digest)
	}
	p.closeSegments()
	size := p.desc.Size
	segs, err := p.segments()
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 && n > 1 && minLen > 0 {
		rest := size - p.offset
		if k := min(int64(n), rest/minLen); k > 1 {
			step := rest / k
			for i := int64(1); i < k; i++ {
				f, err := p.openSegment(p.offset + i*step)
				if err != nil {
					return nil, err
				}
				f.Close()
			}
			if segs, err = p.segments(); err != nil {
				return nil, err
			}
		}
	}
	first := size
	if len(segs) > 0 {
		first = segs[0].Start
	}
	out := []*Section{{Start: p.offset, End: first, w: p}}
	for i, sg := range segs {
		end := size
		if i+1 < len(segs) {
			end = segs[i+1].Start
		}
		if sg.Start+sg.Len > end {
			if err := p.truncateSegment(sg.Start, end-sg.Start); err != nil {
				return nil, err
			}
			sg.Len = end - sg.Start
		}
		f, err := p.openSegment(sg.Start)
		if err != nil {
			p.closeSegments()
			return nil, err
		}
		p.open = append(p.open, f)
		out = append(out, &Section{Start: sg.Start + sg.Len, End: end, seg: f})
	}
	return out, nil
}

// tempDir is the layout's directory for temporary files and partial
// downloads (.ocipack/tmp), which gc empties.
func (l *Layout) tempDir() string { return filepath.Join(l.root, WorkDir, tmpName) }
