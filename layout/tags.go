package layout

import (
	"context"
	"fmt"
	"maps"
	"os"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/graph"
)

// Tagged is one tag of a layout and the manifest it points at.
type Tagged struct {
	// Tag is the tag (the org.opencontainers.image.ref.name annotation).
	Tag string
	// Descriptor is index.json's entry for the tag.
	Descriptor ocispec.Descriptor
}

// Tag points tag at the manifest desc describes, moving the tag if it points
// elsewhere. The manifest must be stored already, so that a tag never points
// at a missing blob. Tag implements oras-go's content.Tagger; a reference that
// is desc's own digest is accepted and changes nothing.
func (l *Layout) Tag(ctx context.Context, desc ocispec.Descriptor, tag string) error {
	if tag == desc.Digest.String() {
		return nil
	}
	if err := checkTag(tag); err != nil {
		return err
	}
	// Held before looking, so that GC cannot remove the manifest between
	// this check and the tag.
	if err := l.holdWriting(ctx); err != nil {
		return err
	}
	if err := l.checkManifestStored(ctx, desc, tag); err != nil {
		return err
	}
	return l.updateIndex(ctx, func(idx *ocispec.Index) error {
		setEntry(idx, desc, tag, false)
		return nil
	})
}

// Put writes entries into index.json in one update, under the layout's
// lock: an entry whose org.opencontainers.image.ref.name annotation names a
// tag points that tag at its manifest (moving the tag if it points
// elsewhere); an entry without one lists its manifest untagged, as a
// referrer is listed so that it stays reachable. Either way, an untagged
// entry of the same manifest is replaced, and the entry's other
// annotations are kept. Every manifest must be stored, and every tag
// valid: otherwise Put fails (ErrNotFound, ErrInvalidReference) and writes
// nothing. Importers call it once with all they bring, after
// Check(CheckOptions{Roots: ...}) found the graph sound.
func (l *Layout) Put(ctx context.Context, entries ...ocispec.Descriptor) error {
	if len(entries) == 0 {
		return nil
	}
	for _, e := range entries {
		if tag := e.Annotations[ocispec.AnnotationRefName]; tag != "" && !IsRepoName(tag) {
			if err := checkTag(tag); err != nil {
				return err
			}
		}
		if err := checkDescriptor(e); err != nil {
			return fmt.Errorf("put %s: %w: %v", e.Digest, ErrInvalidReference, err)
		}
	}
	// updateIndex holds the layout for writing before it reads, so that GC
	// cannot remove a manifest between this check and the entries.
	return l.updateIndex(ctx, func(idx *ocispec.Index) error {
		stored := make(map[digest.Digest]bool, len(entries))
		for _, e := range entries {
			if stored[e.Digest] {
				continue
			}
			tag := e.Annotations[ocispec.AnnotationRefName]
			if err := l.checkManifestStored(ctx, e, tag); err != nil {
				return err
			}
			stored[e.Digest] = true
		}
		setEntries(idx, entries, true)
		return nil
	})
}

// WithTags returns, for each of tags, desc with that tag in its
// org.opencontainers.image.ref.name annotation (its other annotations
// kept): the entries to Put to give desc's manifest those tags at once.
func WithTags(desc ocispec.Descriptor, tags ...string) []ocispec.Descriptor {
	out := make([]ocispec.Descriptor, len(tags))
	for i, t := range tags {
		out[i] = desc
		out[i].Annotations = maps.Clone(desc.Annotations)
		if out[i].Annotations == nil {
			out[i].Annotations = map[string]string{}
		}
		out[i].Annotations[ocispec.AnnotationRefName] = t
	}
	return out
}

func checkTag(tag string) error {
	if !ValidName(tag) {
		return fmt.Errorf("tag %q: %w: a tag is 1 to 128 of [A-Za-z0-9._-] and does not start with '.' or '-', or a full name such as docker.io/library/nginx:1.27", tag, ErrInvalidReference)
	}
	return nil
}

