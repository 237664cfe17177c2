package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/signing"
)

// ImportOptions tunes Import.
type ImportOptions struct {
	// Progress, when not nil, is called as the archive is read, with the
	// archive bytes read so far and the archive's size (0 when unknown,
	// for a stream).
	Progress func(done, total int64)
	// FreeSpace replaces the free-space query Import makes before storing
	// blobs (nil means FreeSpace); tests use it.
	FreeSpace func(path string) (int64, error)
	// Policy, when not nil, requires a valid signature (see
	// signing.Verify) of every named entry of the archive's index.json
	// (signature tags such as sha256-<hex>.sig aside), found in the
	// archive or in the layout (a delta's base). An archive file ocipack
	// wrote (a tar, or zstd with a seek table) is checked read in place
	// before anything is stored; any archive is checked again once its
	// blobs are stored and before anything is tagged. Without a valid
	// signature the import fails with a *signing.FailedError naming each
	// such entry, and the layout is left as it was.
	Policy *signing.Policy
}

// ImportReport describes an import.
type ImportReport struct {
	// Tags are the tags added (or moved), sorted.
	Tags []string
	// Blobs is the number of blobs stored.
	Blobs int
	// Skipped is the number of the archive's blobs the target held already.
	Skipped int
	// Bytes is the total size of the blobs stored.
	Bytes int64
	// Delta is true for a delta archive.
	Delta bool
}

// Import adds the archive at paths (one archive file, or the volumes of a
// split archive in any order; a single volume or base name finds its
// siblings) to the layout dst: every blob dst lacks, then every tag of
// the archive's index.json (moving tags dst has) and its untagged
// referrers.
//
// The archive is read once, in order. Every blob is verified against its
// digest while it is stored, and every volume's payload against its
// header. Tags are written last, in one update of index.json, once every
// blob is stored and every tag's graph is complete in dst. On any failure
// (ErrTampered, ErrTruncated, ErrMissingVolume, ErrForeignVolume,
// ErrIncompleteDelta, ErrNoSpace, ErrUnsafeEntry, a cancelled ctx, a full
// disk) the blobs this import stored are removed again and index.json is
// not touched: dst is left as it was. (While another process writes into
// dst, which may have found one of them stored and referenced it, they
// are left for gc instead.)
//
// Archives ocipack writes list their contents first, so a delta whose
// base dst lacks, or an archive dst has no room for, is refused before
// anything is stored. Plain tars of a layout (`tar -cf x.tar -C dir .`,
// `oras backup`), uncompressed, gzip or zstd, are read too, whatever the
// order of their entries; their blobs that no tag reaches are not kept.
// The caller closes dst.
func Import(ctx context.Context, paths []string, dst *layout.Layout, opts ImportOptions) (*ImportReport, error) {
	if opts.Policy != nil {
		if err := precheckSigned(ctx, paths, dst, opts.Policy); err != nil {
			return nil, err
		}
	}
	src, err := openSource(paths)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer src.Close()
	var done int64
	var onRead func(int)
	if opts.Progress != nil {
		onRead = func(n int) { done += int64(n); opts.Progress(done, src.size) }
	}
	rep, err := importStream(ctx, src.stream(onRead), dst, opts)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", src.name, err)
	}
	return rep, nil
}

// ImportStream is Import reading one archive from r, such as standard
// input.
func ImportStream(ctx context.Context, r io.Reader, dst *layout.Layout, opts ImportOptions) (*ImportReport, error) {
	var done int64
	if opts.Progress != nil {
		r = &countReader{r: r, fn: func(n int) { done += int64(n); opts.Progress(done, 0) }}
	}
	rep, err := importStream(ctx, r, dst, opts)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	return rep, nil
}

// ImportDir is Import into the layout directory dir, created when it does
// not exist. When the import fails, it undoes only what it added: the
// blobs it stored (as Import does) and, when it created the layout (in a
// new or empty directory), the layout's files and the directory it
// created, once nothing else uses them. What another writer stored and
// tagged there meanwhile (a concurrent pack) stays, with the layout.
func ImportDir(ctx context.Context, paths []string, dir string, opts ImportOptions) (*ImportReport, error) {
	return importDir(ctx, dir, func(l *layout.Layout) (*ImportReport, error) {
		return Import(ctx, paths, l, opts)
	})
}

