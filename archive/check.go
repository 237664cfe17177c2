package archive

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/layout"
)

// CheckReport is what Check found in a whole archive.
type CheckReport struct {
	// Tags are the archive's tags.
	Tags []string `json:"tags"`
	// Blobs is the number of blobs the archive holds, all verified.
	Blobs int `json:"blobs"`
	// Bytes is the number of blob bytes verified.
	Bytes int64 `json:"bytes"`
	// Required lists the blobs a delta archive leaves out: the layout it
	// is imported into must hold them.
	Required []digest.Digest `json:"required,omitempty"`
}

// Check verifies a whole archive (one file, or every volume of a split one)
// without importing it: every blob it holds is read and checked against its
// digest, and everything the tags and referrers reach must be in it (or,
// for a delta, listed as required): this holds for plain layout tars too,
// which have no contents list. Open's checks of the archive whole come
// first (see the package doc). It fails naming the first damaged or
// missing blob.
func Check(ctx context.Context, paths ...string) (*CheckReport, error) {
	r, err := Open(ctx, paths...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	rep := &CheckReport{}
	if rep.Tags, err = r.Tags(ctx); err != nil {
		return nil, err
	}
	held := make([]digest.Digest, 0, len(r.entries))
	for d := range r.entries {
		held = append(held, d)
	}
	slices.Sort(held)
	for _, d := range held {
		sp := r.entries[d]
		desc := ocispec.Descriptor{Digest: d, Size: sp.size}
		rc, err := r.Fetch(ctx, desc)
		if err != nil {
			return rep, err
		}
		n, err := io.Copy(io.Discard, layout.NewVerifyReader(rc, desc))
		rc.Close()
		if err != nil {
			return rep, fmt.Errorf("%s: %w", r.name, err)
		}
		rep.Blobs++
		rep.Bytes += n
	}
	for d := range r.Blobs() {
		if _, ok := r.entries[d]; !ok {
			rep.Required = append(rep.Required, d)
		}
	}
	slices.Sort(rep.Required)
	for _, m := range r.index.Manifests {
		if _, ok := r.entries[m.Digest]; !ok && !slices.Contains(rep.Required, m.Digest) {
			return rep, fmt.Errorf("%s: %w: index.json lists manifest %s, which the archive neither holds nor requires", r.name, ErrIncomplete, m.Digest)
		}
	}
	// Every blob the tags (and referrers) reach must be held or, for a
	// delta, required: a plain layout tar has no contents list to say so.
	missing, _, err := completeness(ctx, r, r.index.Manifests)
	if err != nil {
		return rep, fmt.Errorf("%s: %w", r.name, err)
	}
	missing = slices.DeleteFunc(missing, func(d digest.Digest) bool { return slices.Contains(rep.Required, d) })
	if len(missing) > 0 {
		return rep, fmt.Errorf("%s: %w: its tags reach %s that it neither holds nor requires", r.name, ErrIncomplete, fewDigests(missing))
	}
	return rep, nil
}
