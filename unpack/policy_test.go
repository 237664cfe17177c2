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
	kp, err := signing.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := signing.LoadPublicKey(kp.PublicPEM, "a.pub")
	if err != nil {
		t.Fatal(err)
	}
	l := testkit.NewLayout(t)
	d := testkit.StoreManifest(t, l, "application/vnd.example.test", "body")
	if err := l.Tag(ctx, d, "v1"); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "out")
	_, err = unpack.Unpack(ctx, l, "v1", dest, unpack.Options{Policy: &signing.Policy{Keys: []*signing.PublicKey{pub}}})
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
