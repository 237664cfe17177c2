package bundle_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/signing"
	"github.com/ocipack/ocipack/transfer"
)

// TestSyncPolicy: with Transfer.Policy, a signed image is synced (its
// signature pulled along, though Referrers is not set) and an unsigned one
// stops the sync, named with its line, and is not tagged; a local file is
// not checked.
func TestSyncPolicy(t *testing.T) {
	ctx := t.Context()
	key := testkit.NewSigningKey(t, "a.pub")
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	src := testkit.NewLayout(t)
	ds := testkit.TagManifests(t, src, "signed", "unsigned")
	key.Sign(t, src, ds["signed"], "signed")
	dst, err := transfer.ParseReference(reg.Ref("pol/app"))
	if err != nil {
		t.Fatal(err)
	}
	if err := transfer.PushTags(ctx, src, dst, []string{"signed", "unsigned"}, transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, Referrers: true}, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write(t, filepath.Join(dir, "tool.sh"), "echo hi\n")
	opts := plainOpts()
	opts.Transfer.Policy = key.Policy
	out := filepath.Join(dir, "out")
	res, err := syncFile(t, dir, "images:\n  - ref: "+reg.Ref("pol/app:signed")+"\nfiles:\n  - path: tool.sh\n    name: tool:1\n", out, opts)
	if err != nil || len(res.Entries) != 2 {
		t.Fatalf("sync of a signed image and a file: %v", err)
	}
	l := testkit.OpenLayout(t, out)
	d, err := l.Resolve(ctx, reg.Ref("pol/app:signed"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := signing.Verify(ctx, l, d, "", opts.Transfer.Policy); err != nil || !r.OK() {
		t.Errorf("synced image does not verify: %v %v", err, r.Err)
	}
	l.Close()

	_, err = syncFile(t, dir, "images:\n  - ref: "+reg.Ref("pol/app:signed")+"\n  - ref: "+reg.Ref("pol/app:unsigned")+"\n", out, opts)
	var fe *signing.FailedError
	if !errors.As(err, &fe) || !errors.Is(err, signing.ErrUnsigned) || !strings.Contains(err.Error(), "bundle.yaml:3") {
		t.Fatalf("sync of an unsigned image: %v", err)
	}
	l = testkit.OpenLayout(t, out)
	if _, err := l.Resolve(ctx, reg.Ref("pol/app:unsigned")); !errors.Is(err, layout.ErrNotFound) {
		t.Errorf("the refused image was tagged: %v", err)
	}
}
