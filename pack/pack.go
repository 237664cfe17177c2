// Package pack turns files and directories into blobs and an image-spec v1.1
// manifest in an OCI image layout.
//
// A regular file becomes one blob, annotated with its base name as title and
// its permission bits. A directory becomes one deterministic tar archive
// (sorted entries, uid/gid 0, no user or group names, fixed mtimes),
// compressed with gzip, zstd or not at all, and annotated the way oras
// annotates directories, so that `oras pull` restores it as well as
// `ocipack unpack` does. The same inputs with the same SourceDateEpoch give
// the same manifest digest on any machine.
package pack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/layout"
)

const (
	// DefaultArtifactType is the manifest's artifactType when none is given.
	DefaultArtifactType = "application/vnd.ocipack.bundle.v1"
	// DefaultFileMediaType is a regular file's media type when none is
	// given; it is the one `oras push` uses.
	DefaultFileMediaType = "application/vnd.oci.image.layer.v1.tar"
	// DefaultConfigMediaType is the media type of a --config file given
	// without one; it is the one `oras push --config` uses.
	DefaultConfigMediaType = "application/vnd.unknown.config.v1+json"
	// MediaTypeTar, MediaTypeTarGzip and MediaTypeTarZstd are the media
	// types of a directory's archive for each compression.
	MediaTypeTar     = ocispec.MediaTypeImageLayer
	MediaTypeTarGzip = ocispec.MediaTypeImageLayerGzip
	MediaTypeTarZstd = ocispec.MediaTypeImageLayerZstd
)

// ErrDuplicateTitle means two inputs have the same base name, which would
// make them the same file on unpack.
var ErrDuplicateTitle = errors.New("two inputs have the same name")

// ErrUnsupportedFile means an input is, or a directory holds, something that
// cannot be packed: a device, a socket, a fifo, or a symlink that points
// outside the directory.
var ErrUnsupportedFile = errors.New("cannot pack")

// Compression is how a directory's tar archive is compressed.
type Compression string

// The compressions a directory's archive can have.
const (
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
	None Compression = "none"
)

// ParseCompression reads "gzip", "zstd" or "none".
func ParseCompression(s string) (Compression, error) {
	switch c := Compression(s); c {
	case Gzip, Zstd, None:
		return c, nil
	}
	return "", fmt.Errorf("unknown compression %q: use gzip, zstd or none", s)
}

// Input is one file or directory to pack.
type Input struct {
	// Path is the file or directory.
	Path string
	// MediaType is the layer's media type; "" chooses the default.
	MediaType string
}

var mediaTypeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$`)

// ParseInput reads PATH[:MEDIATYPE]. The part after the last ':' is a media
// type only when it looks like one (type/subtype), so paths holding ':' (such
// as C:\dir on Windows) stay paths.
func ParseInput(s string) Input {
	if i := strings.LastIndex(s, ":"); i > 0 && mediaTypeRE.MatchString(s[i+1:]) {
		return Input{Path: s[:i], MediaType: s[i+1:]}
	}
	return Input{Path: s}
}

// Options controls Pack. The zero value packs with gzip, the default
// artifact type, an empty config and the current time as created.
type Options struct {
	// ArtifactType is the manifest's artifactType; "" means
	// DefaultArtifactType.
	ArtifactType string
	// Annotations are added to the manifest's annotations.
	Annotations map[string]string
	// Config, when set, is a file stored as the manifest's config; its
	// MediaType "" means DefaultConfigMediaType. Nil means the empty config
	// of image-spec v1.1.
	Config *Input
	// Compression compresses directory archives; "" means Gzip.
	Compression Compression
	// KeepMtime keeps files' modification times (in whole seconds) in
	// directory archives instead of setting them to SourceDateEpoch or to
	// the Unix epoch. Archives are then no longer reproducible.
	KeepMtime bool
	// SourceDateEpoch, when set, is the created time of the manifest and the
	// mtime of every entry of a directory archive (see SourceDateEpochFromEnv).
	SourceDateEpoch *time.Time
	// Progress, when set, is called as input bytes are read, with the bytes
	// read so far and the total of all inputs.
	Progress func(done, total int64)
	// CheckSpace, when set, is called before anything is written with the
	// bytes the inputs hold (an upper bound of what the layout needs), and
	// Pack stops with its error. The CLI checks the layout's free disk space.
	CheckSpace func(need int64) error
}

// Result describes what Pack stored.
type Result struct {
	// Manifest is the manifest's descriptor, as tagged.
	Manifest ocispec.Descriptor
	// Layers are the manifest's layers, one for each input, in order.
	Layers []ocispec.Descriptor
}

// SourceDateEpochFromEnv reads the SOURCE_DATE_EPOCH environment variable
// (seconds since the Unix epoch), as reproducible builds define it. It
// returns nil when the variable is unset or empty.
func SourceDateEpochFromEnv() (*time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return nil, nil
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a whole number of seconds", v)
	}
	t := time.Unix(sec, 0).UTC()
	return &t, nil
}

// Pack stores every input in l as a layer of one new manifest, and tags the
// manifest with tag, a plain tag or a full name (moving the tag if it
// exists). Each input is read once: it is hashed while it is written to a
// temporary file inside the layout.
// Nothing is tagged unless every input was stored.
func Pack(ctx context.Context, l *layout.Layout, tag string, inputs []Input, opts Options) (*Result, error) {
	if !layout.ValidName(tag) {
		return nil, fmt.Errorf("tag %q: %w", tag, layout.ErrInvalidReference)
	}
	if len(inputs) == 0 {
		return nil, errors.New("nothing to pack: name at least one file or directory")
	}
	if opts.Compression == "" {
		opts.Compression = Gzip
	}
	if _, err := ParseCompression(string(opts.Compression)); err != nil {
		return nil, err
	}

	// Look at every input before writing anything, so that a typo or an
	// unpackable file fails at once rather than after gigabytes.
	plans := make([]*plan, len(inputs))
	titles := map[string]string{}
	var total int64
	for i, in := range inputs {
		p, err := planInput(ctx, in)
		if err != nil {
			return nil, err
		}
		if prev, ok := titles[p.title]; ok {
			return nil, fmt.Errorf("%w: %s and %s are both titled %q; pack one of them under another name", ErrDuplicateTitle, prev, in.Path, p.title)
		}
		titles[p.title] = in.Path
		plans[i] = p
		total += p.size
	}
	// The config is opened before anything is stored too.
	config := ocispec.DescriptorEmptyJSON
	config.Data = nil
	configReader := io.Reader(bytes.NewReader(ocispec.DescriptorEmptyJSON.Data))
	if opts.Config != nil {
		f, err := os.Open(opts.Config.Path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		defer f.Close()
		if fi, err := f.Stat(); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		} else if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("config %s: %w: it is not a regular file", opts.Config.Path, ErrUnsupportedFile)
		}
		config.MediaType = opts.Config.MediaType
		if config.MediaType == "" {
			config.MediaType = DefaultConfigMediaType
		}
		configReader = f
	}
	if opts.CheckSpace != nil {
		// An upper bound: compression and blobs stored already only lower it.
		if err := opts.CheckSpace(total); err != nil {
			return nil, err
		}
	}
	prog := &counter{total: total, fn: opts.Progress}

	res := &Result{}
	for _, p := range plans {
		var desc ocispec.Descriptor
		var err error
		if p.dir {
			desc, err = packDir(ctx, l, p, opts, prog)
		} else {
			desc, err = packFile(ctx, l, p, prog)
		}
		if err != nil {
			return nil, err
		}
		res.Layers = append(res.Layers, desc)
	}

	config, err := l.Ingest(ctx, config.MediaType, configReader)
	if err != nil {
		return nil, fmt.Errorf("store config: %w", err)
	}

	created := time.Now().UTC()
	if opts.SourceDateEpoch != nil {
		created = opts.SourceDateEpoch.UTC()
	}
	annotations := map[string]string{ocispec.AnnotationCreated: created.Format(time.RFC3339)}
	maps.Copy(annotations, opts.Annotations)
	artifactType := opts.ArtifactType
	if artifactType == "" {
		artifactType = DefaultArtifactType
	}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType,
		Config:       config,
		Layers:       res.Layers,
		Annotations:  annotations,
	}
	desc, err := storeManifest(ctx, l, m, tag)
	if err != nil {
		return nil, err
	}
	res.Manifest = desc
	return res, nil
}

// storeManifest stores the image manifest m in l and tags it tag; the
// descriptor it returns (and tags) carries m's artifact type.
func storeManifest(ctx context.Context, l *layout.Layout, m ocispec.Manifest, tag string) (ocispec.Descriptor, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc, err := l.Ingest(ctx, ocispec.MediaTypeImageManifest, bytes.NewReader(b))
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("store manifest: %w", err)
	}
	desc.ArtifactType = m.ArtifactType
	if err := l.Tag(ctx, desc, tag); err != nil {
		return ocispec.Descriptor{}, err
	}
	return desc, nil
}

// plan is one input, looked at but not yet read.
type plan struct {
	in    Input
	title string
	dir   bool
	root  string // directory: the path to walk (symlinks in in.Path resolved)
	mode  os.FileMode
	size  int64 // bytes to read: the file, or every regular file of the tree
}

func planInput(ctx context.Context, in Input) (*plan, error) {
	fi, err := os.Stat(in.Path)
	if err != nil {
		return nil, fmt.Errorf("input %w", err)
	}
	abs, err := filepath.Abs(in.Path)
	if err != nil {
		return nil, err
	}
	p := &plan{in: in, title: filepath.Base(abs), mode: fi.Mode()}
	switch {
	case fi.Mode().IsRegular():
		p.size = fi.Size()
	case fi.IsDir():
		p.dir = true
		// A symlink to a directory is packed as the directory it points
		// at (walking the link itself would pack just the link).
		if p.root, err = filepath.EvalSymlinks(in.Path); err != nil {
			return nil, fmt.Errorf("input %w", err)
		}
		p.size, err = scanTree(ctx, p.root)
		if err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%s: %w: it is a %s, not a file or directory", in.Path, ErrUnsupportedFile, fileKind(fi.Mode()))
	}
	return p, nil
}

func packFile(ctx context.Context, l *layout.Layout, p *plan, prog *counter) (ocispec.Descriptor, error) {
	f, err := os.Open(p.in.Path)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer f.Close()
	mt := p.in.MediaType
	if mt == "" {
		mt = DefaultFileMediaType
	}
	desc, err := l.Ingest(ctx, mt, prog.reader(f))
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pack %s: %w", p.in.Path, err)
	}
	desc.Annotations = map[string]string{
		ocispec.AnnotationTitle:   p.title,
		layout.AnnotationFileMode: fmt.Sprintf("%04o", p.mode.Perm()),
	}
	return desc, nil
}

// counter reports progress across all inputs.
type counter struct {
	done, total int64
	fn          func(done, total int64)
}

func (c *counter) add(n int) {
	if c.fn != nil && n > 0 {
		c.done += int64(n)
		c.fn(c.done, c.total)
	}
}

func (c *counter) reader(r io.Reader) io.Reader {
	if c.fn == nil {
		return r
	}
	return &countingReader{r: r, c: c}
}

type countingReader struct {
	r io.Reader
	c *counter
}

func (cr *countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.c.add(n)
	return n, err
}

func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeSymlink != 0:
		return "symlink"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeCharDevice != 0:
		return "character device"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "special file"
}
