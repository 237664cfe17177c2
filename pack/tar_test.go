package pack_test

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/file"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/pack"
)

// TestPackTarDeterministic reads a directory layer's tar back: entries in
// lexical path order (parents first), uid/gid 0, no user or group names, no
// PAX records, every mtime the SourceDateEpoch (or the Unix epoch without
// one), and the expected types, modes and link targets.
func TestPackTarDeterministic(t *testing.T) {
	ctx := context.Background()
	tree := ptTree(t, t.TempDir(), "tree")
	setTimes(t, tree, time.Date(2019, 5, 6, 7, 8, 9, 0, time.UTC))

	for name, sde := range map[string]*time.Time{"with epoch": &ptEpoch, "without": nil} {
		t.Run(name, func(t *testing.T) {
			l := testkit.NewLayout(t)
			res, err := pack.Pack(ctx, l, "v1", []pack.Input{{Path: tree}}, pack.Options{Compression: pack.None, SourceDateEpoch: sde})
			if err != nil {
				t.Fatal(err)
			}
			layer := res.Layers[0]
			if layer.MediaType != pack.MediaTypeTar {
				t.Fatalf("media type %q", layer.MediaType)
			}
			raw := ptBlob(t, l, layer)
			if got := digest.FromBytes(raw).String(); layer.Annotations["io.deis.oras.content.digest"] != got {
				t.Errorf("content digest annotation %q, the uncompressed blob is %s", layer.Annotations["io.deis.oras.content.digest"], got)
			}
			wantTime := time.Unix(0, 0)
			if sde != nil {
				wantTime = *sde
			}

			type entry struct {
				name     string
				typ      byte
				mode     int64
				linkname string
				size     int64
			}
			want := []entry{
				{"tree/", tar.TypeDir, 0o755, "", 0},
				{"tree/a/", tar.TypeDir, 0o755, "", 0},
				{"tree/a/b/", tar.TypeDir, 0o755, "", 0},
				{"tree/a/b/c/", tar.TypeDir, 0o755, "", 0},
				{"tree/a/b/c/deep.txt", tar.TypeReg, 0o600, "", 5},
				{"tree/a/b/sibling.txt", tar.TypeReg, 0o644, "", 8},
				{"tree/a/hard2", tar.TypeReg, 0o644, "", 13},
				{"tree/a-b.txt", tar.TypeReg, 0o644, "", 5},
				{"tree/data.txt", tar.TypeReg, 0o644, "", 10},
				{"tree/dirlink", tar.TypeSymlink, 0o777, "a/b", 0},
				{"tree/empty/", tar.TypeDir, 0o755, "", 0},
				{"tree/hard1", tar.TypeLink, 0o644, "tree/a/hard2", 0},
				{"tree/link", tar.TypeSymlink, 0o777, "a/b/c/deep.txt", 0},
				{"tree/run.sh", tar.TypeReg, 0o755, "", 18},
			}
			if !hardLinksKept {
				want[11] = entry{"tree/hard1", tar.TypeReg, 0o644, "", 13}
			}
			hdrs := ptTarHeaders(t, raw)
			var got []entry
			var names []string
			for _, h := range hdrs {
				got = append(got, entry{h.Name, h.Typeflag, h.Mode, h.Linkname, h.Size})
				names = append(names, h.Name)
				if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
					t.Errorf("%s: uid %d gid %d uname %q gname %q", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
				}
				if !h.ModTime.Equal(wantTime) {
					t.Errorf("%s: mtime %v, want %v", h.Name, h.ModTime, wantTime)
				}
				if !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
					t.Errorf("%s: atime %v ctime %v", h.Name, h.AccessTime, h.ChangeTime)
				}
				if len(h.PAXRecords) != 0 || h.Devmajor != 0 || h.Devminor != 0 {
					t.Errorf("%s: PAX records %v, dev %d,%d", h.Name, h.PAXRecords, h.Devmajor, h.Devminor)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("tar entries:\n got  %v\n want %v", got, want)
			}
			// Parents before children, siblings in byte order.
			if !slices.IsSortedFunc(names, func(a, b string) int {
				return slices.Compare(strings.Split(strings.TrimSuffix(a, "/"), "/"), strings.Split(strings.TrimSuffix(b, "/"), "/"))
			}) {
				t.Errorf("entries not in path order: %v", names)
			}
		})
	}
}

// TestPackKeepMtime: with KeepMtime, entries carry the files' own mtimes in
// whole seconds.
func TestPackKeepMtime(t *testing.T) {
	tree := ptTree(t, t.TempDir(), "tree")
	when := time.Date(2019, 5, 6, 7, 8, 9, 500_000_000, time.UTC)
	setTimes(t, tree, when)
	l := testkit.NewLayout(t)
	res, err := pack.Pack(context.Background(), l, "v1", []pack.Input{{Path: tree}}, pack.Options{Compression: pack.None, KeepMtime: true, SourceDateEpoch: &ptEpoch})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range ptTarHeaders(t, ptBlob(t, l, res.Layers[0])) {
		if h.Typeflag == tar.TypeSymlink {
			continue // a symlink's own mtime was not set
		}
		if !h.ModTime.Equal(when.Truncate(time.Second)) {
			t.Errorf("%s: mtime %v, want %v", h.Name, h.ModTime, when.Truncate(time.Second))
		}
	}
}

// TestPackReadByOras: what pack writes, oras-go's file store (what `oras
// pull` uses) restores: the directory, with its symlink, and the files.
func TestPackReadByOras(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	tree := ptTree(t, src, "tree")
	f := ptWrite(t, src, "notes.txt", "notes\n", 0o644)
	l := testkit.NewLayout(t)
	res, err := pack.Pack(ctx, l, "v1", []pack.Input{{Path: tree}, {Path: f}}, pack.Options{SourceDateEpoch: &ptEpoch})
	if err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	fs, err := file.New(dest)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	desc, err := oras.Copy(ctx, l, "v1", fs, "v1", oras.DefaultCopyOptions)
	if err != nil {
		t.Fatalf("oras.Copy into oras-go's file store: %v", err)
	}
	if desc.Digest != res.Manifest.Digest {
		t.Errorf("copied %s, packed %s", desc.Digest, res.Manifest.Digest)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "notes.txt")); err != nil || string(b) != "notes\n" {
		t.Errorf("notes.txt: %q, %v", b, err)
	}
	for rel, body := range map[string]string{
		"a/b/c/deep.txt":  "deep\n",
		"a/b/sibling.txt": "sibling\n",
		"data.txt":        "some data\n",
		"run.sh":          "#!/bin/sh\necho hi\n",
		"hard1":           "linked twice\n",
		"a/hard2":         "linked twice\n",
		"link":            "deep\n", // read through the symlink
	} {
		b, err := os.ReadFile(filepath.Join(dest, "tree", filepath.FromSlash(rel)))
		if err != nil || string(b) != body {
			t.Errorf("tree/%s: %q, %v; want %q", rel, b, err, body)
		}
	}
	if target, err := os.Readlink(filepath.Join(dest, "tree", "link")); err != nil || target != "a/b/c/deep.txt" {
		t.Errorf("tree/link -> %q, %v", target, err)
	}
	if fi, err := os.Stat(filepath.Join(dest, "tree", "empty")); err != nil || !fi.IsDir() {
		t.Errorf("tree/empty: %v", err)
	}
}