// ImportStreamDir is ImportDir reading one archive from r, such as
// standard input.
func ImportStreamDir(ctx context.Context, r io.Reader, dir string, opts ImportOptions) (*ImportReport, error) {
	return importDir(ctx, dir, func(l *layout.Layout) (*ImportReport, error) {
		return ImportStream(ctx, r, l, opts)
	})
}

// abandonTimeout bounds how long a failed import waits for other writers
// to finish before it leaves what it added for gc.
const abandonTimeout = 250 * time.Millisecond

// importDir opens (or creates) the layout dir, runs fn on it and, when fn
// fails, removes the layout again if it created it and nothing else uses
// it by then (see layout.Layout.Abandon).
func importDir(ctx context.Context, dir string, fn func(*layout.Layout) (*ImportReport, error)) (*ImportReport, error) {
	created, emptied := false, false
	if entries, err := os.ReadDir(dir); err == nil {
		emptied = len(entries) == 0
	} else if errors.Is(err, fs.ErrNotExist) {
		created = true
	} else {
		return nil, fmt.Errorf("import: %w", err)
	}
	l, err := layout.OpenOrCreate(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	rep, err := fn(l)
	cerr := l.Close()
	if err == nil {
		return rep, cerr
	}
	if created || emptied {
		// Not ctx, which may be why the import stopped.
		actx, cancel := context.WithTimeout(context.Background(), abandonTimeout)
		defer cancel()
		_ = l.Abandon(actx, layout.AbandonOptions{Layout: true, Dir: created})
	}
	return nil, err
}

// importer is one import's state.
type importer struct {
	ctx     context.Context
	dst     *layout.Layout
	opts    ImportOptions
	t       *tally
	seen    map[digest.Digest]int64
	created []digest.Digest
	rep     ImportReport
}

func importStream(ctx context.Context, r io.Reader, dst *layout.Layout, opts ImportOptions) (_ *ImportReport, err error) {
	im := &importer{ctx: ctx, dst: dst, opts: opts, t: newTally(), seen: map[digest.Digest]int64{}}
	// Blobs dst has are skipped: hold GC off from before they are looked
	// at until the caller closes dst.
	if err := dst.HoldForWriting(ctx); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			im.rollback()
		}
	}()
	in, err := openTar(r)
	if err != nil {
		return nil, err
	}
	defer in.close()
	if err := im.readAll(in); err != nil {
		return nil, err
	}
	z, err := in.end()
	if err != nil {
		return nil, err
	}
	if err := im.t.end(in.pos.pos, z); err != nil {
		return nil, err
	}
	if err := im.finish(); err != nil {
		return nil, err
	}
	rep := im.rep
	return &rep, nil
}

// tarStream is the tar inside an archive read as a stream.
type tarStream struct {
	tr    *tar.Reader
	pos   *posReader  // the decompressed tar stream, counted
	tail  *tailKeeper // the zstd stream's end (zstd only)
	dec   *zstd.Decoder
	close func()
}

// end reads what follows the tar's end in a zstd stream (the padding, the
// seek table) and says whether a valid seek table ends it.
func (s *tarStream) end() (zstdEnd, error) {
	if s.dec == nil {
		return zstdEnd{}, nil
	}
	if _, err := io.Copy(io.Discard, s.pos); err != nil {
		return zstdEnd{}, streamError(err, false)
	}
	frames, err := readSeekTable(s.tail, s.tail.n)
	if err != nil {
		return zstdEnd{}, err
	}
	return zstdEnd{zstd: true, seekTable: frames != nil}, nil
}

