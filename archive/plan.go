package archive

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/graph"
	"github.com/ocipack/ocipack/layout"
)

// DigestSet is a set of blob digests, such as the blobs an earlier archive
// or layout holds (see DigestsOfLayout and DigestsOfArchive).
type DigestSet map[digest.Digest]bool

// plan is what an export writes.
type plan struct {
	tags     []string
	index    ocispec.Index
	blobs    []ocispec.Descriptor // in archive order: manifests, indexes and configs, then layers
	required []ocispec.Descriptor // left out (delta)
	contents []byte               // ocipack-archive.json
	docker   []byte               // manifest.json for docker load (nil: none)
	images   map[digest.Digest]dockerImage
}

type planner struct {
	ctx    context.Context
	l      Source
	since  DigestSet
	seen   map[digest.Digest]bool
	meta   []ocispec.Descriptor
	layers []ocispec.Descriptor
	req    []ocispec.Descriptor
	from   string // the tag being walked, for messages
	// images are the image manifests read, for dockerManifest, so that
	// it need not read and parse each a second time.
	images map[digest.Digest]dockerImage
}

// dockerImage is what manifest.json needs of an image manifest.
type dockerImage struct {
	config ocispec.Descriptor
	layers []ocispec.Descriptor
}

// makePlan walks everything the tags reach in l (nil tags: every tag), and
// the referrers index.json lists for it.
func makePlan(ctx context.Context, l Source, tags []string, since DigestSet) (*plan, error) {
	idx, err := l.Index(ctx)
	if err != nil {
		return nil, err
	}
	entries := slices.Clone(idx.Manifests)
	sortEntries(entries)
	byTag := map[string]ocispec.Descriptor{}
	var all []string
	for _, d := range entries {
		t := d.Annotations[ocispec.AnnotationRefName]
		if _, dup := byTag[t]; t != "" && !dup {
			byTag[t] = d
			all = append(all, t)
		}
	}
	if tags == nil {
		tags = all
		if len(tags) == 0 {
			return nil, fmt.Errorf("%s has no tags: nothing to export", sourceName(l))
		}
	}
	tags = slices.Clone(tags)
	slices.Sort(tags)
	tags = slices.Compact(tags)
	if len(tags) == 0 {
		return nil, errors.New("no tags given: nothing to export")
	}

	p := &planner{ctx: ctx, l: l, since: since, seen: map[digest.Digest]bool{}, images: map[digest.Digest]dockerImage{}}
	out := &plan{tags: tags}
	out.index.SchemaVersion = 2
	out.index.MediaType = graph.MediaTypeOCIIndex
	for _, t := range tags {
		d, ok := byTag[t]
		if !ok {
			return nil, fmt.Errorf("tag %q: %w in %s", t, layout.ErrNotFound, sourceName(l))
		}
		p.from = "tag " + t
		if err := p.visit(d, true, false); err != nil {
			return nil, err
		}
		out.index.Manifests = append(out.index.Manifests, d)
	}

	// Referrers: untagged entries whose subject is exported, until no more
	// are found (referrers of referrers).
	// Each untagged entry is read once, not once a round: a chain of k
	// referrers took k rounds over every untagged entry.
	added := map[digest.Digest]bool{}
	subjects := map[digest.Digest]digest.Digest{} // untagged entry -> its subject ("": none, or unreadable)
	for more := true; more; {
		more = false
		for _, d := range idx.Manifests {
			if d.Annotations[ocispec.AnnotationRefName] != "" || added[d.Digest] || !isManifest(d.MediaType) {
				continue
			}
			subject, read := subjects[d.Digest]
			if !read {
				if b, err := layout.ReadBlob(ctx, l, d, layout.MaxManifestSize); err == nil { // else not ours to judge: it is not exported
					if c, err := parseChildren(d, b); err == nil && c.Subject != nil {
						subject = c.Subject.Digest
					}
				}
				subjects[d.Digest] = subject
			}
			if subject == "" || !p.seen[subject] {
				continue
			}
			added[d.Digest] = true
			more = true
			p.from = "referrer " + d.Digest.String()
			if err := p.visit(d, true, false); err != nil {
				return nil, err
			}
			out.index.Manifests = append(out.index.Manifests, d)
		}
	}
	sortEntries(out.index.Manifests)
	out.blobs = slices.Concat(p.meta, p.layers)
	out.required = p.req
	out.images = p.images
	return out, nil
}

// visit adds d and what it refers to. manifest says d is a manifest or an
// index (an index.json entry, or an index's child); small says it belongs
// with the small blobs (a config).
func (p *planner) visit(d ocispec.Descriptor, manifest, small bool) error {
	if p.seen[d.Digest] {
		return nil
	}
	p.seen[d.Digest] = true
	if err := p.ctx.Err(); err != nil {
		return err
	}
	d = ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
	have := p.since[d.Digest]
	if have {
		p.req = append(p.req, d)
	}
	if manifest || isManifest(d.MediaType) {
		b, err := layout.ReadBlob(p.ctx, p.l, d, layout.MaxManifestSize)
		if err != nil {
			if have && errors.Is(err, layout.ErrNotFound) {
				return nil // the old side has it; its children too
			}
			return fmt.Errorf("%s: manifest %s: %w", p.from, d.Digest, err)
		}
		c, err := parseChildren(d, b)
		if err != nil {
			return fmt.Errorf("%s: %w", p.from, err)
		}
		if !have {
			p.meta = append(p.meta, d)
		}
		if c.Kind == graph.KindImage && c.Config != nil {
			p.images[d.Digest] = dockerImage{config: *c.Config, layers: c.Layers}
		}
		for _, k := range c.ChildList() {
			// A config belongs with the small blobs.
			if err := p.visit(k.Descriptor, k.Manifest, k.Field == "config"); err != nil {
				return err
			}
		}
		return nil
	}
	if have {
		return nil
	}
	ok, err := p.l.Exists(p.ctx, d)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s: blob %s (%d bytes): %w in %s", p.from, d.Digest, d.Size, layout.ErrNotFound, sourceName(p.l))
	}
	if small {
		p.meta = append(p.meta, d)
	} else {
		p.layers = append(p.layers, d)
	}
	return nil
}

// sortEntries sorts index.json entries by tag, then by digest, as a layout
// keeps them.
func sortEntries(ds []ocispec.Descriptor) {
	slices.SortStableFunc(ds, func(a, b ocispec.Descriptor) int {
		if c := strings.Compare(a.Annotations[ocispec.AnnotationRefName], b.Annotations[ocispec.AnnotationRefName]); c != 0 {
			return c
		}
		return strings.Compare(string(a.Digest), string(b.Digest))
	})
}