// checkManifestStored fails with ErrNotFound unless the manifest desc
// describes is stored, so that tag never points at a missing blob.
func (l *Layout) checkManifestStored(ctx context.Context, desc ocispec.Descriptor, tag string) error {
	if ok, err := l.Exists(ctx, desc); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("tag %q: manifest %s: %w in layout %s", tag, desc.Digest, ErrNotFound, l.root)
	}
	return nil
}

// setEntry points tag at desc in idx (tag "" lists desc untagged): it
// removes the tag's entry, and an untagged entry of the same manifest, and
// appends desc with tag in its annotations. With whole, desc is kept as it
// is (an importer's entry); otherwise only its media types, digest, size,
// platform and annotations.
func setEntry(idx *ocispec.Index, desc ocispec.Descriptor, tag string, whole bool) {
	desc.Annotations = maps.Clone(desc.Annotations)
	if tag != "" {
		if desc.Annotations == nil {
			desc.Annotations = map[string]string{}
		}
		desc.Annotations[ocispec.AnnotationRefName] = tag
	} else {
		delete(desc.Annotations, ocispec.AnnotationRefName)
	}
	setEntries(idx, []ocispec.Descriptor{desc}, whole)
}

// setEntries is setEntry for each of entries in turn, each named by its
// own org.opencontainers.image.ref.name annotation, in one pass over idx:
// O(len(idx.Manifests) + len(entries)), where a setEntry per entry made an
// import of 20,000 tags into a layout quadratic (4*10^8 map lookups). The
// result is the same as the entries' setEntry one after the other: an
// existing entry goes when an entry names its tag, or when it is untagged
// and an entry is of the same manifest; an entry goes when a later one
// would have removed it the same way; the survivors are appended in order.
func setEntries(idx *ocispec.Index, entries []ocispec.Descriptor, whole bool) {
	tags := make(map[string]bool, len(entries))
	digests := make(map[digest.Digest]bool, len(entries))
	survives := make([]bool, len(entries))
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		tag := e.Annotations[ocispec.AnnotationRefName]
		survives[i] = tag != "" && !tags[tag] || tag == "" && !digests[e.Digest]
		if tag != "" {
			tags[tag] = true
		}
		digests[e.Digest] = true
	}
	kept := idx.Manifests[:0]
	for _, d := range idx.Manifests {
		name := d.Annotations[ocispec.AnnotationRefName]
		if name != "" && !tags[name] || name == "" && !digests[d.Digest] {
			kept = append(kept, d)
		}
	}
	for i, desc := range entries {
		if !survives[i] {
			continue
		}
		tag := desc.Annotations[ocispec.AnnotationRefName]
		entry := desc
		if !whole {
			entry = ocispec.Descriptor{
				MediaType:    desc.MediaType,
				Digest:       desc.Digest,
				Size:         desc.Size,
				ArtifactType: desc.ArtifactType,
				Platform:     desc.Platform,
			}
		}
		entry.Annotations = maps.Clone(desc.Annotations)
		if tag != "" {
			nameAnnotations(entry.Annotations, tag)
		}
		kept = append(kept, entry)
	}
	idx.Manifests = kept
}

// Untag takes refs out of index.json, in one update: a tag removes that
// tag; a manifest digest removes the entries that list the manifest
// without a tag (a referrer, an untagged manifest), not its tags. The
// manifests and their blobs stay until a garbage collection. It fails with
// ErrNotFound, and removes nothing, when a ref names no entry.
func (l *Layout) Untag(ctx context.Context, refs ...string) error {
	return l.updateIndex(ctx, func(idx *ocispec.Index) error {
		for _, ref := range refs {
			d, derr := digest.Parse(ref)
			kept := idx.Manifests[:0]
			for _, e := range idx.Manifests {
				name := e.Annotations[ocispec.AnnotationRefName]
				if derr != nil && name == ref || derr == nil && name == "" && e.Digest == d {
					continue
				}
				kept = append(kept, e)
			}
			if len(kept) == len(idx.Manifests) {
				if derr == nil {
					return fmt.Errorf("untagged entry %s: %w in layout %s", ref, ErrNotFound, l.root)
				}
				return fmt.Errorf("tag %q: %w in layout %s", ref, ErrNotFound, l.root)
			}
			idx.Manifests = kept
		}
		return nil
	})
}

