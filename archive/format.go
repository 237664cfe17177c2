package archive

import (
	"archive/tar"
	_ "crypto/sha256" // digest algorithms of blob names
	_ "crypto/sha512"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/layout"
)

const (
	// ContentsFile is the name, at the root of an archive ocipack writes,
	// of the list of the archive's contents (see the package doc).
	ContentsFile = "ocipack-archive.json"
	// ContentsMediaType is the value of the contents list's mediaType field.
	ContentsMediaType = "application/vnd.ocipack.archive.contents.v1+json"

	// maxSmallFile bounds oci-layout, index.json and the contents list when
	// they are read into memory.
	maxSmallFile = 256 << 20
	// copyBufSize is the buffer used to stream blobs.
	copyBufSize = 1 << 20
)

// Blob is one blob an archive holds or needs: its digest and size.
type Blob struct {
	// Digest is the blob's digest.
	Digest digest.Digest `json:"digest"`
	// Size is the blob's size in bytes.
	Size int64 `json:"size"`
}

// contents is ocipack-archive.json.
type contents struct {
	MediaType string `json:"mediaType"`
	// Tags are the tags the archive's index.json carries, sorted.
	Tags []string `json:"tags"`
	// Blobs are every blob the archive holds, in archive order.
	Blobs []Blob `json:"blobs"`
	// Required are the blobs a delta archive's tags need but that it left
	// out: the target must hold them already.
	Required []Blob `json:"required,omitempty"`
}

func (c *contents) validate() error {
	if c.MediaType != ContentsMediaType {
		return fmt.Errorf("%s: mediaType %q, want %q", ContentsFile, c.MediaType, ContentsMediaType)
	}
	for _, b := range append(append([]Blob(nil), c.Blobs...), c.Required...) {
		if err := b.Digest.Validate(); err != nil {
			return fmt.Errorf("%s: bad digest %q: %v", ContentsFile, b.Digest, err)
		}
		if b.Size < 0 || b.Size > layout.MaxBlobSize {
			return fmt.Errorf("%s: blob %s has an impossible size of %d bytes (at most %d, 1 PiB, is accepted); the archive is damaged or forged", ContentsFile, b.Digest, b.Size, int64(layout.MaxBlobSize))
		}
	}
	return nil
}

func parseContents(b []byte) (*contents, error) {
	var c contents
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotArchive, ContentsFile, err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotArchive, err)
	}
	return &c, nil
}

func parseIndex(b []byte) (*ocispec.Index, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("%w: index.json: %v", ErrNotArchive, err)
	}
	if idx.SchemaVersion != 2 {
		return nil, fmt.Errorf("%w: index.json: schemaVersion %d, want 2", ErrNotArchive, idx.SchemaVersion)
	}
	for i, d := range idx.Manifests {
		if err := d.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("%w: index.json: manifests[%d] has a bad digest %q: %v", ErrNotArchive, i, d.Digest, err)
		}
		if d.Size < 0 {
			return nil, fmt.Errorf("%w: index.json: manifests[%d] has a negative size", ErrNotArchive, i)
		}
	}
	return &idx, nil
}

func checkLayoutFile(b []byte) error {
	var l ocispec.ImageLayout
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrNotArchive, ocispec.ImageLayoutFile, err)
	}
	if l.Version != ocispec.ImageLayoutVersion {
		return fmt.Errorf("%w: %s: imageLayoutVersion %q, want %q", ErrNotArchive, ocispec.ImageLayoutFile, l.Version, ocispec.ImageLayoutVersion)
	}
	return nil
}

// readSmall reads a small file entry, refusing more than maxSmallFile bytes.
func readSmall(r io.Reader, name string, size int64) ([]byte, error) {
	if size > maxSmallFile {
		return nil, fmt.Errorf("%w: %s has %d bytes, more than the %d allowed", ErrNotArchive, name, size, maxSmallFile)
	}
	b, err := io.ReadAll(io.LimitReader(r, size))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(b)) != size {
		return nil, fmt.Errorf("read %s: %w", name, io.ErrUnexpectedEOF)
	}
	return b, nil
}

// entryKind says what a tar entry is to the layout.
type entryKind int

