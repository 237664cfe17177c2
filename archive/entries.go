package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/layout"
)

// tarBlock is the size of a tar block; the end-of-archive marker is two
// zero blocks.
const tarBlock = 512

// tally records an archive's entries as they are read and judges the
// archive whole at its end. It is the one set of rules Import, Open (and so
// Check, unpack and push of ARCHIVE:TAG) apply, so that every reader
// accepts and refuses the same archives:
//
//   - each layout file (oci-layout, index.json, the contents list) and
//     each blob comes once: a second entry fails with ErrDuplicateEntry;
//   - with a contents list, every blob entry is listed with its size
//     (ErrTampered), and at the end every listed blob came (ErrTruncated);
//   - the tar ends with its end-of-archive marker (ErrTruncated: a copy
//     cut at an entry boundary reads as a shorter tar otherwise);
//   - an ocipack archive compressed with zstd ends with its seek table
//     (ErrTruncated: a copy cut after a frame decompresses cleanly).
type tally struct {
	cls      classifier
	files    map[entryKind]string    // layout files seen: their entry names
	blobs    map[digest.Digest]int64 // blobs seen: their sizes
	names    map[digest.Digest]string
	listed   map[digest.Digest]int64 // the contents list's blobs
	contents *contents
	index    *ocispec.Index
	entries  int
	dataEnd  int64  // where the last entry's content, padded, ends in the tar stream
	last     string // the last entry's name
	docker   bool   // a top-level manifest.json came (docker save's list of images)
}

func newTally() *tally {
	return &tally{files: map[entryKind]string{}, blobs: map[digest.Digest]int64{}, names: map[digest.Digest]string{}}
}

// entry classifies the header h, whose content starts at offset pos of
// the tar stream, and records it. A blob entry must be new and, with a
// contents list, listed with its size.
func (t *tally) entry(h *tar.Header, pos int64) (entryKind, digest.Digest, error) {
	kind, d, err := t.cls.classify(h)
	if err != nil {
		return 0, "", err
	}
	if name, _ := safeName(h.Name); name == DockerManifestFile {
		t.docker = true
	}
	t.entries++
	t.last = h.Name
	t.dataEnd = pos
	if h.Typeflag != tar.TypeXGlobalHeader { // whose content archive/tar read already
		t.dataEnd += (h.Size + tarBlock - 1) / tarBlock * tarBlock
	}
	switch kind {
	case kindLayoutFile, kindIndex, kindContents:
		if first, dup := t.files[kind]; dup {
			return 0, "", fmt.Errorf("%w: %q and %q are both the layout's %s; an archive holds it once (readers would disagree on which one counts)", ErrDuplicateEntry, first, h.Name, kindName(kind))
		}
		t.files[kind] = h.Name
	case kindBlob:
		if first, dup := t.names[d]; dup {
			return 0, "", fmt.Errorf("%w: blob %s comes twice (%q and %q); an archive holds each blob once", ErrDuplicateEntry, d, first, h.Name)
		}
		if h.Size > layout.MaxBlobSize {
			return 0, "", fmt.Errorf("blob %s: %w: its entry claims %d bytes, more than the %d (1 PiB) accepted", d, ErrTampered, h.Size, int64(layout.MaxBlobSize))
		}
		if err := t.checkListed(d, h.Size); err != nil {
			return 0, "", err
		}
		t.names[d] = h.Name
		t.blobs[d] = h.Size
	}
	return kind, d, nil
}

// read reads the entries of tr up to the tar's end, recording each (see
// entry) and applying the layout files it meets (oci-layout, index.json,
// the contents list); pos gives the offset in the tar stream that tr has
// reached. It calls blob for each blob entry, to read its content from tr,
// and contents, if not nil, once the contents list is applied.
func (t *tally) read(ctx context.Context, tr *tar.Reader, pos func() int64, blob func(d digest.Digest, size int64) error, contents func() error) error {
	for first := true; ; first = false {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return streamError(err, first)
		}
		kind, d, err := t.entry(h, pos())
		if err != nil {
			return err
		}
		if kind == kindBlob {
			err = blob(d, h.Size)
		} else {
			err = t.layoutFile(tr, h, kind)
		}
		if err != nil {
			return err
		}
		if kind == kindContents && contents != nil {
			if err := contents(); err != nil {
				return err
			}
		}
	}
}

// layoutFile reads and applies the layout file of kind (oci-layout,
// index.json or the contents list) whose header h tr has just read; it
// leaves other entries alone.
func (t *tally) layoutFile(tr *tar.Reader, h *tar.Header, kind entryKind) error {
	switch kind {
	case kindLayoutFile, kindIndex, kindContents:
	default:
		return nil
	}
	b, err := readSmall(tr, h.Name, h.Size)
	if err != nil {
		return streamError(err, false)
	}
	switch kind {
	case kindLayoutFile:
		return checkLayoutFile(b)
	case kindIndex:
		return t.setIndex(b)
	default:
		return t.setContents(b)
	}
}

// checkListed checks a blob entry against the contents list, if read.
func (t *tally) checkListed(d digest.Digest, size int64) error {
	if t.contents == nil {
		return nil
	}
	want, ok := t.listed[d]
	if !ok {
		return fmt.Errorf("blob %s: %w: the archive holds it but its %s does not list it", d, ErrTampered, ContentsFile)
	}
	if want != size {
		return fmt.Errorf("blob %s: %w: %d bytes in the archive, %s says %d", d, ErrTampered, size, ContentsFile, want)
	}
	return nil
}

