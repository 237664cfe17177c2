package graph

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// Read fetches the manifest desc describes from f (at most MaxManifestSize
// bytes, verified against desc's digest and size) and parses it with Parse.
func Read(ctx context.Context, f content.Fetcher, desc ocispec.Descriptor) (*Manifest, error) {
	if desc.Size > MaxManifestSize {
		return nil, fmt.Errorf("manifest %s: %w: %d bytes is more than the %d allowed", desc.Digest, ErrManifestTooLarge, desc.Size, MaxManifestSize)
	}
	if err := CheckDescriptor(desc); err != nil {
		return nil, err
	}
	rc, err := f.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := content.ReadAll(rc, desc)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	m, err := Parse(desc, b)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	return m, nil
}

// Children returns what the node desc describes is made of: an image
// manifest's config and layers, an artifact manifest's blobs, an index's
// manifests; its subject is not among them. A node whose media type is no
// manifest's (a layer, a config) has none and is not fetched.
func Children(ctx context.Context, f content.Fetcher, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	return readList(ctx, f, desc, (*Manifest).Children)
}

// Successors returns the subject of the node desc describes (if it has
// one) and then its Children: what oras-go's content.Successors returns,
// for every kind of manifest alike (content.Successors leaves out the
// subject of a Docker manifest, which has none, and reads every kind
// without checking its descriptors). Its signature fits
// oras.CopyGraphOptions.FindSuccessors.
func Successors(ctx context.Context, f content.Fetcher, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	return readList(ctx, f, desc, (*Manifest).Successors)
}

// readList reads the manifest desc describes and returns list of it; a
// node whose media type is no manifest's lists nothing and is not fetched.
func readList(ctx context.Context, f content.Fetcher, desc ocispec.Descriptor, list func(*Manifest) []ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	if !IsManifest(desc.MediaType) {
		return nil, nil
	}
	m, err := Read(ctx, f, desc)
	if err != nil {
		return nil, err
	}
	return list(m), nil
}

// Node is a node a Walker meets.
type Node struct {
	// Descriptor describes the node.
	Descriptor ocispec.Descriptor
	// Parent is the manifest that lists it (nil for a root or a referrer).
	Parent *ocispec.Descriptor
	// Depth is how many manifests lie between it and its root.
	Depth int
	// Manifest is the node parsed, when it is a manifest (nil for a blob).
	Manifest *Manifest
}

// Walker walks graphs from their roots, meeting each digest once, across
// every call of Walk.
type Walker struct {
	// Fetcher reads the manifests.
	Fetcher content.Fetcher
	// Subjects says that subjects are followed, as children are.
	Subjects bool
	// Referrers, when set, lists the referrers of a manifest (oras-go's
	// content.PredecessorFinder.Predecessors fits): they are walked too,
	// as roots.
	Referrers func(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error)
	// MaxDepth bounds how deep manifests nest below a root; 0 means the
	// package's MaxDepth. A deeper manifest fails the walk with ErrTooDeep.
	MaxDepth int
	// Visit is called once for every node met, after a manifest is read
	// (and before its children are walked). An error ends the walk.
	Visit func(ctx context.Context, n Node) error

	seen map[digest.Digest]bool
}

// Seen reports whether the walker met d.
func (w *Walker) Seen(d digest.Digest) bool { return w.seen[d] }

// Walk walks the graph below each of roots, reading roots and index
// children as manifests (a descriptor of no media type too: what its
// content says), and the rest by their media types.
func (w *Walker) Walk(ctx context.Context, roots ...ocispec.Descriptor) error {
	if w.seen == nil {
		w.seen = map[digest.Digest]bool{}
	}
	for _, r := range roots {
		if err := w.walk(ctx, r, nil, 0, true); err != nil {
			return err
		}
	}
	return nil
}

func (w *Walker) walk(ctx context.Context, d ocispec.Descriptor, parent *ocispec.Descriptor, depth int, asManifest bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckDescriptor(d); err != nil {
		if parent != nil {
			return fmt.Errorf("manifest %s lists %w", parent.Digest, err)
		}
		return err
	}
	if w.seen[d.Digest] {
		return nil
	}
	w.seen[d.Digest] = true
	n := Node{Descriptor: d, Parent: parent, Depth: depth}
	read := IsManifest(d.MediaType) || asManifest && d.MediaType == ""
	if read {
		max := w.MaxDepth
		if max <= 0 {
			max = MaxDepth
		}
		if depth > max {
			return fmt.Errorf("manifest %s: %w: nested more than %d deep", d.Digest, ErrTooDeep, max)
		}
		m, err := Read(ctx, w.Fetcher, d)
		if err != nil {
			return err
		}
		n.Manifest = m
	}
	if w.Visit != nil {
		if err := w.Visit(ctx, n); err != nil {
			return err
		}
	}
	if n.Manifest == nil {
		return nil
	}
	if w.Subjects && n.Manifest.Subject != nil {
		if err := w.walk(ctx, *n.Manifest.Subject, &d, depth+1, true); err != nil {
			return err
		}
	}
	for _, c := range n.Manifest.ChildList() {
		if err := w.walk(ctx, c.Descriptor, &d, depth+1, c.Manifest); err != nil {
			return err
		}
	}
	if w.Referrers != nil {
		refs, err := w.Referrers(ctx, d)
		if err != nil {
			return fmt.Errorf("list the referrers of %s: %w", d.Digest, err)
		}
		for _, r := range refs {
			if err := w.walk(ctx, r, nil, 0, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// Stats counts a graph.
type Stats struct {
	// Manifests is how many manifests and indexes it has.
	Manifests int
	// Blobs is how many other blobs (configs, layers) it has.
	Blobs int
	// Bytes is the size of all of them, each digest counted once.
	Bytes int64
}

// Count walks the graph below roots in f as w does (w's Fetcher and Visit
// are replaced; its Subjects, Referrers and MaxDepth are used) and counts
// it.
func Count(ctx context.Context, f content.Fetcher, w Walker, roots ...ocispec.Descriptor) (Stats, error) {
	var s Stats
	w.Fetcher = f
	w.seen = nil
	w.Visit = func(_ context.Context, n Node) error {
		if n.Manifest != nil {
			s.Manifests++
		} else {
			s.Blobs++
		}
		s.Bytes += n.Descriptor.Size
		return nil
	}
	err := w.Walk(ctx, roots...)
	return s, err
}
