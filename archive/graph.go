package archive

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/ocipack/ocipack/graph"
	"github.com/ocipack/ocipack/layout"
)

// isManifest reports whether a descriptor's media type is a manifest or an
// index, whose content names other blobs.
func isManifest(mt string) bool { return graph.IsManifest(mt) }

// parseChildren parses the manifest or index d describes, whose content is
// b (graph.Parse), failing with layout.ErrCorrupt.
func parseChildren(d ocispec.Descriptor, b []byte) (*graph.Manifest, error) {
	m, err := graph.Parse(d, b)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w: %v", d.Digest, layout.ErrCorrupt, err)
	}
	return m, nil
}

// completeness walks the graph below roots in s and returns the digests
// (in walk order) that s does not hold with the right size, and every
// digest reached.
func completeness(ctx context.Context, s content.ReadOnlyStorage, roots []ocispec.Descriptor) (missing []digest.Digest, reached map[digest.Digest]bool, err error) {
	reached = map[digest.Digest]bool{}
	var visit func(d ocispec.Descriptor, manifest bool) error
	visit = func(d ocispec.Descriptor, manifest bool) error {
		if reached[d.Digest] {
			return nil
		}
		reached[d.Digest] = true
		if err := ctx.Err(); err != nil {
			return err
		}
		ok, err := s.Exists(ctx, d)
		if err != nil {
			return err
		}
		if !ok {
			missing = append(missing, d.Digest)
			return nil
		}
		if !manifest && !isManifest(d.MediaType) {
			return nil
		}
		b, err := layout.ReadBlob(ctx, s, d, layout.MaxManifestSize)
		if err != nil {
			return tampered(err)
		}
		c, err := parseChildren(d, b)
		if err != nil {
			return err
		}
		for _, k := range c.ChildList() {
			if err := visit(k.Descriptor, k.Manifest); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range roots {
		if err := visit(r, true); err != nil {
			return nil, nil, err
		}
	}
	return missing, reached, nil
}

// errMissing builds the error for blobs an import lacks.
func errMissing(sentinel error, missing []digest.Digest) error {
	return fmt.Errorf("%w: %s", sentinel, fewDigests(missing))
}
