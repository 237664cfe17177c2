package layout

import (
	"context"
	"fmt"
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
	return l.UpdateIndex(ctx, func(idx *ocispec.Index) error {
		setTag(idx, desc, tag)
		return nil
	})
}

// TagReference points every tag of tags at what reference (a tag or a
// manifest digest, as Resolve takes) resolves to, and returns that
// descriptor. It reads and writes index.json once, under the layout's lock,
// so the reference is resolved in the same index.json the tags are written
// to, and either every tag is set or none is.
func (l *Layout) TagReference(ctx context.Context, reference string, tags ...string) (ocispec.Descriptor, error) {
	if len(tags) == 0 {
		return l.Resolve(ctx, reference)
	}
	for _, t := range tags {
		if err := checkTag(t); err != nil {
			return ocispec.Descriptor{}, err
		}
	}
	var desc ocispec.Descriptor
	// UpdateIndex holds the layout for writing before it reads, so that GC
	// cannot remove the manifest between this check and the tags.
	err := l.UpdateIndex(ctx, func(idx *ocispec.Index) error {
		d, err := l.resolveIn(ctx, idx, reference)
		if err != nil {
			return err
		}
		if err := l.checkManifestStored(ctx, d, tags[0]); err != nil {
			return err
		}
		for _, t := range tags {
			setTag(idx, d, t)
		}
		desc = d
		return nil
	})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return desc, nil
}

func checkTag(tag string) error {
	if !ValidTag(tag) {
		return fmt.Errorf("tag %q: %w: a tag is 1 to 128 of [A-Za-z0-9._-] and does not start with '.' or '-'", tag, ErrInvalidReference)
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

// setTag points tag at desc in idx: it removes the tag's entry, and an
// untagged entry of the same manifest, and appends a new entry.
func setTag(idx *ocispec.Index, desc ocispec.Descriptor, tag string) {
	entry := ocispec.Descriptor{
		MediaType:    desc.MediaType,
		Digest:       desc.Digest,
		Size:         desc.Size,
		ArtifactType: desc.ArtifactType,
		Platform:     desc.Platform,
		Annotations:  map[string]string{},
	}
	for k, v := range desc.Annotations {
		entry.Annotations[k] = v
	}
	entry.Annotations[ocispec.AnnotationRefName] = tag
	kept := idx.Manifests[:0]
	for _, d := range idx.Manifests {
		name := d.Annotations[ocispec.AnnotationRefName]
		if name != tag && (name != "" || d.Digest != desc.Digest) {
			kept = append(kept, d)
		}
	}
	idx.Manifests = append(kept, entry)
}

// Untag removes tag from index.json. The manifest and its blobs stay until a
// garbage collection. It fails with ErrNotFound when there is no such tag.
func (l *Layout) Untag(ctx context.Context, tag string) error {
	return l.UpdateIndex(ctx, func(idx *ocispec.Index) error {
		kept := idx.Manifests[:0]
		for _, d := range idx.Manifests {
			if d.Annotations[ocispec.AnnotationRefName] != tag {
				kept = append(kept, d)
			}
		}
		if len(kept) == len(idx.Manifests) {
			return fmt.Errorf("tag %q: %w in layout %s", tag, ErrNotFound, l.root)
		}
		idx.Manifests = kept
		return nil
	})
}

// UpdateIndex runs fn on index.json under the layout's cross-process lock
// and, when fn returns nil, writes the result back atomically, its entries
// in a stable order.
func (l *Layout) UpdateIndex(ctx context.Context, fn func(*ocispec.Index) error) error {
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
		return ocispec.Descriptor{}, fmt.Errorf("tag %q: %w in layout %s (`ocipack ls %s` lists the tags)", reference, ErrNotFound, l.root, l.root)
	}
	// A digest that index.json does not list may still be a stored manifest
	// (a child of an index, a referrer): describe it from its content.
	fi, err := os.Stat(l.BlobPath(d))
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
