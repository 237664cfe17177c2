package layout_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/file"
	"oras.land/oras-go/v2/content/oci"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/unpack"
)

// The layout is an oras-go target, so oras.Copy can copy into and out of it.
var (
	_ oras.Target      = (*layout.Layout)(nil)
	_ oras.GraphTarget = (*layout.Layout)(nil)
)

// TestOrasFileStoreToLayout reads an artifact that oras-go's file store
// packs (as `oras push` does): a file and a directory, copied into our
// layout with oras.Copy, then unpacked and compared byte for byte.
func TestOrasFileStoreToLayout(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	files := map[string]string{
		"notes.txt":            "some notes\n",
		"tree/a.txt":           "a\n",
		"tree/sub/b.txt":       "bb\n",
		"tree/sub/deeper/c.md": "# c\n",
	}
	for name, body := range files {
		p := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		testkit.WriteFile(t, p, []byte(body))
	}

	fs, err := file.New(src)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	fileDesc, err := fs.Add(ctx, "notes.txt", "text/plain", "")
	if err != nil {
		t.Fatal(err)
	}
	dirDesc, err := fs.Add(ctx, "tree", "", "")
	if err != nil {
		t.Fatal(err)
	}
	const artifactType = "application/vnd.example.test"
	manifest, err := oras.PackManifest(ctx, fs, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{
		Layers: []ocispec.Descriptor{fileDesc, dirDesc},
	})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Tag(t, fs, manifest, "v1")

	l := testkit.NewLayout(t)
	testkit.CopyExpect(t, "oras.Copy into the layout", fs, "v1", l, "v1", manifest)
	got, err := l.Resolve(ctx, "v1")
	if err != nil || got.Digest != manifest.Digest {
		t.Fatalf("Resolve(v1) = %+v, %v", got, err)
	}
	for _, d := range []ocispec.Descriptor{manifest, fileDesc, dirDesc} {
		if ok, err := l.Exists(ctx, d); !ok || err != nil {
			t.Errorf("blob %s not stored: %v", d.Digest, err)
		}
	}
	if tmp := testkit.TmpFiles(t, l.Path()); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}

	// Copying again finds everything there already.
	if _, err := oras.Copy(ctx, fs, "v1", l, "v1", oras.DefaultCopyOptions); err != nil {
		t.Fatalf("second oras.Copy: %v", err)
	}

	// Reopen from disk, as another process would, and unpack.
	l2 := testkit.OpenLayout(t, l.Path())
	dest := filepath.Join(t.TempDir(), "out")
	res, err := unpack.Unpack(ctx, l2, "v1", dest, unpack.Options{})
	if err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	if res.Manifest.Digest != manifest.Digest || len(res.Files) != 2 {
		t.Errorf("Unpack result = %+v", res)
	}
	for name, body := range files {
		b, err := os.ReadFile(filepath.Join(dest, filepath.FromSlash(name)))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if string(b) != body {
			t.Errorf("%s = %q, want %q", name, b, body)
		}
	}
}

// TestOrasOCIStoreRoundTrip copies an artifact from our layout into
// oras-go's content/oci store and back into a fresh layout of ours: the
// digests and bytes are the same throughout, and each side reads what the
// other wrote.
func TestOrasOCIStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	l := testkit.NewLayout(t)
	m := testkit.StoreManifest(t, l, "application/x.roundtrip", "round and round")
	testkit.Tag(t, l, m, "v1")

	ociDir := filepath.Join(t.TempDir(), "oci")
	store, err := oci.New(ociDir)
	if err != nil {
		t.Fatal(err)
	}
	testkit.CopyExpect(t, "oras.Copy layout -> oci store", l, "v1", store, "v1", m)

	// oras-go's store wrote an ordinary layout: our Open reads it as is.
	theirs, err := layout.Open(ctx, ociDir)
	if err != nil {
		t.Fatalf("Open of oras-go's layout: %v", err)
	}
	if d, err := theirs.Resolve(ctx, "v1"); err != nil || d.Digest != m.Digest {
		t.Fatalf("Resolve(v1) in oras-go's layout = %+v, %v", d, err)
	}

	// And back, through oras-go's reader, into a fresh layout.
	store2, err := oci.New(ociDir)
	if err != nil {
		t.Fatal(err)
	}
	back := testkit.NewLayout(t)
	testkit.CopyExpect(t, "oras.Copy oci store -> layout (round trip)", store2, "v1", back, "v2", m)
	got, err := back.Resolve(ctx, "v2")
	if err != nil || got.Digest != m.Digest || got.Size != m.Size {
		t.Fatalf("Resolve(v2) = %+v, %v", got, err)
	}

	// Every blob of the graph is byte-identical in all three places.
	orig, err := layout.ReadManifest(ctx, l, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range append([]ocispec.Descriptor{m, orig.Config}, orig.Layers...) {
		want, err := content.FetchAll(ctx, l, d)
		if err != nil {
			t.Fatal(err)
		}
		for name, f := range map[string]content.Fetcher{"oci store": store2, "round trip": back} {
			b, err := content.FetchAll(ctx, f, d)
			if err != nil {
				t.Errorf("%s: blob %s: %v", name, d.Digest, err)
			} else if !bytes.Equal(b, want) {
				t.Errorf("%s: blob %s differs", name, d.Digest)
			}
		}
	}

	// The round-tripped artifact unpacks.
	dest := filepath.Join(t.TempDir(), "out")
	if _, err := unpack.Unpack(ctx, back, "v2", dest, unpack.Options{}); err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "body.txt")); err != nil || string(b) != "round and round" {
		t.Errorf("body.txt = %q, %v", b, err)
	}
}
