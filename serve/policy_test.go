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
	key := testkit.NewSigningKey(t, "a.pub")
	pol := key.Policy
	l := testkit.NewLayout(t)
	ds := testkit.TagManifests(t, l, "v1", "v2")
	key.Sign(t, l, ds["v1"], "v1")
	_, err := serve.New(ctx, serve.Options{Path: l.Path(), Policy: pol})
	var fe *signing.FailedError
	if !errors.As(err, &fe) || len(fe.Failed) != 1 || fe.Failed[0].Name != "v2" {
		t.Fatalf("New with unsigned v2: %v", err)
	}
	key.Sign(t, l, ds["v2"], "v2")
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
