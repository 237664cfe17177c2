package archive

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/ocipack/ocipack/internal/hashcopy"
	"github.com/ocipack/ocipack/layout"
)

// Compression is how an archive's tar stream is compressed.
type Compression string

// The compressions Export writes. Import and Open also read gzip.
const (
	// None writes a plain tar (.tar).
	None Compression = "none"
	// Zstd writes a seekable zstd stream (.tar.zst): see the package doc.
	Zstd Compression = "zstd"
)

// MinSplit is the smallest volume size ExportFile accepts.
const MinSplit = 4096

// CompressionFor picks the compression an archive path's extension asks
// for: Zstd for .zst, .zstd and .tzst, None otherwise.
func CompressionFor(path string) Compression {
	p := strings.ToLower(path)
	if m := volumeSuffix.FindStringIndex(p); m != nil {
		p = p[:m[0]]
	}
	for _, ext := range []string{".zst", ".zstd", ".tzst"} {
		if strings.HasSuffix(p, ext) {
			return Zstd
		}
	}
	return None
}

// ExportOptions tunes Export and ExportFile. The zero value writes a
// plain tar of everything the tags reach.
type ExportOptions struct {
	// Compression is None ("" too) or Zstd.
	Compression Compression
	// Since, when not nil, makes a delta archive: blobs in Since are left
	// out of it and listed as required instead. Use DigestsOfLayout or
	// DigestsOfArchive on what the receiving side already holds.
	Since DigestSet
	// Split, when > 0, makes ExportFile write volumes of at most Split
	// bytes each (header included): PATH.001, PATH.002, … Export refuses
	// it (it writes one stream). At least MinSplit.
	Split int64
	// Progress, when not nil, is called as the archive is written with the
	// bytes of tar written so far and the tar's total size.
	Progress func(done, total int64)
	// FreeSpace replaces the free-space query ExportFile makes before
	// writing (nil means FreeSpace); tests use it.
	FreeSpace func(path string) (int64, error)
	// Platforms, when not empty, exports of each tag that names an image
	// index only the children of these platforms: the archive's tag names
	// a new index listing exactly those (see graph.SelectPlatforms; its
	// source reference is the tag), or the tag's index unchanged when
	// every child matches. A tag without a match fails with
	// graph.ErrNoMatchingPlatform, before anything is written.
	Platforms []ocispec.Platform
}

// ExportReport describes an archive written.
type ExportReport struct {
	// ID is the archive's ID: the sha256 of its contents list, compression
	// and volume size. Volumes carry it; the same layout, tags and options
	// give the same ID and the same bytes.
	ID digest.Digest
	// Tags are the tags exported, sorted.
	Tags []string
	// Blobs is the number of blobs written.
	Blobs int
	// BlobBytes is the total size of the blobs written.
	BlobBytes int64
	// Omitted is the number of blobs a delta left out (required from the
	// target instead).
	Omitted int
	// Bytes is the number of bytes written: the archive's size (all
	// volumes, headers included).
	Bytes int64
	// Files are the files written by ExportFile: the archive, or its
	// volumes in order.
	Files []string
}

// Source is what Export reads: blobs, and the index.json that lists the
// tags and the referrers to carry along. *layout.Layout and source.Source
// (a layout directory, or an archive read in place) implement it; a source
// that has a String method is named so in messages ("layout PATH").
type Source interface {
	content.ReadOnlyStorage
	// Index returns the source's index.json.
	Index(ctx context.Context) (*ocispec.Index, error)
}

// sourceName names src in messages: its String, or "layout PATH".
func sourceName(src Source) string {
	switch s := src.(type) {
	case fmt.Stringer:
		return s.String()
	case interface{ Path() string }:
		return "layout " + s.Path()
	}
	return "the source"
}

