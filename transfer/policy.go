package transfer

import (
	"context"
	"errors"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/signing"
)

// requireSigned checks, before a push sends anything, that each of the
// entries names of src carries a valid signature under opts.Policy (nil:
// no check).
func requireSigned(ctx context.Context, src oras.ReadOnlyTarget, names []string, opts Options) error {
	if opts.Policy == nil {
		return nil
	}
	err := signing.RequireSignedNames(ctx, asGraph(src), names, opts.Policy)
	var fe *signing.FailedError
	if err != nil && !errors.As(err, &fe) {
		return fmt.Errorf("check signatures: %w", err)
	}
	return err
}

// verifyPulled checks, after a pull stored root (and its referrers) into
// l and before it is tagged, that root carries a valid signature under
// c.opts.Policy. On failure the referrers the pull listed are taken out of
// index.json again (see checkGraph): nothing is tagged and gc removes what
// the pull stored.
func (c *copier) verifyPulled(ctx context.Context, root ocispec.Descriptor, referrers []ocispec.Descriptor, listed map[string]bool, name string) error {
	r, err := signing.Verify(ctx, c.layout, root, name, c.opts.Policy)
	if err == nil && r.OK() {
		return nil
	}
	for _, ref := range referrers {
		if !listed[ref.Digest.String()] {
			if uerr := c.layout.Untag(ctx, ref.Digest.String()); uerr != nil && !errors.Is(uerr, layout.ErrNotFound) && err == nil {
				err = uerr
			}
		}
	}
	if err != nil {
		return fmt.Errorf("check signatures: %w", err)
	}
	return &signing.FailedError{Failed: []*signing.Result{r}}
}
