package unpack_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/signing"
	"github.com/ocipack/ocipack/unpack"
)

// TestUnpackPolicy: with a Policy, an unsigned manifest is refused with a
// *signing.FailedError naming it, before the destination is created.
func TestUnpackPolicy(t *testing.T) {
	ctx := context.Background()
	key := testkit.NewSigningKey(t, "a.pub")
	l := testkit.NewLayout(t)
	d := testkit.TagManifests(t, l, "v1")["v1"]
	dest := filepath.Join(t.TempDir(), "out")
	_, err := unpack.Unpack(ctx, l, "v1", dest, unpack.Options{Policy: key.Policy})
	var fe *signing.FailedError
	if !errors.As(err, &fe) || fe.Failed[0].Name != "v1" || fe.Failed[0].Digest != d.Digest || !errors.Is(err, signing.ErrUnsigned) {
		t.Fatalf("Unpack of an unsigned manifest: %v", err)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("refused Unpack created %s: %v", dest, err)
	}
	// An empty policy is a caller's mistake, said so.
	if _, err := unpack.Unpack(ctx, l, "v1", dest, unpack.Options{Policy: &signing.Policy{}}); !errors.Is(err, signing.ErrNoPolicy) {
		t.Errorf("empty policy: %v", err)
	}
}