// Export writes the tags of src (nil: every tag) as one archive stream to
// w: a tar of an OCI image layout holding everything the tags reach and
// the referrers its index.json lists for them (see the package doc for the
// format). Blobs are streamed from their files and verified against their
// digests as they are read; memory use does not depend on their size.
// Export does not check free space and cannot split: ExportFile does both.
// On failure, w has received part of an archive.
func Export(ctx context.Context, l Source, tags []string, w io.Writer, opts ExportOptions) (*ExportReport, error) {
	if opts.Split != 0 {
		return nil, errors.New("export: Split needs a file name (ExportFile), not a stream")
	}
	l, err := withPlatforms(ctx, l, tags, opts.Platforms)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	p, rep, err := prepare(ctx, l, tags, opts)
	if err != nil {
		return nil, err
	}
	n, err := writeArchive(ctx, l, p, w, opts)
	rep.Bytes = n
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// ExportFile writes the tags of src (nil: every tag) as an archive at path,
// or, when opts.Split > 0, as the volumes path.001, path.002, … It first
// checks that the directory's file system has room for the archive (its
// uncompressed size; ErrNoSpace otherwise), writes into temporary files
// beside path, and renames them into place only when everything was
// written: on failure no file at path, or named like a volume, is touched.
func ExportFile(ctx context.Context, l Source, tags []string, path string, opts ExportOptions) (_ *ExportReport, err error) {
	if opts.Split != 0 && opts.Split < MinSplit {
		return nil, fmt.Errorf("export: volume size %d is below the minimum of %d bytes", opts.Split, MinSplit)
	}
	if l, err = withPlatforms(ctx, l, tags, opts.Platforms); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	p, rep, err := prepare(ctx, l, tags, opts)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	need := tarSize(p)
	if opts.Split > 0 {
		need += (need/(opts.Split-VolumeHeaderSize) + 1) * VolumeHeaderSize
	}
	if err := checkSpace(opts.FreeSpace, dir, need); err != nil {
		return nil, fmt.Errorf("export to %s: %w", path, err)
	}

	if opts.Split > 0 {
		vw := &volumeWriter{base: path, payload: opts.Split - VolumeHeaderSize}
		defer func() {
			if err != nil {
				vw.abort()
			}
		}()
		n, err := writeArchive(ctx, l, p, vw, opts)
		if err != nil {
			return nil, err
		}
		names, err := vw.finish(rep.ID)
		if err != nil {
			for _, name := range names {
				os.Remove(name)
			}
			return nil, err
		}
		rep.Bytes, rep.Files = n+int64(len(names))*VolumeHeaderSize, names
		return rep, nil
	}

	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	// FileWriter starts write-back as the archive is written, so that the
	// Sync below has little left to write.
	n, err := writeArchive(ctx, l, p, hashcopy.NewFileWriter(f), opts)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write %s: %w", tmp, cerr)
	}
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	rep.Bytes, rep.Files = n, []string{path}
	return rep, nil
}

// prepare plans the export and builds the contents list and the report.
func prepare(ctx context.Context, l Source, tags []string, opts ExportOptions) (*plan, *ExportReport, error) {
	switch opts.Compression {
	case "", None, Zstd:
	default:
		return nil, nil, fmt.Errorf("export: unknown compression %q (none or zstd)", opts.Compression)
	}
	if opts.Compression == "" {
		opts.Compression = None
	}
	p, err := makePlan(ctx, l, tags, opts.Since)
	if err != nil {
		return nil, nil, fmt.Errorf("export: %w", err)
	}
	c := contents{MediaType: ContentsMediaType, Tags: p.tags, Blobs: []Blob{}}
	rep := &ExportReport{Tags: p.tags, Blobs: len(p.blobs), Omitted: len(p.required)}
	for _, b := range p.blobs {
		c.Blobs = append(c.Blobs, Blob{Digest: b.Digest, Size: b.Size})
		rep.BlobBytes += b.Size
	}
	for _, b := range p.required {
		c.Required = append(c.Required, Blob{Digest: b.Digest, Size: b.Size})
	}
	if p.contents, err = json.Marshal(c); err != nil {
		return nil, nil, err
	}
	if len(p.required) == 0 { // a delta's images cannot load alone
		if p.docker, err = dockerManifest(ctx, l, p.index, p.images); err != nil {
			return nil, nil, fmt.Errorf("export: %w", err)
		}
	}
	rep.ID = archiveID(p.contents, opts.Compression, opts.Split)
	return p, rep, nil
}

// archiveID identifies an archive's bytes: its contents, compression and
// volume size.
func archiveID(contentsJSON []byte, c Compression, split int64) digest.Digest {
	return digest.FromString(fmt.Sprintf("ocipack-archive\n%s\n%s\n%d\n", digest.FromBytes(contentsJSON), c, split))
}

// tarSize is the size of the tar stream writeArchive writes for p.
func tarSize(p *plan) int64 {
	entry := func(size int64) int64 {
		n := int64(512) + (size+511)/512*512
		if size >= 1<<33-1 {
			n += 1024 // PAX header for sizes ustar cannot hold
		}
		return n
	}
	n := entry(int64(len(layoutFile))) + entry(int64(len(p.contents))) + entry(int64(len(indexJSON(p)))) + 1024
	if p.docker != nil {
		n += entry(int64(len(p.docker)))
	}
	for range blobDirs(p) {
		n += 512
	}
	for _, b := range p.blobs {
		n += entry(b.Size)
	}
	return n
}

var layoutFile = []byte(`{"imageLayoutVersion":"1.0.0"}`)

func indexJSON(p *plan) []byte {
	idx := p.index
	if idx.Manifests == nil {
		idx.Manifests = []ocispec.Descriptor{}
	}
	b, _ := json.Marshal(idx)
	return b
}

