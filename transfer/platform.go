package transfer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/ocipack/ocipack/graph"
)

// ErrNoPlatform means that a copy limited to platforms (Options.Platforms)
// found none of them: an index none of whose children matches, or a single
// image of another platform. The error lists the platforms available
// (graph.NoMatchingPlatformError) and nothing was copied or tagged. It is
// graph.ErrNoMatchingPlatform.
var ErrNoPlatform = graph.ErrNoMatchingPlatform

// selectPlatforms limits the copy of root to Options.Platforms (see
// graph.SelectPlatforms): when that makes a new index, the copier's source
// serves it, and the new root is returned. origin is the source reference
// the new index records.
func (c *copier) selectPlatforms(ctx context.Context, root ocispec.Descriptor, origin string) (ocispec.Descriptor, error) {
	c.src, c.fetch.ReadOnlyGraphTarget = c.base, c.base
	if len(c.opts.Platforms) == 0 {
		return root, nil
	}
	sub, err := graph.SelectPlatforms(ctx, c.base, root, c.opts.Platforms, origin)
	if err != nil {
		return root, fmt.Errorf("%s: %w", origin, err)
	}
	if !sub.Changed() {
		return root, nil
	}
	s := &subsetSource{ReadOnlyGraphTarget: c.base, sub: sub}
	c.src, c.fetch.ReadOnlyGraphTarget = s, s
	return sub.Descriptor, nil
}

// subsetSource is a copy's source with the platform subset's new index
// added: it serves the index's bytes, and lists no referrers for it (the
// source's referrers of the whole index refer to the whole index).
type subsetSource struct {
	oras.ReadOnlyGraphTarget
	sub *graph.Subset
}

func (s *subsetSource) isNew(d ocispec.Descriptor) bool { return d.Digest == s.sub.Descriptor.Digest }

// Fetch serves the new index, and the rest from the source.
func (s *subsetSource) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	if s.isNew(d) {
		return io.NopCloser(bytes.NewReader(s.sub.Content)), nil
	}
	return s.ReadOnlyGraphTarget.Fetch(ctx, d)
}

// Exists reports the new index as there.
func (s *subsetSource) Exists(ctx context.Context, d ocispec.Descriptor) (bool, error) {
	if s.isNew(d) {
		return true, nil
	}
	return s.ReadOnlyGraphTarget.Exists(ctx, d)
}

// Predecessors lists none for the new index.
func (s *subsetSource) Predecessors(ctx context.Context, d ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	if s.isNew(d) {
		return nil, nil
	}
	return s.ReadOnlyGraphTarget.Predecessors(ctx, d)
}

// refSep is ":" before a tag, "@" before a digest.
func refSep(ref string) string {
	if strings.Contains(ref, ":") {
		return "@"
	}
	return ":"
}
