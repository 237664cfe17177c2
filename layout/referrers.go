package layout

import (
	"context"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/graph"
)

// Referrers (SBOMs, signatures: manifests whose `subject` is another
// manifest) are listed in index.json as untagged entries, as oras-go's
// content/oci store does, so that they stay reachable (gc keeps them) and
// Predecessors finds them.

// addReferrer lists the stored manifest desc in index.json, untagged, when
// it refers to a subject.
func (l *Layout) addReferrer(ctx context.Context, desc ocispec.Descriptor) error {
	if !graph.IsManifest(desc.MediaType) || desc.Size > MaxManifestSize {
		return nil
	}
	b, err := ReadBlob(ctx, l, desc, MaxManifestSize)
	if err != nil {
		return err
	}
	if graph.SubjectOf(b) == nil {
		return nil
	}
	entry := ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size, ArtifactType: desc.ArtifactType}
	return l.updateIndex(ctx, func(idx *ocispec.Index) error {
		for _, d := range idx.Manifests {
			if d.Digest == desc.Digest {
				return nil
			}
		}
		idx.Manifests = append(idx.Manifests, entry)
		return nil
	})
}

// Predecessors returns the manifests listed in index.json whose subject is
// node: its referrers. It implements oras-go's content.PredecessorFinder, so
// that oras.ExtendedCopy can carry referrers along with an artifact.
func (l *Layout) Predecessors(ctx context.Context, node ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	idx, err := l.Index(ctx)
	if err != nil {
		return nil, err
	}
	var out []ocispec.Descriptor
	seen := map[string]bool{}
	for _, d := range idx.Manifests {
		if seen[d.Digest.String()] || !graph.IsManifest(d.MediaType) {
			continue
		}
		seen[d.Digest.String()] = true
		b, err := ReadBlob(ctx, l, d, MaxManifestSize)
		if err != nil {
			return nil, fmt.Errorf("find referrers of %s: %w", node.Digest, err)
		}
		if s := graph.SubjectOf(b); s != nil && s.Digest == node.Digest {
			d.Annotations = nil // drop the ref name: it is the entry's, not the manifest's
			out = append(out, d)
		}
	}
	return out, nil
}
