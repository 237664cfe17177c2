package layout

import (
	"context"
	"encoding/json"
	"fmt"
	"hash"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/ocipack/ocipack/graph"
)

// VerifyReader reads a blob and checks it against its descriptor: it fails
// with ErrSizeMismatch as soon as the content is longer than desc.Size, and
// at the end of the content with ErrSizeMismatch when it is shorter or
// ErrDigestMismatch when it hashes to another digest. It returns io.EOF only
// once the whole content has been verified.
type VerifyReader struct {
	r    io.Reader
	desc ocispec.Descriptor
	h    hash.Hash
	n    int64
	err  error
}

// NewVerifyReader returns a VerifyReader reading r, which is expected to hold
// the blob desc describes.
func NewVerifyReader(r io.Reader, desc ocispec.Descriptor) *VerifyReader {
	v := &VerifyReader{r: r, desc: desc}
	if err := graph.ValidateDigest(desc.Digest); err != nil {
		v.err = fmt.Errorf("blob %q: %w", desc.Digest, err)
		return v
	}
	if desc.Size < 0 {
		// Read would otherwise slice p with a negative bound or return a
		// negative count.
		v.err = fmt.Errorf("blob %s: %w: negative size %d", desc.Digest, ErrSizeMismatch, desc.Size)
		return v
	}
	v.h = desc.Digest.Algorithm().Hash()
	return v
}

// Read implements io.Reader.
func (v *VerifyReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if rest := v.desc.Size - v.n + 1; int64(len(p)) > rest {
		p = p[:rest] // read at most one byte past the end, to detect it
	}
	m, err := v.r.Read(p)
	v.h.Write(p[:m])
	v.n += int64(m)
	if v.n > v.desc.Size {
		v.err = fmt.Errorf("blob %s: %w: more than the %d bytes expected", v.desc.Digest, ErrSizeMismatch, v.desc.Size)
		return m - int(v.n-v.desc.Size), v.err
	}
	if err == io.EOF {
		if v.n != v.desc.Size {
			v.err = fmt.Errorf("blob %s: %w: truncated at %d of %d bytes", v.desc.Digest, ErrSizeMismatch, v.n, v.desc.Size)
		} else if got := digest.NewDigest(v.desc.Digest.Algorithm(), v.h); got != v.desc.Digest {
			v.err = fmt.Errorf("blob %s: %w: content hashes to %s", v.desc.Digest, ErrDigestMismatch, got)
		} else {
			v.err = io.EOF
		}
		return m, v.err
	}
	if err != nil {
		v.err = fmt.Errorf("blob %s: %w", v.desc.Digest, err)
	}
	return m, v.err
}

// ReadBlob reads the whole blob desc describes from f, verified, refusing
// blobs larger than limit bytes before reading them.
func ReadBlob(ctx context.Context, f content.Fetcher, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	if desc.Size < 0 || desc.Size > limit {
		return nil, fmt.Errorf("blob %s: %w: %d bytes is more than the %d allowed for it", desc.Digest, ErrSizeMismatch, desc.Size, limit)
	}
	rc, err := f.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(NewVerifyReader(rc, desc))
}

// ReadManifest reads and parses the image manifest desc describes, verified
// against its digest and bounded by MaxManifestSize.
func ReadManifest(ctx context.Context, f content.Fetcher, desc ocispec.Descriptor) (*ocispec.Manifest, error) {
	if desc.MediaType != graph.MediaTypeOCIManifest && desc.MediaType != "" {
		return nil, fmt.Errorf("%s: media type %q is not an OCI image manifest", desc.Digest, desc.MediaType)
	}
	b, err := ReadBlob(ctx, f, desc, MaxManifestSize)
	if err != nil {
		return nil, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w: %v", desc.Digest, ErrCorrupt, err)
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("manifest %s: %w: schemaVersion %d, want 2", desc.Digest, ErrCorrupt, m.SchemaVersion)
	}
	if m.MediaType != "" && m.MediaType != graph.MediaTypeOCIManifest {
		return nil, fmt.Errorf("manifest %s: %w: mediaType %q is not an OCI image manifest", desc.Digest, ErrCorrupt, m.MediaType)
	}
	for i, d := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		if err := graph.ValidateDigest(d.Digest); err != nil {
			return nil, fmt.Errorf("manifest %s: %w: descriptor %d has a bad digest %q", desc.Digest, ErrCorrupt, i, d.Digest)
		}
		if d.Size < 0 {
			return nil, fmt.Errorf("manifest %s: %w: descriptor %d has a negative size", desc.Digest, ErrCorrupt, i)
		}
	}
	return &m, nil
}