// openTar detects the compression of r (zstd, gzip or none) from its first
// bytes and returns a tar reader of its content.
func openTar(r io.Reader) (*tarStream, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	head, err := br.Peek(4)
	if err != nil && len(head) == 0 {
		if err == io.EOF {
			return nil, fmt.Errorf("%w: the file is empty", ErrNotArchive)
		}
		return nil, err
	}
	s := &tarStream{close: func() {}}
	var plain io.Reader = br
	switch {
	case bytes.HasPrefix(head, zstdMagic):
		s.tail = &tailKeeper{r: br, ring: make([]byte, seekTailMax)}
		d, err := zstd.NewReader(s.tail, zstd.WithDecoderConcurrency(2), zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err != nil {
			return nil, err
		}
		s.dec, s.close, plain = d, d.Close, d
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		g, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotArchive, err)
		}
		s.close, plain = func() { g.Close() }, g
	}
	s.pos = &posReader{r: plain}
	s.tr = tar.NewReader(s.pos)
	return s, nil
}

// readAll reads every entry of the archive, up to the tar's end.
func (im *importer) readAll(in *tarStream) error {
	return im.t.read(im.ctx, in.tr, func() int64 { return in.pos.pos }, func(d digest.Digest, size int64) error {
		return im.blob(in.tr, d, size)
	}, im.preflight)
}

// streamError explains an error reading the archive's stream.
func streamError(err error, first bool) error {
	switch {
	case errors.Is(err, ErrTampered), errors.Is(err, ErrTruncated), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: it ends in the middle of an entry: %w", ErrTruncated, err)
	case errors.Is(err, tar.ErrHeader) && first:
		return fmt.Errorf("%w: not a tar (nor a gzip or zstd tar): %w", ErrNotArchive, err)
	case errors.Is(err, tar.ErrHeader):
		return fmt.Errorf("%w: unreadable tar header: %w", ErrTampered, err)
	}
	return err
}

// preflight runs once the contents list is read, before any blob is
// stored: a delta's required blobs must be in dst, and dst must have room
// for the blobs it lacks. The sizes were checked already (none negative
// or above layout.MaxBlobSize); their sum saturates instead of overflowing, so
// that a list of huge sizes is refused for want of space rather than
// wrapping round to a small or negative need that skips the check.
func (im *importer) preflight() error {
	c := im.t.contents
	im.rep.Delta = len(c.Required) > 0
	var missing []digest.Digest
	for _, b := range c.Required {
		ok, err := im.dst.Exists(im.ctx, ocispec.Descriptor{Digest: b.Digest, Size: b.Size})
		if err != nil {
			return err
		}
		if !ok {
			missing = append(missing, b.Digest)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: layout %s lacks %s", ErrIncompleteDelta, im.dst.Path(), fewDigests(missing))
	}
	var need int64
	for _, b := range c.Blobs {
		if ok, _ := im.dst.Exists(im.ctx, ocispec.Descriptor{Digest: b.Digest, Size: b.Size}); !ok {
			need = addSizes(need, b.Size)
		}
	}
	return checkSpace(im.opts.FreeSpace, im.dst.Path(), need)
}

// addSizes returns a+b for sizes that are not negative, or math.MaxInt64
// where the sum would overflow.
func addSizes(a, b int64) int64 {
	if b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}

// blob stores one blob entry, verified, unless dst has it.
func (im *importer) blob(r io.Reader, d digest.Digest, size int64) error {
	// The tally checked the entry against the contents list, and that it
	// is the blob's only one.
	im.seen[d] = size
	desc := ocispec.Descriptor{Digest: d, Size: size}
	if im.t.contents == nil {
		// No contents list, so no room was checked for the whole: check
		// it for this blob, unless the layout has it.
		if ok, err := im.dst.Exists(im.ctx, desc); err != nil {
			return err
		} else if ok {
			im.rep.Skipped++
			return nil
		}
		if err := checkSpace(im.opts.FreeSpace, im.dst.Path(), size); err != nil {
			return fmt.Errorf("blob %s: %w", d, err)
		}
	}
	// Push verifies size and digest as it writes, and refuses a blob the
	// layout has (ErrAlreadyExists, before reading a byte of it: the
	// one look at the blob directory per blob, where a look here first
	// made two); the media type is left empty so that it does not list
	// referrers in index.json: that is done at the end, with the tags.
	err := im.dst.Push(im.ctx, desc, r)
	if errors.Is(err, layout.ErrAlreadyExists) {
		im.rep.Skipped++
		return nil
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: %w", ErrTruncated, err)
		}
		return tampered(err)
	}
	// Push stored it: it was not there (or was damaged, and Push replaced
	// it). A rollback removes it only if index.json does not reach it.
	im.created = append(im.created, d)
	im.rep.Blobs++
	im.rep.Bytes += size
	return nil
}

