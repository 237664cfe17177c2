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
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	src := testkit.NewLayout(t)
	for _, tag := range []string{"signed", "unsigned"} {
		d := testkit.StoreManifest(t, src, "application/vnd.example.test", "body of "+tag)
		if err := src.Tag(ctx, d, tag); err != nil {
			t.Fatal(err)
		}
		if tag == "signed" {
			if _, err := signing.Sign(ctx, src, d, tag, s, signing.SignOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
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
	opts.Transfer.Policy = &signing.Policy{Keys: []*signing.PublicKey{pub}}
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
