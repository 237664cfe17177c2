package layout

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// setEntryOneByOne is setEntry as it was before setEntries: one pass over
// the index per entry. The reference setEntries must agree with.
func setEntryOneByOne(idx *ocispec.Index, desc ocispec.Descriptor, tag string) {
	entry := desc
	entry.Annotations = maps.Clone(desc.Annotations)
	if tag != "" {
		if entry.Annotations == nil {
			entry.Annotations = map[string]string{}
		}
		nameAnnotations(entry.Annotations, tag)
	}
	kept := idx.Manifests[:0]
	for _, d := range idx.Manifests {
		name := d.Annotations[ocispec.AnnotationRefName]
		if (tag == "" || name != tag) && (name != "" || d.Digest != desc.Digest) {
			kept = append(kept, d)
		}
	}
	idx.Manifests = append(kept, entry)
}

// TestSetEntriesAsOneByOne checks that the one-pass update of index.json
// (Put of many entries) gives exactly what setting the entries one after
// the other gave, on random indexes with repeated tags, untagged entries
// and repeated manifests.
func TestSetEntriesAsOneByOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dg := func() digest.Digest { return digest.FromString(fmt.Sprint(rng.IntN(6))) }
	desc := func() ocispec.Descriptor {
		d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: dg(), Size: 2}
		switch rng.IntN(4) {
		case 0: // untagged, no annotations
		case 1:
			d.Annotations = map[string]string{"x": "y"}
		default:
			d.Annotations = map[string]string{ocispec.AnnotationRefName: fmt.Sprintf("t%d", rng.IntN(5))}
		}
		return d
	}
	clone := func(ds []ocispec.Descriptor) []ocispec.Descriptor {
		out := make([]ocispec.Descriptor, len(ds))
		for i, d := range ds {
			out[i] = d
			out[i].Annotations = maps.Clone(d.Annotations)
		}
		return out
	}
	for n := range 2000 {
		var existing, entries []ocispec.Descriptor
		for range rng.IntN(8) {
			existing = append(existing, desc())
		}
		for range 1 + rng.IntN(6) {
			entries = append(entries, desc())
		}
		want := &ocispec.Index{Manifests: clone(existing)}
		for _, e := range clone(entries) {
			setEntryOneByOne(want, e, e.Annotations[ocispec.AnnotationRefName])
		}
		got := &ocispec.Index{Manifests: clone(existing)}
		setEntries(got, clone(entries), true)
		if !reflect.DeepEqual(got.Manifests, want.Manifests) {
			t.Fatalf("case %d: existing %v, entries %v:\n got %v\nwant %v", n, existing, entries, got.Manifests, want.Manifests)
		}
	}
}
