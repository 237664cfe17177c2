package archive

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/ocipack/ocipack/graph"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/signing"
)

// signedView is what an import's signature check reads: the blobs of an
// archive (read in place, or already stored into dst), then those of the
// layout dst it goes into (a delta's base); the archive's index.json for
// tags and referrers, then dst's. It is the layout as it would be after
// the import, read before the import is done.
type signedView struct {
	blobs content.ReadOnlyStorage // the archive's blobs; nil: dst's only
	index *ocispec.Index          // the archive's index.json
	dst   *layout.Layout
}

func (v *signedView) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	if v.blobs != nil {
		if ok, _ := v.blobs.Exists(ctx, d); ok {
			return v.blobs.Fetch(ctx, d)
		}
	}
	return v.dst.Fetch(ctx, d)
}

func (v *signedView) Exists(ctx context.Context, d ocispec.Descriptor) (bool, error) {
	if v.blobs != nil {
		if ok, err := v.blobs.Exists(ctx, d); ok || err != nil {
			return ok, err
		}
	}
	return v.dst.Exists(ctx, d)
}

func (v *signedView) Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	dg, derr := digest.Parse(ref)
	for _, m := range v.index.Manifests {
		if derr == nil && m.Digest == dg || derr != nil && layout.EntryName(m) == ref {
			return m, nil
		}
	}
	return v.dst.Resolve(ctx, ref)
}

// Predecessors lists the manifests of the archive's index.json whose
// subject is node, and the referrers dst lists.
func (v *signedView) Predecessors(ctx context.Context, node ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	var out []ocispec.Descriptor
	seen := map[digest.Digest]bool{}
	for _, d := range v.index.Manifests {
		if seen[d.Digest] || !graph.IsManifest(d.MediaType) || d.Size > graph.MaxManifestSize {
			continue
		}
		seen[d.Digest] = true
		b, err := layout.ReadBlob(ctx, v, d, graph.MaxManifestSize)
		if err != nil {
			continue // not a signature anyone can use; the import checks it
		}
		if s := graph.SubjectOf(b); s != nil && s.Digest == node.Digest {
			d.Annotations = nil
			out = append(out, d)
		}
	}
	theirs, err := v.dst.Predecessors(ctx, node)
	if err != nil && !errors.Is(err, layout.ErrNotFound) {
		return nil, err
	}
	for _, d := range theirs {
		if !seen[d.Digest] {
			seen[d.Digest] = true
			out = append(out, d)
		}
	}
	return out, nil
}

// requireSigned checks, under p, that every named entry of the archive's
// index (signature tags aside) carries a valid signature in v.
func (v *signedView) requireSigned(ctx context.Context, p *signing.Policy) error {
	var entries []ocispec.Descriptor
	for _, d := range v.index.Manifests {
		if n := layout.EntryName(d); n != "" && !signing.IsSignatureTag(n) {
			entries = append(entries, d)
		}
	}
	if err := signing.RequireSigned(ctx, v, entries, p); err != nil {
		var fe *signing.FailedError
		if errors.As(err, &fe) {
			return err
		}
		return fmt.Errorf("check signatures: %w", err)
	}
	return nil
}

// precheckSigned verifies the signatures of the archive at paths read in
// place, before anything is imported into dst, when it can be read in
// place cheaply (an uncompressed tar, or zstd with a seek table, as
// ocipack writes them). It returns nil when it cannot: the import then
// checks once the blobs are stored, before anything is tagged.
func precheckSigned(ctx context.Context, paths []string, dst *layout.Layout, p *signing.Policy) error {
	r, err := Open(ctx, paths...)
	if err != nil {
		return nil // the import says what is wrong with it
	}
	defer r.Close()
	if r.comp != None && !r.seekTable {
		return nil
	}
	v := &signedView{blobs: r, index: r.index, dst: dst}
	for _, d := range r.index.Manifests {
		if ok, err := v.Exists(ctx, d); err != nil || !ok {
			// A delta whose base dst lacks: the import says so, naming
			// what is missing, rather than a signature check.
			return nil
		}
	}
	return v.requireSigned(ctx, p)
}
