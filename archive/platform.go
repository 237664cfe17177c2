package archive

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/graph"
)

// withPlatforms returns src as an export of the tags (nil: every tag)
// limited to the platforms want sees it (src itself when want is empty):
// each tag that names an index with children of other platforms names a
// new index instead, made by graph.SelectPlatforms (its source reference
// is the tag), and served from memory. A tag with no child of a platform
// asked for, or a single image of another platform, fails with
// graph.ErrNoMatchingPlatform.
func withPlatforms(ctx context.Context, src Source, tags []string, want []ocispec.Platform) (Source, error) {
	if len(want) == 0 {
		return src, nil
	}
	idx, err := src.Index(ctx)
	if err != nil {
		return nil, err
	}
	s := &subsetSource{Source: src, index: *idx, made: map[digest.Digest][]byte{}}
	s.index.Manifests = slices.Clone(idx.Manifests)
	for i, d := range s.index.Manifests {
		t := d.Annotations[ocispec.AnnotationRefName]
		if t == "" || tags != nil && !slices.Contains(tags, t) {
			continue
		}
		sub, err := graph.SelectPlatforms(ctx, src, d, want, t)
		if err != nil {
			return nil, fmt.Errorf("tag %q: %w", t, err)
		}
		if !sub.Changed() {
			continue
		}
		d.Digest, d.Size, d.MediaType = sub.Descriptor.Digest, sub.Descriptor.Size, sub.Descriptor.MediaType
		s.index.Manifests[i] = d
		s.made[d.Digest] = sub.Content
	}
	return s, nil
}

// subsetSource is a Source whose index.json names the platform subsets of
// its tags, which it serves from memory.
type subsetSource struct {
	Source
	index ocispec.Index
	made  map[digest.Digest][]byte
}

// String names the source as the source it wraps.
func (s *subsetSource) String() string { return sourceName(s.Source) }

// Index returns index.json with the tags naming the subsets.
func (s *subsetSource) Index(context.Context) (*ocispec.Index, error) {
	idx := s.index
	return &idx, nil
}

// Fetch serves the subsets, and the rest from the source.
func (s *subsetSource) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	if b, ok := s.made[d.Digest]; ok {
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	return s.Source.Fetch(ctx, d)
}

// Exists reports the subsets as there.
func (s *subsetSource) Exists(ctx context.Context, d ocispec.Descriptor) (bool, error) {
	if _, ok := s.made[d.Digest]; ok {
		return true, nil
	}
	return s.Source.Exists(ctx, d)
}
