package archive_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocipack/ocipack/archive"
	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/signing"
)

// signedFixture is a layout with "v1" signed by the returned policy's key
// and "v2" unsigned.
func signedFixture(t *testing.T) (*layout.Layout, *signing.Policy, *signing.Signer) {
	t.Helper()
	key := testkit.NewSigningKey(t, "a.pub")
	l := testkit.NewLayout(t)
	ds := testkit.TagManifests(t, l, "v1", "v2")
	key.Sign(t, l, ds["v1"], "v1")
	return l, key.Policy, key.Signer
}

// TestImportPolicy: an archive ocipack wrote with an unsigned entry is
// refused read in place, before Import looks at free space or stores a
// blob; from a stream it is refused before anything is tagged, and the
// blobs it stored go again; an archive of signed entries imports.
func TestImportPolicy(t *testing.T) {
	ctx := context.Background()
	l, pol, _ := signedFixture(t)
	dir := t.TempDir()
	for _, comp := range []archive.Compression{archive.None, archive.Zstd} {
		p := filepath.Join(dir, "all.tar"+map[bool]string{true: ".zst"}[comp == archive.Zstd])
		if _, err := archive.ExportFile(ctx, l, nil, p, archive.ExportOptions{Compression: comp}); err != nil {
			t.Fatal(err)
		}
		dst := testkit.NewLayout(t)
		before := testkit.Snapshot(t, dst.Path())
		beforeSub := map[string]testkit.Tree{}
		for _, sub := range []string{"blobs", "index.json", "oci-layout"} {
			beforeSub[sub] = testkit.Snapshot(t, filepath.Join(dst.Path(), sub))
		}
		asked := false
		_, err := archive.Import(ctx, []string{p}, dst, archive.ImportOptions{Policy: pol, FreeSpace: func(string) (int64, error) {
			asked = true
			return 1 << 40, nil
		}})
		var fe *signing.FailedError
		if !errors.As(err, &fe) || len(fe.Failed) != 1 || fe.Failed[0].Name != "v2" || !errors.Is(err, signing.ErrUnsigned) {
			t.Fatalf("%s: Import = %v, want v2 refused as unsigned", p, err)
		}
		if asked {
			t.Errorf("%s: Import went on to its free-space check: the archive was not checked in place first", p)
		}
		testkit.Unchanged(t, before, dst.Path())

		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = archive.ImportStream(ctx, f, dst, archive.ImportOptions{Policy: pol})
		f.Close()
		if !errors.As(err, &fe) || fe.Failed[0].Name != "v2" {
			t.Fatalf("%s: ImportStream = %v, want v2 refused", p, err)
		}
		// The blobs and index.json as they were (a stream import holds
		// the layout's writers lock, a file in .ocipack).
		for _, sub := range []string{"blobs", "index.json", "oci-layout"} {
			testkit.Unchanged(t, beforeSub[sub], filepath.Join(dst.Path(), sub))
		}
	}

	// Only v1: imported, and it verifies in the layout it went into.
	p := filepath.Join(dir, "v1.tar")
	if _, err := archive.ExportFile(ctx, l, []string{"v1"}, p, archive.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	dst := testkit.NewLayout(t)
	rep, err := archive.Import(ctx, []string{p}, dst, archive.ImportOptions{Policy: pol})
	if err != nil || strings.Join(rep.Tags, ",") != "v1" {
		t.Fatalf("Import of a signed archive: %+v, %v", rep, err)
	}
	d, err := dst.Resolve(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if r, err := signing.Verify(ctx, dst, d, "v1", pol); err != nil || !r.OK() {
		t.Errorf("verify after import: %v %v", err, r.Err)
	}
}

// TestImportPolicyDelta: a delta into a layout without its base fails as
// an incomplete delta (not as a signature problem); into one with its base,
// a signature added after the base export travels in the delta and passes.
func TestImportPolicyDelta(t *testing.T) {
	ctx := context.Background()
	l, pol, s := signedFixture(t)
	dir := t.TempDir()
	base := filepath.Join(dir, "base.tar")
	if _, err := archive.ExportFile(ctx, l, []string{"v1"}, base, archive.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	far := testkit.NewLayout(t)
	if _, err := archive.Import(ctx, []string{base}, far, archive.ImportOptions{Policy: pol}); err != nil {
		t.Fatal(err)
	}
	d2, err := l.Resolve(ctx, "v2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signing.Sign(ctx, l, d2, "v2", s, signing.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	since, err := archive.DigestsOfArchive(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	delta := filepath.Join(dir, "delta.tar")
	if _, err := archive.ExportFile(ctx, l, nil, delta, archive.ExportOptions{Since: since}); err != nil {
		t.Fatal(err)
	}
	empty := testkit.NewLayout(t)
	if _, err := archive.Import(ctx, []string{delta}, empty, archive.ImportOptions{Policy: pol}); !errors.Is(err, archive.ErrIncompleteDelta) {
		t.Errorf("delta into a layout without its base: %v, want ErrIncompleteDelta", err)
	}
	rep, err := archive.Import(ctx, []string{delta}, far, archive.ImportOptions{Policy: pol})
	if err != nil || strings.Join(rep.Tags, ",") != "v1,v2" {
		t.Fatalf("delta with v2's new signature: %+v %v", rep, err)
	}
}
