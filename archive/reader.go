package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/ocipack/ocipack/graph"
	"github.com/ocipack/ocipack/layout"
)

// Reader reads an archive in place, without unpacking it: it implements
// oras.ReadOnlyTarget (Fetch, Exists, Resolve), so unpack.Unpack and
// oras.Copy read from it as from a layout. Its methods are safe for
// concurrent use.
//
// Like layout.Layout's, Fetch does not verify what it returns: readers
// that need to trust the content verify it as they read (unpack and
// oras.Copy do).
type Reader struct {
	src      *source
	comp     Compression // None, Zstd or "gzip"
	frames   []frame     // compressed streams: where to start decompressing
	entries  map[digest.Digest]span
	index    *ocispec.Index
	contents *contents
	name     string
	// seekTable is true for a zstd archive with a seek table at its end.
	seekTable bool
}

// span is where an entry's content lies in the (decompressed) tar stream.
type span struct{ off, size int64 }

var _ oras.ReadOnlyTarget = (*Reader)(nil)

// Open opens an archive for reading in place: one archive file, or the
// volumes of a split archive (in any order; one volume, or the base name,
// finds the others). It reads the tar headers once to index the blobs,
// and checks the archive whole as Import does (see "What every reader
// checks" in the package doc): a cut copy or an archive holding a file
// twice fails here, naming what is wrong, before anything is read from it.
//
// An uncompressed tar is read through an io.SectionReader per blob. A zstd
// archive written by ocipack carries a seek table, so a Fetch decompresses
// from the frame holding the blob (at most a few MiB before it). A zstd or
// gzip archive written by other tools has no such table: Open decompresses
// it once to index it, and every Fetch decompresses from the start up to
// its blob, so reading n blobs costs up to n passes over the archive;
// import such archives instead when they are large.
func Open(ctx context.Context, paths ...string) (_ *Reader, err error) {
	src, err := openSource(paths)
	if err != nil {
		return nil, fmt.Errorf("open archive: %w", err)
	}
	r := &Reader{src: src, entries: map[digest.Digest]span{}, name: src.name, comp: None}
	defer func() {
		if err != nil {
			src.Close()
		}
	}()
	head := make([]byte, 4)
	if n, _ := src.ReadAt(head, 0); n < 4 {
		return nil, fmt.Errorf("open archive %s: %w: too short", r.name, ErrNotArchive)
	}
	switch {
	case bytes.Equal(head, zstdMagic):
		r.comp = Zstd
		if r.frames, err = readSeekTable(src, src.size); err != nil {
			return nil, fmt.Errorf("open archive %s: %w", r.name, err)
		}
		r.seekTable = r.frames != nil
		if r.frames == nil {
			r.frames = []frame{{}}
		}
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		r.comp, r.frames = "gzip", []frame{{}}
	}
	if err := r.scan(ctx); err != nil {
		return nil, fmt.Errorf("open archive %s: %w", r.name, err)
	}
	return r, nil
}

// scan reads every tar header, recording where blobs lie and reading
// index.json and the contents list, and judges the archive whole by the
// rules Import applies too (see tally).
func (r *Reader) scan(ctx context.Context) error {
	rs := &logicalSeeker{r: r}
	defer rs.Close()
	t := newTally()
	err := t.read(ctx, tar.NewReader(rs), func() int64 { return rs.pos }, func(d digest.Digest, size int64) error {
		r.entries[d] = span{off: rs.pos, size: size}
		return nil
	}, nil)
	if err != nil {
		return err
	}
	if err := t.end(rs.pos, zstdEnd{zstd: r.comp == Zstd, seekTable: r.seekTable}); err != nil {
		return err
	}
	r.index, r.contents = t.index, t.contents
	return nil
}

// Close closes the archive's files.
func (r *Reader) Close() error { return r.src.Close() }

// Index returns the archive's index.json.
func (r *Reader) Index() *ocispec.Index {
	idx := *r.index
	idx.Manifests = slices.Clone(idx.Manifests)
	return &idx
}