// setContents parses the contents list and checks the blobs seen so far
// against it.
func (t *tally) setContents(b []byte) error {
	c, err := parseContents(b)
	if err != nil {
		return err
	}
	t.contents = c
	t.listed = make(map[digest.Digest]int64, len(c.Blobs))
	for _, b := range c.Blobs {
		t.listed[b.Digest] = b.Size
	}
	for d, size := range t.blobs {
		if err := t.checkListed(d, size); err != nil {
			return err
		}
	}
	return nil
}

// setIndex parses index.json; its names must be valid. An entry that
// `docker save` or `ctr export` wrote (a full name in
// io.containerd.image.name, only the tag in ref.name) is named by its full
// name, so that images of several repositories with the same tag stay
// apart (see layout.WithEntryName).
func (t *tally) setIndex(b []byte) error {
	idx, err := parseIndex(b)
	if err != nil {
		return err
	}
	for i, e := range idx.Manifests {
		if tag := layout.EntryName(e); tag != "" && !layout.ValidName(tag) && !layout.IsRepoName(tag) {
			return fmt.Errorf("%w: index.json: tag %q is not a valid tag or full name", layout.ErrInvalidReference, tag)
		}
		idx.Manifests[i] = layout.WithEntryName(e)
	}
	t.index = idx
	return nil
}

// zstdEnd says how a zstd stream ended, for end.
type zstdEnd struct {
	zstd      bool // the archive is zstd-compressed
	seekTable bool // with a seek table at its end
}

// end judges the archive once the tar reader reached its end, at offset
// pos of the tar stream: index.json came, every listed blob came, the tar
// ends with its end-of-archive marker, and an ocipack archive (one with a
// contents list) compressed with zstd ends with its seek table.
func (t *tally) end(pos int64, z zstdEnd) error {
	if t.entries == 0 {
		return fmt.Errorf("%w: no entries", ErrNotArchive)
	}
	if t.index == nil && t.docker {
		return fmt.Errorf("%w: no index.json in it, only docker's %s: an archive of `docker save` before docker 25 (or of go-containerregistry's tarball package); import reads OCI layout archives, as docker 25 and later, `ctr export` and `ocipack export` write them", ErrNotArchive, DockerManifestFile)
	}
	if t.index == nil {
		return fmt.Errorf("%w: no index.json in it", ErrNotArchive)
	}
	if t.contents != nil {
		var absent []digest.Digest
		for _, b := range t.contents.Blobs {
			if _, ok := t.blobs[b.Digest]; !ok {
				absent = append(absent, b.Digest)
			}
		}
		if len(absent) > 0 {
			return fmt.Errorf("%w: it ends before %s that %s lists; the copy was cut short", ErrTruncated, fewDigests(absent), ContentsFile)
		}
	}
	// archive/tar reports the end of its input at an entry boundary as
	// the end of the archive, as it does the end-of-archive marker: only
	// the offset tells them apart. The marker is read (and found zero)
	// only when two whole blocks follow the last entry.
	if pos < t.dataEnd+2*tarBlock {
		return fmt.Errorf("%w: the tar ends at byte %d, after entry %q, without its end-of-archive marker: the copy was cut short; copy the archive again", ErrTruncated, pos, t.last)
	}
	if z.zstd && !z.seekTable && t.contents != nil {
		return fmt.Errorf("%w: the seek table that ends every .tar.zst ocipack writes is missing: the copy was cut short; copy the archive again (a .tar.zst recompressed by another tool: decompress it with zstd -d and use the .tar)", ErrTruncated)
	}
	return nil
}

// kindName names a layout file kind in messages.
func kindName(k entryKind) string {
	switch k {
	case kindLayoutFile:
		return ocispec.ImageLayoutFile
	case kindIndex:
		return ocispec.ImageIndexFile
	case kindContents:
		return ContentsFile + " (contents list)"
	}
	return "entry"
}

// posReader counts the bytes read through it: the offset in the tar
// stream that tally needs.
type posReader struct {
	r   io.Reader
	pos int64
}

func (p *posReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.pos += int64(n)
	return n, err
}

// tailKeeper passes a stream through, counting its bytes and keeping the
// last len(ring) of them, so that the seek table at the end of a zstd
// stream read from a pipe can be checked once the stream is read.
type tailKeeper struct {
	r    io.Reader
	ring []byte
	n    int64
}

// seekTailMax is the largest seek table (with checksums) readSeekTable
// accepts, with its frame header: what tailKeeper keeps.
const seekTailMax = 8 + maxSeekFrames*(seekEntrySize+4) + seekFooterSize

func (t *tailKeeper) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	b := p[:n]
	if len(b) > len(t.ring) {
		t.n += int64(len(b) - len(t.ring))
		b = b[len(b)-len(t.ring):]
	}
	for len(b) > 0 {
		i := int(t.n % int64(len(t.ring)))
		k := copy(t.ring[i:], b)
		b = b[k:]
		t.n += int64(k)
	}
	return n, err
}

// ReadAt reads from the bytes kept.
func (t *tailKeeper) ReadAt(p []byte, off int64) (int, error) {
	if off < t.n-int64(len(t.ring)) || off < 0 || off+int64(len(p)) > t.n {
		return 0, errors.New("seek table: outside the end of the stream kept")
	}
	for done := 0; done < len(p); {
		i := int((off + int64(done)) % int64(len(t.ring)))
		done += copy(p[done:], t.ring[i:])
	}
	return len(p), nil
}