// finish checks that the archive was whole and every tag complete, then
// writes the tags.
func (im *importer) finish() error {
	// The tally found the archive whole (tally.end).
	index := im.t.index
	missing, reached, err := completeness(im.ctx, im.dst, index.Manifests)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		if im.rep.Delta {
			return fmt.Errorf("%w: layout %s lacks %s", ErrIncompleteDelta, im.dst.Path(), fewDigests(missing))
		}
		return fmt.Errorf("%w: neither it nor layout %s holds %s", ErrIncomplete, im.dst.Path(), fewDigests(missing))
	}
	// Every blob is there and intact; the graph must also be one Check
	// accepts (known media types, manifests that parse as what their
	// descriptors say, sizes that agree, bounded nesting), or the import
	// would leave a layout that verify reports as damaged and GC refuses.
	roots := index.Manifests
	if roots == nil {
		roots = []ocispec.Descriptor{} // only these: never the whole layout
	}
	crep, err := im.dst.Check(im.ctx, layout.CheckOptions{Roots: roots})
	if err != nil {
		return err
	}
	if problems := crep.Problems; len(problems) > 0 {
		more := ""
		if len(problems) > 1 {
			more = fmt.Sprintf(" (and %d more problems)", len(problems)-1)
		}
		return fmt.Errorf("%w: the archive's index.json: %s%s", layout.ErrCorrupt, problems[0], more)
	}
	if err := im.ctx.Err(); err != nil {
		return err
	}
	if im.opts.Policy != nil {
		// The archive's blobs are stored (and go again on failure): the
		// layout as it would be, before anything of it is tagged.
		v := &signedView{index: index, dst: im.dst}
		if err := v.requireSigned(im.ctx, im.opts.Policy); err != nil {
			return err
		}
	}
	var tags []string
	for _, e := range index.Manifests {
		if tag := e.Annotations[ocispec.AnnotationRefName]; tag != "" {
			tags = append(tags, tag)
		}
	}
	if err := im.dst.Put(im.ctx, index.Manifests...); err != nil {
		return err
	}
	// From here on the import stands: blobs of a plain tar that nothing
	// reaches are dropped, best effort.
	if im.t.contents == nil {
		var drop []digest.Digest
		for _, d := range im.created {
			if !reached[d] {
				drop = append(drop, d)
				im.rep.Blobs--
				im.rep.Bytes -= im.seen[d]
			}
		}
		im.removeUnreached(drop)
	}
	im.created = nil
	slices.Sort(tags)
	im.rep.Tags = slices.Compact(tags)
	return nil
}

// rollback removes the blobs this import stored.
func (im *importer) rollback() {
	im.removeUnreached(im.created)
	im.created = nil
}

// removeUnreached removes the blobs ds that this import stored, best
// effort. Another writer may have found one of them stored meanwhile and
// referenced it (a blob is stored once), so they are removed only while
// no other writer is at work, and only those that index.json does not
// reach; otherwise they stay, unreferenced, for gc (see
// layout.Layout.Abandon). It releases dst's hold on the layout, which a
// later write takes again.
func (im *importer) removeUnreached(ds []digest.Digest) {
	if len(ds) == 0 {
		return
	}
	// Not im.ctx, which may be why the import stopped.
	ctx, cancel := context.WithTimeout(context.Background(), abandonTimeout)
	defer cancel()
	_ = im.dst.Abandon(ctx, layout.AbandonOptions{Blobs: ds})
}

// countReader reports the bytes read through it.
type countReader struct {
	r  io.Reader
	fn func(int)
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.fn(n)
	}
	return n, err
}