// Tags returns the archive's tags, sorted.
func (r *Reader) Tags(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var tags []string
	for _, d := range r.index.Manifests {
		if t := d.Annotations[ocispec.AnnotationRefName]; t != "" {
			tags = append(tags, t)
		}
	}
	slices.Sort(tags)
	return slices.Compact(tags), nil
}

// Blobs returns the digests of the blobs the archive holds and, for a
// delta, of those it needs but left out.
func (r *Reader) Blobs() DigestSet {
	s := DigestSet{}
	for d := range r.entries {
		s[d] = true
	}
	if r.contents != nil {
		for _, b := range r.contents.Required {
			s[b.Digest] = true
		}
	}
	return s
}

// Exists reports whether the archive holds the blob target describes,
// with its size. It implements oras-go's content.ReadOnlyStorage.
func (r *Reader) Exists(ctx context.Context, target ocispec.Descriptor) (bool, error) {
	if err := target.Digest.Validate(); err != nil {
		return false, fmt.Errorf("blob %q: %w", target.Digest, err)
	}
	e, ok := r.entries[target.Digest]
	return ok && e.size == target.Size, nil
}

// Fetch opens the blob target describes. It fails with layout.ErrNotFound
// when the archive does not hold it (a delta names what it left out) and
// layout.ErrSizeMismatch when the archive's entry has another size. It
// implements oras-go's content.Fetcher.
func (r *Reader) Fetch(ctx context.Context, target ocispec.Descriptor) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := target.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("blob %q: %w", target.Digest, err)
	}
	e, ok := r.entries[target.Digest]
	if !ok {
		if r.contents != nil && slices.ContainsFunc(r.contents.Required, func(b Blob) bool { return b.Digest == target.Digest }) {
			return nil, fmt.Errorf("blob %s: %w in archive %s: this delta archive left it out (the layout it was made against holds it)", target.Digest, layout.ErrNotFound, r.name)
		}
		return nil, fmt.Errorf("blob %s: %w in archive %s", target.Digest, layout.ErrNotFound, r.name)
	}
	if e.size != target.Size {
		return nil, fmt.Errorf("blob %s: %w: the archive's entry has %d bytes, descriptor says %d", target.Digest, layout.ErrSizeMismatch, e.size, target.Size)
	}
	rc, err := r.openAt(e.off)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", target.Digest, err)
	}
	return &limitedReadCloser{Reader: io.LimitReader(rc, e.size), c: rc}, nil
}

// Resolve returns the descriptor of a tag of the archive, or of a manifest
// digest ("sha256:…") it holds. It implements oras-go's content.Resolver.
func (r *Reader) Resolve(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	if reference == "" {
		return ocispec.Descriptor{}, fmt.Errorf("%w: empty reference; name a tag or a digest", layout.ErrInvalidReference)
	}
	if err := ctx.Err(); err != nil {
		return ocispec.Descriptor{}, err
	}
	d, derr := digest.Parse(reference)
	for _, m := range r.index.Manifests {
		if derr == nil && m.Digest == d || derr != nil && m.Annotations[ocispec.AnnotationRefName] == reference {
			return m, nil
		}
	}
	if derr != nil {
		tags, _ := r.Tags(ctx)
		return ocispec.Descriptor{}, fmt.Errorf("tag %q: %w in archive %s (it has %s)", reference, layout.ErrNotFound, r.name, strings.Join(tags, ", "))
	}
	e, ok := r.entries[d]
	if !ok {
		return ocispec.Descriptor{}, fmt.Errorf("manifest %s: %w in archive %s", d, layout.ErrNotFound, r.name)
	}
	desc := ocispec.Descriptor{Digest: d, Size: e.size}
	b, err := layout.ReadBlob(ctx, r, desc, layout.MaxManifestSize)
	if err != nil {
		return ocispec.Descriptor{}, tampered(err)
	}
	desc.MediaType, desc.ArtifactType, err = graph.Describe(b)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("blob %s: %w: not a manifest: %v", d, layout.ErrCorrupt, err)
	}
	return desc, nil
}

