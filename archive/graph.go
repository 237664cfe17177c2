package archive

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/ocipack/ocipack/layout"
)

// Media types of manifests and indexes other tools write besides OCI's.
const (
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeArtifactManifest   = "application/vnd.oci.artifact.manifest.v1+json"
)

// isManifest reports whether a descriptor's media type is a manifest or an
// index, whose content names other blobs.
func isManifest(mt string) bool {
	switch mt {
	case ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex,
		mediaTypeDockerManifest, mediaTypeDockerManifestList, mediaTypeArtifactManifest:
		return true
	}
	return false
}

// children is what a manifest or index refers to, subject excluded.
type children struct {
	config    *ocispec.Descriptor
	manifests []ocispec.Descriptor // an index's manifests
	layers    []ocispec.Descriptor // a manifest's layers (or an artifact manifest's blobs)
	subject   *ocispec.Descriptor
}

// parseChildren reads the descriptors a manifest or index's JSON holds.
func parseChildren(d ocispec.Descriptor, b []byte) (*children, error) {
	var probe struct {
		Config    *ocispec.Descriptor  `json:"config"`
		Layers    []ocispec.Descriptor `json:"layers"`
		Blobs     []ocispec.Descriptor `json:"blobs"`
		Manifests []ocispec.Descriptor `json:"manifests"`
		Subject   *ocispec.Descriptor  `json:"subject"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("manifest %s: %w: %v", d.Digest, layout.ErrCorrupt, err)
	}
	c := &children{config: probe.Config, manifests: probe.Manifests, layers: append(probe.Layers, probe.Blobs...), subject: probe.Subject}
	all := slices.Concat(c.manifests, c.layers)
	if c.config != nil {
		all = append(all, *c.config)
	}
	for _, x := range all {
		if err := x.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("manifest %s: %w: bad digest %q: %v", d.Digest, layout.ErrCorrupt, x.Digest, err)
		}
		if x.Size < 0 {
			return nil, fmt.Errorf("manifest %s: %w: %s has a negative size", d.Digest, layout.ErrCorrupt, x.Digest)
		}
	}
	return c, nil
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
		if c.config != nil {
			if err := visit(*c.config, false); err != nil {
				return err
			}
		}
		for _, m := range c.manifests {
			if err := visit(m, true); err != nil {
				return err
			}
		}
		for _, l := range c.layers {
			if err := visit(l, false); err != nil {
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
