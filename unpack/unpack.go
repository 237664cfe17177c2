// Package unpack restores the files and directories of an artifact that
// ocipack (or oras) packed as an OCI image manifest: each layer with an
// org.opencontainers.image.title annotation becomes the file, or the
// directory (a tar, when io.deis.oras.content.unpack is "true"), named by
// its title under a destination directory.
//
// The content is treated as hostile. Every blob is verified against its
// descriptor while it is streamed; titles, tar entry names and link targets
// are checked lexically and every write goes through an os.Root, so that
// nothing is written outside the destination; devices and fifos are
// refused; the bytes written are capped (Options.MaxSize). Everything is
// first extracted into a hidden staging directory inside the destination,
// and only moved into place once all of it has been read and verified: on
// any failure the destination is left as it was.
package unpack

import (
	"bufio"
	"context"
	_ "crypto/sha256" // digest algorithms for the annotations' digests
	_ "crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/ocipack/ocipack/graph"
	"github.com/ocipack/ocipack/internal/hashcopy"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/signing"
)

// DefaultMaxSize is the cap on the bytes Unpack writes when Options.MaxSize
// is 0: 64 GiB, far above what ocipack is used to carry, and far below what
// fills a disk by surprise.
const DefaultMaxSize int64 = 64 << 30

// Sentinel errors. Test for them with errors.Is. Bad blobs are reported
// with layout's sentinels: layout.ErrNotFound (missing),
// layout.ErrSizeMismatch and layout.ErrDigestMismatch (corrupt), and
// layout.ErrCorrupt for unusable annotations.
var (
	// ErrUnsafePath means a title, tar entry or link would write outside the
	// destination (absolute path, "..", link pointing outside, write through
	// a symlink) or is a device or fifo. Nothing was written.
	ErrUnsafePath = errors.New("unsafe path")
	// ErrExists means a title's path already exists in the destination and
	// Options.Overwrite is false.
	ErrExists = errors.New("already exists")
	// ErrDuplicateTitle means two layers would restore the same path, or one
	// inside the other.
	ErrDuplicateTitle = errors.New("duplicate title")
	// ErrTooLarge means the content would take more than Options.MaxSize
	// bytes once decompressed.
	ErrTooLarge = errors.New("content too large")
	// ErrNotImageManifest means the reference names something other than an
	// OCI image manifest, such as an image index.
	ErrNotImageManifest = errors.New("not an OCI image manifest")
	// ErrNothingToUnpack means the manifest has no layer with a title.
	ErrNothingToUnpack = errors.New("nothing to unpack")
)

// Options tunes Unpack.
type Options struct {
	// Overwrite replaces files and directories that exist at a title's path
	// in the destination. A directory is replaced as a whole, not merged.
	// Without it, such a path fails Unpack with ErrExists before any layer
	// is read.
	Overwrite bool
	// MaxSize caps the bytes written, decompressed, over all layers: file
	// contents, plus 512 bytes per tar entry and the tar's padding. Beyond
	// it Unpack fails with ErrTooLarge (a decompression-bomb guard). 0
	// means DefaultMaxSize; negative values are refused.
	MaxSize int64
	// Progress, when not nil, is called as blobs are read, with the bytes
	// read so far and the total size of the layers to restore. It is
	// called from Unpack's goroutine.
	Progress func(done, total int64)
	// Policy, when not nil, requires a valid signature of the manifest
	// under it (see signing.Verify), checked before anything is written:
	// without one, Unpack fails with a *signing.FailedError naming the
	// entry and why. The source must then list referrers (a
	// signing.Target: a layout.Layout, a source.Source).
	Policy *signing.Policy
}

// File describes one restored layer.
type File struct {
	// Title is the path restored, relative to the destination,
	// slash-separated and cleaned.
	Title string
	// MediaType is the layer's media type.
	MediaType string
	// Digest is the layer blob's digest.
	Digest digest.Digest
	// Size is the layer blob's size (compressed, for a directory).
	Size int64
	// Dir is true when the layer was a directory tar.
	Dir bool
}

// Result describes what Unpack restored.
type Result struct {
	// Manifest is the descriptor of the manifest unpacked.
	Manifest ocispec.Descriptor
	// Files are the layers restored, in manifest order.
	Files []File
}