// openAt returns the decompressed tar stream from offset off.
func (r *Reader) openAt(off int64) (io.ReadCloser, error) {
	if r.comp == None {
		return io.NopCloser(io.NewSectionReader(r.src, off, r.src.size-off)), nil
	}
	f := r.frames[max(frameAt(r.frames, off), 0)]
	raw := io.NewSectionReader(r.src, f.c, r.src.size-f.c)
	var dec io.ReadCloser
	if r.comp == Zstd {
		z, err := zstd.NewReader(raw, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err != nil {
			return nil, err
		}
		dec = z.IOReadCloser()
	} else {
		g, err := gzip.NewReader(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotArchive, err)
		}
		dec = g
	}
	if _, err := io.CopyN(io.Discard, dec, off-f.d); err != nil {
		dec.Close()
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: %w", ErrTruncated, io.ErrUnexpectedEOF)
		}
		return nil, err
	}
	return dec, nil
}

type limitedReadCloser struct {
	io.Reader
	c io.Closer
}

func (l *limitedReadCloser) Close() error { return l.c.Close() }

// logicalSeeker reads the decompressed tar stream for scan, seeking (by
// starting at the nearest frame) when the tar reader skips an entry's
// content.
type logicalSeeker struct {
	r      *Reader
	pos    int64 // where the next Read starts
	cur    io.ReadCloser
	curPos int64
}

func (s *logicalSeeker) Read(p []byte) (int, error) {
	if s.cur == nil || s.pos != s.curPos {
		// Within a frame, decompressing on is cheaper than starting over;
		// a plain tar is simply read from the new position.
		forward := s.cur != nil && s.pos > s.curPos && s.r.comp != None &&
			frameAt(s.r.frames, s.pos) == frameAt(s.r.frames, s.curPos)
		if forward {
			if _, err := io.CopyN(io.Discard, s.cur, s.pos-s.curPos); err != nil {
				return 0, err
			}
			s.curPos = s.pos
		} else {
			if s.cur != nil {
				s.cur.Close()
			}
			rc, err := s.r.openAt(s.pos)
			if err != nil {
				s.cur = nil
				return 0, err
			}
			s.cur, s.curPos = rc, s.pos
		}
	}
	n, err := s.cur.Read(p)
	s.pos += int64(n)
	s.curPos += int64(n)
	return n, err
}

// Seek implements io.Seeker for io.SeekStart and io.SeekCurrent, which is
// what archive/tar uses to skip content.
func (s *logicalSeeker) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += s.pos
	default:
		return s.pos, errors.New("logicalSeeker: unsupported whence")
	}
	if off < 0 {
		return s.pos, errors.New("logicalSeeker: negative position")
	}
	s.pos = off
	return off, nil
}

func (s *logicalSeeker) Close() error {
	if s.cur != nil {
		return s.cur.Close()
	}
	return nil
}

// DigestsOfArchive returns the digests of the blobs an archive (one file,
// or the volumes of a split archive) holds and, for a delta, those it
// needs but left out: what a layout holds once the archive is imported.
// Use it as ExportOptions.Since to make a delta against it.
func DigestsOfArchive(ctx context.Context, paths ...string) (DigestSet, error) {
	r, err := Open(ctx, paths...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Blobs(), nil
}

// DigestsOfLayout returns the digests of the blobs stored in l, from a
// listing of its blobs directory.
func DigestsOfLayout(ctx context.Context, l *layout.Layout) (DigestSet, error) {
	root := filepath.Join(l.Path(), ocispec.ImageBlobsDir)
	algs, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("list blobs of %s: %w", l.Path(), err)
	}
	s := DigestSet{}
	for _, a := range algs {
		if !a.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(root, a.Name()))
		if err != nil {
			return nil, fmt.Errorf("list blobs of %s: %w", l.Path(), err)
		}
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			d := digest.NewDigestFromEncoded(digest.Algorithm(a.Name()), f.Name())
			if f.Type().IsRegular() && d.Validate() == nil {
				s[d] = true
			}
		}
	}
	return s, nil
}
