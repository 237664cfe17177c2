package serve_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/serve"
	"github.com/ocipack/ocipack/signing"
)

// TestServePolicy: New refuses a layout with an unsigned tagged entry,
// naming it, and serves one whose entries are all signed; a writable
// server on an empty directory has nothing to check.
func TestServePolicy(t *testing.T) {
	ctx := context.Background()
	kp, err := signing.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := signing.LoadPrivateKey(kp.PrivatePEM, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := signing.LoadPublicKey(kp.PublicPEM, "a.pub")
	if err != nil {
		t.Fatal(err)
	}
	pol := &signing.Policy{Keys: []*signing.PublicKey{pub}}
	l := testkit.NewLayout(t)
	d1 := testkit.StoreManifest(t, l, "application/vnd.example.test", "one")
	d2 := testkit.StoreManifest(t, l, "application/vnd.example.test", "two")
	if err := l.Tag(ctx, d1, "v1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Tag(ctx, d2, "v2"); err != nil {
		t.Fatal(err)
	}
	if _, err := signing.Sign(ctx, l, d1, "v1", s, signing.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = serve.New(ctx, serve.Options{Path: l.Path(), Policy: pol})
	var fe *signing.FailedError
	if !errors.As(err, &fe) || len(fe.Failed) != 1 || fe.Failed[0].Name != "v2" {
		t.Fatalf("New with unsigned v2: %v", err)
	}
	if _, err := signing.Sign(ctx, l, d2, "v2", s, signing.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	srv, err := serve.New(ctx, serve.Options{Path: l.Path(), Policy: pol})
	if err != nil {
		t.Fatalf("New with every entry signed: %v", err)
	}
	srv.Close()
	srv, err = serve.New(ctx, serve.Options{Path: filepath.Join(t.TempDir(), "new"), Writable: true, Policy: pol})
	if err != nil {
		t.Fatalf("New, writable, empty: %v", err)
	}
	srv.Close()
}