// blobDirs are the blobs/<alg>/ directories of p's blobs, sorted.
func blobDirs(p *plan) []string {
	seen := map[string]bool{}
	dirs := []string{ocispec.ImageBlobsDir + "/"}
	for _, b := range p.blobs {
		d := ocispec.ImageBlobsDir + "/" + b.Digest.Algorithm().String() + "/"
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// epoch is the mtime of every entry.
var epoch = time.Unix(0, 0)

// writeArchive writes p's tar stream (compressed as opts says) to w and
// returns the bytes written to w.
func writeArchive(ctx context.Context, l Source, p *plan, w io.Writer, opts ExportOptions) (int64, error) {
	cw := &countWriter{w: w}
	out := io.Writer(cw)
	var fw *frameWriter
	if opts.Compression == Zstd {
		var err error
		if fw, err = newFrameWriter(cw); err != nil {
			return 0, err
		}
		out = fw
	}
	total := tarSize(p)
	pw := &countWriter{w: out}
	if opts.Progress != nil {
		pw.onWrite = func(n int64) { opts.Progress(n, total) }
	}
	tw := tar.NewWriter(pw)
	begin := func(h *tar.Header) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if fw != nil {
			if err := fw.boundary(); err != nil {
				return err
			}
		}
		h.ModTime, h.Uid, h.Gid = epoch, 0, 0
		return tw.WriteHeader(h)
	}
	small := func(name string, b []byte) error {
		if err := begin(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(b)), Mode: 0o644}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	err := func() error {
		if err := small(ocispec.ImageLayoutFile, layoutFile); err != nil {
			return err
		}
		if err := small(ContentsFile, p.contents); err != nil {
			return err
		}
		if err := small(ocispec.ImageIndexFile, indexJSON(p)); err != nil {
			return err
		}
		if p.docker != nil {
			if err := small(DockerManifestFile, p.docker); err != nil {
				return err
			}
		}
		for _, d := range blobDirs(p) {
			if err := begin(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755}); err != nil {
				return err
			}
		}
		for _, b := range p.blobs {
			if err := begin(&tar.Header{Typeflag: tar.TypeReg, Name: blobName(b.Digest), Size: b.Size, Mode: 0o644}); err != nil {
				return err
			}
			rc, err := l.Fetch(ctx, b)
			if err != nil {
				return err
			}
			err = copyBlob(ctx, tw, rc, b)
			rc.Close()
			if err != nil {
				return fmt.Errorf("blob %s of %s: %w", b.Digest, sourceName(l), err)
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		if fw != nil {
			return fw.Close()
		}
		return nil
	}()
	if err != nil {
		if fw != nil {
			// Stops the compressing goroutines; the output is abandoned.
			fw.abort()
		}
		return cw.n, fmt.Errorf("export: %w", err)
	}
	return cw.n, nil
}

// copyBlob copies the blob b from r to w, checking it against b as
// layout.VerifyReader does (ErrSizeMismatch when it is longer or shorter,
// ErrDigestMismatch when it hashes to another digest), but hashing each
// piece while the piece before is written (hashcopy.Copy), so that the
// export costs about max(hash, read + write) rather than their sum. Bytes
// past b.Size are never written to w.
func copyBlob(ctx context.Context, w io.Writer, r io.Reader, b ocispec.Descriptor) error {
	if err := b.Digest.Validate(); err != nil {
		return fmt.Errorf("blob %q: %w", b.Digest, err)
	}
	if b.Size < 0 {
		return fmt.Errorf("blob %s: %w: negative size %d", b.Digest, layout.ErrSizeMismatch, b.Size)
	}
	h := b.Digest.Algorithm().Hash()
	// One byte past the end is read, to tell a longer blob.
	n, err := hashcopy.Copy(ctx, &sizeWriter{w: w, size: b.Size}, h, io.LimitReader(r, b.Size+1))
	switch we, _ := errors.AsType[*hashcopy.WriteError](err); {
	case we != nil && we.Err == errPastSize:
		return fmt.Errorf("blob %s: %w: more than the %d bytes expected", b.Digest, layout.ErrSizeMismatch, b.Size)
	case we != nil:
		return we.Err
	case err != nil:
		return err
	case n != b.Size:
		return fmt.Errorf("blob %s: %w: truncated at %d of %d bytes", b.Digest, layout.ErrSizeMismatch, n, b.Size)
	}
	if got := digest.NewDigest(b.Digest.Algorithm(), h); got != b.Digest {
		return fmt.Errorf("blob %s: %w: content hashes to %s", b.Digest, layout.ErrDigestMismatch, got)
	}
	return nil
}

// errPastSize is sizeWriter's refusal of bytes past the blob's size.
var errPastSize = errors.New("past the blob's size")

// sizeWriter writes at most size bytes to w: a write that would go past
// them writes nothing and fails with errPastSize.
type sizeWriter struct {
	w       io.Writer
	size, n int64
}

func (s *sizeWriter) Write(p []byte) (int, error) {
	if s.n+int64(len(p)) > s.size {
		return 0, errPastSize
	}
	n, err := s.w.Write(p)
	s.n += int64(n)
	return n, err
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w       io.Writer
	n       int64
	onWrite func(total int64)
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.onWrite != nil && n > 0 {
		c.onWrite(c.n)
	}
	return n, err
}