// updateIndex runs fn on index.json under the layout's cross-process lock
// and, when fn returns nil, writes the result back atomically, its entries
// in a stable order.
func (l *Layout) updateIndex(ctx context.Context, fn func(*ocispec.Index) error) error {
	if err := l.holdWriting(ctx); err != nil {
		return err
	}
	return l.withLock(ctx, func() error {
		idx, err := l.Index(ctx)
		if err != nil {
			return err
		}
		if err := fn(idx); err != nil {
			return err
		}
		if err := l.writeIndex(idx); err != nil {
			return fmt.Errorf("update %s index.json: %w", l.root, err)
		}
		return nil
	})
}

// Tags returns the layout's tags, sorted.
func (l *Layout) Tags(ctx context.Context) ([]Tagged, error) {
	idx, err := l.Index(ctx)
	if err != nil {
		return nil, err
	}
	sortDescriptors(idx.Manifests)
	var out []Tagged
	for _, d := range idx.Manifests {
		if t := d.Annotations[ocispec.AnnotationRefName]; t != "" {
			out = append(out, Tagged{Tag: t, Descriptor: d})
		}
	}
	return out, nil
}

// Resolve returns the descriptor of a tag, or of a manifest digest
// ("sha256:…") stored in the layout. It fails with ErrNotFound when there is
// no such tag or manifest. It implements oras-go's content.Resolver.
func (l *Layout) Resolve(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	if reference == "" {
		return ocispec.Descriptor{}, fmt.Errorf("%w: empty reference; name a tag or a digest", ErrInvalidReference)
	}
	idx, err := l.Index(ctx)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return l.resolveIn(ctx, idx, reference)
}

// resolveIn is Resolve on the index.json idx.
func (l *Layout) resolveIn(ctx context.Context, idx *ocispec.Index, reference string) (ocispec.Descriptor, error) {
	if reference == "" {
		return ocispec.Descriptor{}, fmt.Errorf("%w: empty reference; name a tag or a digest", ErrInvalidReference)
	}
	d, derr := digest.Parse(reference)
	for _, m := range idx.Manifests {
		if derr == nil && m.Digest == d || derr != nil && m.Annotations[ocispec.AnnotationRefName] == reference {
			return m, nil
		}
	}
	if derr != nil {
		if m, ok, err := resolveShortTag(idx, reference); ok || err != nil {
			if err != nil {
				err = fmt.Errorf("%w in layout %s", err, l.root)
			}
			return m, err
		}
		return ocispec.Descriptor{}, fmt.Errorf("tag %q: %w in layout %s (`ocipack ls %s` lists the tags)", reference, ErrNotFound, l.root, l.root)
	}
	// A digest that index.json does not list may still be a stored manifest
	// (a child of an index, a referrer): describe it from its content.
	fi, err := os.Stat(l.blobPath(d))
	if err != nil || !fi.Mode().IsRegular() {
		return ocispec.Descriptor{}, fmt.Errorf("manifest %s: %w in layout %s", d, ErrNotFound, l.root)
	}
	desc := ocispec.Descriptor{Digest: d, Size: fi.Size()}
	b, err := ReadBlob(ctx, l, desc, MaxManifestSize)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc.MediaType, desc.ArtifactType, err = graph.Describe(b)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("blob %s: %w: not a manifest: %v", d, ErrCorrupt, err)
	}
	return desc, nil
}