// Unpack restores into dest the layers of the image manifest that ref (a tag
// or a digest) names in src. Layers without a title annotation, and the
// config, are skipped, as oras does. dest is created when it does not
// exist (and removed again if Unpack fails).
//
// Unpack first checks every title and that no title's path exists in dest
// (unless opts.Overwrite), then extracts and verifies every layer into a
// staging directory inside dest, and only then moves each title's path into
// place. On failure, including cancellation of ctx, dest is left as it was
// and the error says which title, entry or digest is at fault.
//
// In the rare case where everything was restored but the staging directory
// could not be removed, Unpack returns the Result together with an error
// naming that directory.
func Unpack(ctx context.Context, src oras.ReadOnlyTarget, ref string, dest string, opts Options) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if src == nil {
		return nil, errors.New("unpack: no source given")
	}
	if dest == "" {
		return nil, errors.New("unpack: no destination directory given")
	}
	maxSize := opts.MaxSize
	switch {
	case maxSize == 0:
		maxSize = DefaultMaxSize
	case maxSize < 0:
		return nil, fmt.Errorf("unpack: MaxSize %d is negative", maxSize)
	}
	if ref == "" {
		return nil, fmt.Errorf("unpack: %w: no tag or digest given", layout.ErrInvalidReference)
	}

	desc, err := src.Resolve(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("resolve %q: %w", ref, err)
	}
	if err := checkManifestType(ctx, src, ref, desc); err != nil {
		return nil, err
	}
	if opts.Policy != nil {
		st, ok := src.(signing.Target)
		if !ok {
			return nil, fmt.Errorf("unpack %q: a signature policy needs a source that lists referrers (a layout or an archive)", ref)
		}
		r, err := signing.Verify(ctx, st, desc, ref, opts.Policy)
		if err != nil {
			return nil, fmt.Errorf("unpack %q: %w", ref, err)
		}
		if !r.OK() {
			return nil, &signing.FailedError{Failed: []*signing.Result{r}}
		}
	}
	m, err := layout.ReadManifest(ctx, src, desc)
	if err != nil {
		return nil, fmt.Errorf("read manifest of %q: %w", ref, err)
	}
	layers, err := planLayers(m, maxSize)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	if len(layers) == 0 {
		return nil, fmt.Errorf("manifest %s (%q): %w: no layer has an %s annotation", desc.Digest, ref, ErrNothingToUnpack, ocispec.AnnotationTitle)
	}

	u := &unpacker{
		ctx:    ctx,
		src:    src,
		dest:   dest,
		opts:   opts,
		layers: layers,
		budget: budget{max: maxSize},
	}
	for _, l := range layers {
		u.total += l.desc.Size
	}
	files, err := u.run()
	if files == nil {
		return nil, err
	}
	return &Result{Manifest: desc, Files: files}, err
}

// checkManifestType refuses descriptors that are not image manifests,
// naming the digest and, for an index, some of the manifests it lists.
func checkManifestType(ctx context.Context, src oras.ReadOnlyTarget, ref string, desc ocispec.Descriptor) error {
	switch {
	case desc.MediaType == "" || desc.MediaType == graph.MediaTypeOCIManifest:
		return nil
	case graph.IsIndex(desc.MediaType):
		hint := ""
		if children := indexChildren(ctx, src, desc); children != "" {
			hint = " (" + children + ")"
		}
		return fmt.Errorf("%q is %s, an image index: %w; unpack one of the manifests it lists, by digest%s", ref, desc.Digest, ErrNotImageManifest, hint)
	}
	return fmt.Errorf("%q is %s: %w: its media type is %q", ref, desc.Digest, ErrNotImageManifest, desc.MediaType)
}

// indexChildren lists up to three of the manifests an index lists, best
// effort ("" when it cannot be read).
func indexChildren(ctx context.Context, src oras.ReadOnlyTarget, desc ocispec.Descriptor) string {
	b, err := layout.ReadBlob(ctx, src, desc, layout.MaxManifestSize)
	if err != nil {
		return ""
	}
	var idx ocispec.Index
	if json.Unmarshal(b, &idx) != nil || len(idx.Manifests) == 0 {
		return ""
	}
	var parts []string
	for i, m := range idx.Manifests {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(idx.Manifests)-3))
			break
		}
		s := m.Digest.String()
		if p := m.Platform; p != nil {
			s += " for " + p.OS + "/" + p.Architecture
		}
		parts = append(parts, s)
	}
	return "it lists " + strings.Join(parts, ", ")
}

