package unpack_test

import (
	"os"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/file"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/unpack"
)

// TestOrasPushedContent unpacks what oras-go's file store packs (the
// `oras push` format): a directory under a plain and a nested title, and a
// file; once straight from the oras store, once copied into a layout.
func TestOrasPushedContent(t *testing.T) {
	ctx := t.Context()
	work := tempDir(t)
	data := filepath.Join(work, "data")
	os.MkdirAll(filepath.Join(data, "sub", "empty"), 0o755)
	os.WriteFile(filepath.Join(data, "a.txt"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(data, "sub", "b.txt"), []byte("b"), 0o600)
	os.WriteFile(filepath.Join(data, "run.sh"), []byte("#!/bin/sh\n"), 0o755)
	os.Symlink("sub/b.txt", filepath.Join(data, "link"))
	os.WriteFile(filepath.Join(work, "file.txt"), []byte("file"), 0o644)
	// Tar headers keep whole seconds.
	for _, p := range []string{"a.txt", "sub/b.txt", "run.sh"} {
		os.Chtimes(filepath.Join(data, p), t1, t1)
	}

	fs, err := file.New(work)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	var layers []ocispec.Descriptor
	for _, a := range []struct{ name, path string }{
		{"data", data},
		{"nested/data", data},
		{"file.txt", filepath.Join(work, "file.txt")},
	} {
		d, err := fs.Add(ctx, a.name, "", a.path)
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, d)
	}
	m, err := oras.PackManifest(ctx, fs, oras.PackManifestVersion1_1, "application/vnd.ocipack.test", oras.PackManifestOptions{Layers: layers})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Tag(t, fs, m, "v1")

	l := testkit.NewLayout(t)
	if _, err := oras.Copy(ctx, fs, "v1", l, "v1", oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]oras.ReadOnlyTarget{"oras file store": fs, "layout": l} {
		t.Run(name, func(t *testing.T) {
			dest := tempDir(t)
			res, err := unpack.Unpack(ctx, src, "v1", dest, unpack.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Files) != 3 || !res.Files[0].Dir || !res.Files[1].Dir || res.Files[2].Dir {
				t.Errorf("Files = %+v", res.Files)
			}
			want := testkit.Snapshot(t, data)
			for _, got := range []string{filepath.Join(dest, "data"), filepath.Join(dest, "nested", "data")} {
				testkit.SameTree(t, got, want, testkit.Snapshot(t, got), testkit.Untouched)
			}
			if got := readFile(t, filepath.Join(dest, "file.txt")); got != "file" {
				t.Errorf("file.txt = %q", got)
			}
			assertNoStaging(t, dest)
		})
	}
}