const (
	kindIgnore entryKind = iota
	kindLayoutFile
	kindIndex
	kindContents
	kindBlob
)

// classifier maps tar entry names to layout files. Archives made by
// `tar -cf x.tar -C dir .` name entries "./blobs/…", others "blobs/…", and
// a tar of the directory itself "dir/blobs/…": the first entry that names
// a layout file fixes the prefix for the rest.
type classifier struct {
	prefix string
	locked bool
}

// classify checks one header and returns what it is. Unsafe entries
// (absolute, "..", links, devices, fifos, sparse files) fail with
// ErrUnsafeEntry whatever their name.
func (c *classifier) classify(h *tar.Header) (entryKind, digest.Digest, error) {
	name, err := safeName(h.Name)
	if err != nil {
		return 0, "", err
	}
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // TypeRegA: old tars
	case tar.TypeDir, tar.TypeXGlobalHeader:
		return kindIgnore, "", nil
	default:
		return 0, "", fmt.Errorf("%w: %q is a %s; an OCI layout archive holds only files and directories", ErrUnsafeEntry, h.Name, typeName(h.Typeflag))
	}
	if h.Size < 0 {
		return 0, "", fmt.Errorf("%w: %q has a negative size", ErrUnsafeEntry, h.Name)
	}
	if name == "." {
		return kindIgnore, "", nil
	}
	if !c.locked {
		if k, d := layoutName(name); k != kindIgnore {
			c.locked = true
			return k, d, nil
		}
		if i := strings.IndexByte(name, '/'); i > 0 {
			if k, d := layoutName(name[i+1:]); k != kindIgnore {
				c.locked, c.prefix = true, name[:i+1]
				return k, d, nil
			}
		}
		return kindIgnore, "", nil
	}
	if c.prefix != "" {
		if !strings.HasPrefix(name, c.prefix) {
			return kindIgnore, "", nil
		}
		name = name[len(c.prefix):]
	}
	k, d := layoutName(name)
	return k, d, nil
}

// safeName checks an entry name lexically and returns it cleaned, without
// a leading "./".
func safeName(raw string) (string, error) {
	if raw == "" || strings.ContainsRune(raw, 0) {
		return "", fmt.Errorf("%w: empty or NUL-containing name %q", ErrUnsafeEntry, raw)
	}
	n := strings.ReplaceAll(raw, `\`, "/")
	if strings.HasPrefix(n, "/") || len(n) >= 2 && n[1] == ':' {
		return "", fmt.Errorf("%w: %q is an absolute path", ErrUnsafeEntry, raw)
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w: %q has a \"..\" component", ErrUnsafeEntry, raw)
		}
	}
	return path.Clean(n), nil
}

// layoutName says which layout file a prefix-free name is.
func layoutName(n string) (entryKind, digest.Digest) {
	switch n {
	case ocispec.ImageLayoutFile:
		return kindLayoutFile, ""
	case ocispec.ImageIndexFile:
		return kindIndex, ""
	case ContentsFile:
		return kindContents, ""
	}
	parts := strings.Split(n, "/")
	if len(parts) == 3 && parts[0] == ocispec.ImageBlobsDir {
		d := digest.NewDigestFromEncoded(digest.Algorithm(parts[1]), parts[2])
		if d.Validate() == nil {
			return kindBlob, d
		}
	}
	return kindIgnore, ""
}

func typeName(t byte) string {
	switch t {
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeFifo:
		return "fifo"
	case tar.TypeGNUSparse:
		return "sparse file"
	}
	return fmt.Sprintf("entry of type %q", t)
}

// blobName is a blob's entry name in the archives ocipack writes.
func blobName(d digest.Digest) string {
	return ocispec.ImageBlobsDir + "/" + d.Algorithm().String() + "/" + d.Encoded()
}

// fewDigests lists the first few digests of ds and how many there are.
func fewDigests(ds []digest.Digest) string {
	const few = 5
	var parts []string
	for i, d := range ds {
		if i == few {
			parts = append(parts, fmt.Sprintf("and %d more", len(ds)-few))
			break
		}
		parts = append(parts, d.String())
	}
	return fmt.Sprintf("%d blob(s): %s", len(ds), strings.Join(parts, ", "))
}