// layerPlan is one layer to restore.
type layerPlan struct {
	desc          ocispec.Descriptor
	title         string        // cleaned title
	rawTitle      string        // the annotation as written, for messages
	dir           bool          // a directory tar
	mode          fs.FileMode   // regular file: permission bits
	contentDigest digest.Digest // directory: the uncompressed tar's digest, if annotated
	rootMeta      dirMeta       // directory: metadata of its root, set once in place
}

// planLayers checks the manifest's titled layers and their annotations,
// before any layer is read.
func planLayers(m *ocispec.Manifest, maxSize int64) ([]*layerPlan, error) {
	var (
		out       []*layerPlan
		titles    = map[string]*layerPlan{} // foldKey(title) -> layer
		ancestors = map[string]*layerPlan{} // foldKey(parent of a title) -> layer
		regular   int64
	)
	for i, d := range m.Layers {
		raw := d.Annotations[ocispec.AnnotationTitle]
		if raw == "" {
			raw = helmChartName(m, d)
		}
		if raw == "" {
			continue // no title: not a file, as for oras
		}
		title, err := cleanTitle(raw)
		if err != nil {
			return nil, fmt.Errorf("layer %d (%s): title %q: %w: %v", i, d.Digest, raw, ErrUnsafePath, err)
		}
		l := &layerPlan{desc: d, title: title, rawTitle: raw}

		// Collisions: the same path, an earlier title inside this one, or
		// this one inside an earlier title.
		k := foldKey(title)
		other := titles[k]
		if other == nil {
			other = ancestors[k]
		}
		for p := path.Dir(k); other == nil && p != "."; p = path.Dir(p) {
			other = titles[p]
		}
		if other != nil {
			how := "they name the same path"
			if foldKey(other.title) != k {
				how = "one would be inside the other"
			}
			return nil, fmt.Errorf("layers %q (%s) and %q (%s): %w: %s",
				other.rawTitle, other.desc.Digest, raw, d.Digest, ErrDuplicateTitle, how)
		}
		titles[k] = l
		for p := path.Dir(k); p != "."; p = path.Dir(p) {
			ancestors[p] = l
		}

		if d.Annotations[layout.AnnotationUnpack] == "true" {
			l.dir = true
			if s, ok := d.Annotations[layout.AnnotationContentDigest]; ok {
				cd, err := digest.Parse(s)
				if err != nil {
					return nil, fmt.Errorf("layer %q: %w: annotation %s %q is not a usable digest: %v", title, layout.ErrCorrupt, layout.AnnotationContentDigest, s, err)
				}
				l.contentDigest = cd
			}
		} else {
			l.mode = 0o644
			if s, ok := d.Annotations[layout.AnnotationFileMode]; ok {
				v, err := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
				if err != nil {
					return nil, fmt.Errorf("layer %q: %w: annotation %s %q is not an octal file mode", title, layout.ErrCorrupt, layout.AnnotationFileMode, s)
				}
				l.mode = fs.FileMode(v) & fs.ModePerm
			}
			// A regular file's size is known: refuse before reading.
			if regular += d.Size; regular > maxSize {
				return nil, fmt.Errorf("layer %q (%s): %w: the files would take %d bytes, more than MaxSize (%d bytes)", title, d.Digest, ErrTooLarge, regular, maxSize)
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// extractLayer fetches one layer's blob and writes it into staging (root is
// staging's "new" directory).
func (u *unpacker) extractLayer(root *os.Root, l *layerPlan) error {
	rc, err := u.src.Fetch(u.ctx, l.desc)
	if err != nil {
		return u.wrapLayer(l, err)
	}
	defer rc.Close()
	if !l.dir && l.desc.Digest.Validate() == nil && l.desc.Size >= 0 {
		return u.writeFileLayer(root, l, rc)
	}
	bs := &blobStream{ctx: u.ctx, vr: layout.NewVerifyReader(rc, l.desc)}
	if u.opts.Progress != nil {
		bs.onRead = u.progress
	}
	br := bufio.NewReaderSize(bs, bufSize)

	if dir := path.Dir(l.title); dir != "." {
		if err := root.MkdirAll(dir, 0o700); err != nil {
			return u.wrapLayer(l, fmt.Errorf("create staging directory: %w", err))
		}
	}
	if l.dir {
		err = u.extractDir(root, l, br)
	} else {
		err = u.writeFile(root, l, br)
	}
	if err != nil {
		return u.layerError(l, bs, br, err)
	}
	return nil
}

// writeFileLayer writes a regular-file layer into staging, verifying its
// blob (read from rc) as VerifyReader would, but with the hashing and the
// writing of each piece concurrent (hashcopy.Copy): the blob is read once,
// and a verification failure is reported rather than what it caused (a
// full budget, a failed write), as layerError does for the other layers.
func (u *unpacker) writeFileLayer(root *os.Root, l *layerPlan, rc io.Reader) error {
	d := l.desc
	h := d.Digest.Algorithm().Hash()
	// One byte past the end is read, to tell a longer blob.
	src := &readCounter{r: io.LimitReader(rc, d.Size+1)}
	if u.opts.Progress != nil {
		src.onRead = u.progress
	}
	var rerr error // the blob's own read error, other than io.EOF
	err := func() error {
		if dir := path.Dir(l.title); dir != "." {
			if err := root.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("create staging directory: %w", err)
			}
		}
		f, err := root.OpenFile(l.title, osCreateExcl, 0o600)
		if err != nil {
			return fmt.Errorf("create staging file: %w", err)
		}
		// FileWriter starts write-back as the copy goes, so that the
		// Sync below has little left to write.
		sink := &fileSink{f: f, w: hashcopy.NewFileWriter(f), size: d.Size, budget: &u.budget}
		_, err = hashcopy.Copy(u.ctx, sink, h, src)
		if we, ok := errors.AsType[*hashcopy.WriteError](err); ok {
			err = we.Err
		} else if err != nil && u.ctx.Err() == nil {
			rerr = err
		}
		if err == nil {
			err = f.Chmod(l.mode)
		}
		if err == nil {
			// Durable before it is moved into place (commit, which
			// then syncs the directories it changed).
			if err = f.Sync(); err != nil {
				err = fmt.Errorf("sync staging file: %w", err)
			}
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}()
	if err != nil {
		if cerr := u.ctx.Err(); cerr != nil {
			return fmt.Errorf("layer %q: %w", l.title, cerr)
		}
		if rerr == nil && !errors.Is(err, errTooLong) {
			// h has hashed all that src gave: hash the rest, to find
			// out whether the blob is what failed. Bounded by the
			// descriptor's size.
			for rerr == nil {
				var n int
				n, rerr = src.Read(u.buf)
				h.Write(u.buf[:n])
			}
			if rerr == io.EOF {
				rerr = nil
			}
		}
	}
	var verr error
	switch {
	case src.n > d.Size || errors.Is(err, errTooLong):
		verr = fmt.Errorf("blob %s: %w: more than the %d bytes expected", d.Digest, layout.ErrSizeMismatch, d.Size)
	case rerr != nil:
		verr = fmt.Errorf("blob %s: %w", d.Digest, rerr)
	case src.n < d.Size:
		verr = fmt.Errorf("blob %s: %w: truncated at %d of %d bytes", d.Digest, layout.ErrSizeMismatch, src.n, d.Size)
	default:
		if got := digest.NewDigest(d.Digest.Algorithm(), h); got != d.Digest {
			verr = fmt.Errorf("blob %s: %w: content hashes to %s", d.Digest, layout.ErrDigestMismatch, got)
		}
	}
	if verr == nil && err == nil {
		return nil
	}
	return u.failLayer(l, verr, err)
}

// writeFile writes a regular-file layer; reading br to its end verifies
// the blob. writeFileLayer does this for blobs whose digest and size are
// usable.
func (u *unpacker) writeFile(root *os.Root, l *layerPlan, br io.Reader) error {
	f, err := root.OpenFile(l.title, osCreateExcl, 0o600)
	if err != nil {
		return fmt.Errorf("create staging file: %w", err)
	}
	_, err = copyBuffer(f, &budgetReader{r: br, b: &u.budget}, u.buf)
	if err == nil {
		err = f.Chmod(l.mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// extractDir extracts a directory layer, then reads the rest of the
// decompressed stream (the tar's padding) and of the blob, so that the
// blob's digest and the tar's digest are both checked.
func (u *unpacker) extractDir(root *os.Root, l *layerPlan, br *bufio.Reader) error {
	if err := root.Mkdir(l.title, 0o700); err != nil {
		return fmt.Errorf("create staging directory: %w", err)
	}
	lroot, err := root.OpenRoot(l.title)
	if err != nil {
		return fmt.Errorf("open staging directory: %w", err)
	}
	defer lroot.Close()

	head, _ := br.Peek(len(zstdMagic)) // a short or failing blob shows up below
	comp := compressionOf(l.desc.MediaType, head)
	dr, release, err := decompress(comp, br)
	if err != nil {
		return err
	}
	defer release()
	stream := dr
	var h hash.Hash
	if l.contentDigest != "" {
		h = l.contentDigest.Algorithm().Hash()
		stream = io.TeeReader(dr, h)
	}

	x := newExtractor(lroot, l.title, &u.budget, u.buf)
	if err := x.extract(u.ctx, stream); err != nil {
		return err
	}
	if err := drain(&budgetReader{r: stream, b: &u.budget}, u.buf); err != nil {
		return fmt.Errorf("after the tar's end (%s compression): %w", comp, err)
	}
	if err := drain(br, u.buf); err != nil {
		return err
	}
	if h != nil {
		if got := digest.NewDigest(l.contentDigest.Algorithm(), h); got != l.contentDigest {
			return fmt.Errorf("uncompressed tar: %w: annotation %s is %s, the tar hashes to %s",
				layout.ErrDigestMismatch, layout.AnnotationContentDigest, l.contentDigest, got)
		}
	}
	l.rootMeta = x.rootMeta
	l.rootMeta.rel = l.title
	return nil
}

// layerError turns an error met while extracting layer l into the error to
// report. A blob that fails verification explains everything after it, so
// the rest of the blob is read to find out, and a verification error wins.
func (u *unpacker) layerError(l *layerPlan, bs *blobStream, br io.Reader, err error) error {
	if cerr := u.ctx.Err(); cerr != nil {
		return fmt.Errorf("layer %q: %w", l.title, cerr)
	}
	if bs.err == nil {
		_ = drain(br, u.buf) // bounded by the descriptor's size
	}
	return u.failLayer(l, bs.err, err)
}

// failLayer is the error of layer l, given the verification error of its
// blob, if any (which wins), and the error met extracting it.
func (u *unpacker) failLayer(l *layerPlan, verr, err error) error {
	if verr != nil {
		return u.wrapLayer(l, verr)
	}
	if u.budget.exceeded() || errors.Is(err, ErrTooLarge) {
		return fmt.Errorf("layer %q: %w: more than %d bytes once decompressed (MaxSize); if the artifact is trusted, raise the limit",
			l.title, ErrTooLarge, u.budget.max)
	}
	return u.wrapLayer(l, err)
}

// wrapLayer prefixes err with the layer's title, and its digest unless the
// message names it already.
func (u *unpacker) wrapLayer(l *layerPlan, err error) error {
	if strings.Contains(err.Error(), l.desc.Digest.String()) {
		return fmt.Errorf("layer %q: %w", l.title, err)
	}
	return fmt.Errorf("layer %q (blob %s): %w", l.title, l.desc.Digest, err)
}

// progress records n more bytes read and reports them.
func (u *unpacker) progress(n int64) {
	u.done += n
	u.opts.Progress(u.done, u.total)
}

// destPath returns a title's path in dest, for messages.
func (u *unpacker) destPath(title string) string {
	return filepath.Join(u.dest, filepath.FromSlash(title))
}

// helmChartMediaType is the layer of a chart that `helm push` stored.
const helmChartMediaType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

// helmChartName names the chart layer of a Helm artifact, which has no title
// annotation, NAME-VERSION.tgz as `helm pull` does (from the manifest's
// title and version annotations, which Helm writes). It returns "" for any
// other layer.
func helmChartName(m *ocispec.Manifest, d ocispec.Descriptor) string {
	name, version := m.Annotations[ocispec.AnnotationTitle], m.Annotations[ocispec.AnnotationVersion]
	if d.MediaType != helmChartMediaType || name == "" || version == "" {
		return ""
	}
	return name + "-" + version + ".tgz"
}
