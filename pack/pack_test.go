package pack_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
	"github.com/ocipack/ocipack/unpack"
)

// TestPackUnpackRoundTrip packs a tree and two files with each compression
// and unpacks them: contents, modes, the empty directory, symlinks and the
// hard link come back.
func TestPackUnpackRoundTrip(t *testing.T) {
	src := t.TempDir()
	tree := ptTree(t, src, "tree")
	tool := ptWrite(t, src, "tool.sh", "#!/bin/sh\nexit 0\n", 0o755)
	readme := ptWrite(t, src, "readme.txt", "read me\n", 0o644)

	for _, c := range []struct {
		comp    pack.Compression
		dirType string
	}{
		{pack.Gzip, "application/vnd.oci.image.layer.v1.tar+gzip"},
		{pack.Zstd, "application/vnd.oci.image.layer.v1.tar+zstd"},
		{pack.None, "application/vnd.oci.image.layer.v1.tar"},
		{"", "application/vnd.oci.image.layer.v1.tar+gzip"}, // the default
	} {
		t.Run(string(c.comp), func(t *testing.T) {
			ctx := context.Background()
			l := testkit.NewLayout(t)
			inputs := []pack.Input{
				{Path: tree},
				{Path: tool},
				pack.ParseInput(readme + ":text/markdown"),
			}
			res, err := pack.Pack(ctx, l, "v1", inputs, pack.Options{Compression: c.comp, SourceDateEpoch: &ptEpoch})
			if err != nil {
				t.Fatal(err)
			}
			wantTypes := []string{c.dirType, "application/vnd.oci.image.layer.v1.tar", "text/markdown"}
			wantTitles := []string{"tree", "tool.sh", "readme.txt"}
			if len(res.Layers) != 3 {
				t.Fatalf("%d layers, want 3", len(res.Layers))
			}
			_, m := testkit.Manifest(t, l, "v1")
			for i, d := range m.Layers {
				if d.MediaType != wantTypes[i] {
					t.Errorf("layer %d media type %q, want %q", i, d.MediaType, wantTypes[i])
				}
				if d.Annotations[ocispec.AnnotationTitle] != wantTitles[i] {
					t.Errorf("layer %d title %q, want %q", i, d.Annotations[ocispec.AnnotationTitle], wantTitles[i])
				}
				if d.Digest != res.Layers[i].Digest {
					t.Errorf("layer %d: Result says %s, manifest %s", i, res.Layers[i].Digest, d.Digest)
				}
			}

			dest := filepath.Join(t.TempDir(), "out")
			ures, err := unpack.Unpack(ctx, l, "v1", dest, unpack.Options{})
			if err != nil {
				t.Fatalf("Unpack: %v", err)
			}
			if ures.Manifest.Digest != res.Manifest.Digest {
				t.Errorf("unpacked %s, packed %s", ures.Manifest.Digest, res.Manifest.Digest)
			}
			testkit.CompareDirs(t, tree, filepath.Join(dest, "tree"))
			testkit.CompareFiles(t, tool, filepath.Join(dest, "tool.sh"))
			testkit.CompareFiles(t, readme, filepath.Join(dest, "readme.txt"))

			// The specific things git cannot carry and tars often lose.
			out := filepath.Join(dest, "tree")
			if fi, err := os.Lstat(filepath.Join(out, "empty")); err != nil || !fi.IsDir() {
				t.Errorf("empty directory not restored: %v", err)
			} else if names := testkit.DirNames(t, filepath.Join(out, "empty")); len(names) != 0 {
				t.Errorf("empty directory holds %v", names)
			}
			if target, err := os.Readlink(filepath.Join(out, "link")); err != nil || target != "a/b/c/deep.txt" {
				t.Errorf("link -> %q, %v; want a/b/c/deep.txt", target, err)
			}
			if b, err := os.ReadFile(filepath.Join(out, "link")); err != nil || string(b) != "deep\n" {
				t.Errorf("reading through link: %q, %v", b, err)
			}
			if hardLinksKept {
				fi1, err1 := os.Stat(filepath.Join(out, "hard1"))
				fi2, err2 := os.Stat(filepath.Join(out, "a", "hard2"))
				if err1 != nil || err2 != nil {
					t.Fatalf("hard links: %v, %v", err1, err2)
				}
				if !os.SameFile(fi1, fi2) {
					t.Errorf("hard1 and a/hard2 are separate files after unpack, want one inode")
				}
			}
			if fi, err := os.Stat(filepath.Join(dest, "tool.sh")); err != nil || fi.Mode().Perm() != 0o755 {
				t.Errorf("tool.sh mode %v, %v; want 0755", fi.Mode().Perm(), err)
			}
			if fi, err := os.Stat(filepath.Join(out, "a/b/c/deep.txt")); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("deep.txt mode %v, %v; want 0600", fi.Mode().Perm(), err)
			}
		})
	}
}

// TestPackAnnotations checks the manifest and layer annotations, the
// config, the artifact type and the created time.
func TestPackAnnotations(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	tree := ptTree(t, src, "tree")
	tool := ptWrite(t, src, "tool.sh", "#!/bin/sh\n", 0o755)
	plain := ptWrite(t, src, "plain.txt", "plain\n", 0o640)

	for _, comp := range []pack.Compression{pack.Gzip, pack.Zstd, pack.None} {
		t.Run(string(comp), func(t *testing.T) {
			l := testkit.NewLayout(t)
			opts := pack.Options{
				ArtifactType:    "application/vnd.example.thing.v1",
				Annotations:     map[string]string{"org.opencontainers.image.source": "https://example.com/src", "com.example.k": "v"},
				Compression:     comp,
				SourceDateEpoch: &ptEpoch,
			}
			res, err := pack.Pack(ctx, l, "v1", []pack.Input{{Path: tree}, {Path: tool}, {Path: plain}}, opts)
			if err != nil {
				t.Fatal(err)
			}
			desc, m := testkit.Manifest(t, l, "v1")
			if desc.Digest != res.Manifest.Digest || desc.ArtifactType != opts.ArtifactType || res.Manifest.ArtifactType != opts.ArtifactType {
				t.Errorf("tag descriptor %+v, Result %+v", desc, res.Manifest)
			}
			if m.MediaType != ocispec.MediaTypeImageManifest || m.SchemaVersion != 2 {
				t.Errorf("manifest header: %q, %d", m.MediaType, m.SchemaVersion)
			}
			if m.ArtifactType != opts.ArtifactType {
				t.Errorf("artifactType %q, want %q", m.ArtifactType, opts.ArtifactType)
			}
			wantCfg := ocispec.Descriptor{
				MediaType: "application/vnd.oci.empty.v1+json",
				Digest:    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
				Size:      2,
			}
			if m.Config.MediaType != wantCfg.MediaType || m.Config.Digest != wantCfg.Digest || m.Config.Size != wantCfg.Size || m.Config.Data != nil {
				t.Errorf("config %+v, want %+v", m.Config, wantCfg)
			}
			if b := ptBlob(t, l, m.Config); string(b) != "{}" {
				t.Errorf("config blob %q", b)
			}
			wantAnn := map[string]string{
				ocispec.AnnotationCreated:         "2023-11-14T22:13:20Z",
				"org.opencontainers.image.source": "https://example.com/src",
				"com.example.k":                   "v",
			}
			if !mapsEqual(m.Annotations, wantAnn) {
				t.Errorf("manifest annotations %v, want %v", m.Annotations, wantAnn)
			}

			dir := m.Layers[0]
			if dir.Annotations[ocispec.AnnotationTitle] != "tree" || dir.Annotations[layout.AnnotationUnpack] != "true" {
				t.Errorf("directory layer annotations %v", dir.Annotations)
			}
			tarBytes := ptDecompress(t, dir.MediaType, ptBlob(t, l, dir))
			sum := sha256.Sum256(tarBytes)
			if want := "sha256:" + hex.EncodeToString(sum[:]); dir.Annotations[layout.AnnotationContentDigest] != want {
				t.Errorf("%s = %q, the decompressed blob hashes to %s", layout.AnnotationContentDigest, dir.Annotations[layout.AnnotationContentDigest], want)
			}
			if _, ok := dir.Annotations[layout.AnnotationFileMode]; ok {
				t.Errorf("directory layer has a file mode annotation")
			}
			for i, want := range []struct{ title, mode string }{{"tool.sh", "0755"}, {"plain.txt", "0640"}} {
				f := m.Layers[i+1]
				if f.Annotations[ocispec.AnnotationTitle] != want.title || f.Annotations[layout.AnnotationFileMode] != want.mode {
					t.Errorf("file layer %d annotations %v, want title %s mode %s", i+1, f.Annotations, want.title, want.mode)
				}
				if _, ok := f.Annotations[layout.AnnotationUnpack]; ok {
					t.Errorf("file layer %s is marked for unpacking", want.title)
				}
				if _, ok := f.Annotations[layout.AnnotationContentDigest]; ok {
					t.Errorf("file layer %s has a content digest annotation", want.title)
				}
			}
			// A file layer is the file, byte for byte.
			if b := ptBlob(t, l, m.Layers[1]); string(b) != "#!/bin/sh\n" {
				t.Errorf("tool.sh blob %q", b)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestPackDefaultsAndConfig(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	f := ptWrite(t, src, "f.txt", "f\n", 0o644)
	cfg := ptWrite(t, src, "config.json", `{"answer":42}`, 0o644)

	t.Run("defaults", func(t *testing.T) {
		l := testkit.NewLayout(t)
		before := time.Now().UTC().Truncate(time.Second)
		if _, err := pack.Pack(ctx, l, "v1", []pack.Input{{Path: f}}, pack.Options{}); err != nil {
			t.Fatal(err)
		}
		after := time.Now().UTC()
		_, m := testkit.Manifest(t, l, "v1")
		if m.ArtifactType != pack.DefaultArtifactType {
			t.Errorf("artifactType %q, want %q", m.ArtifactType, pack.DefaultArtifactType)
		}
		created, err := time.Parse(time.RFC3339, m.Annotations[ocispec.AnnotationCreated])
		if err != nil || created.Before(before) || created.After(after) {
			t.Errorf("created %q, want a time between %v and %v (%v)", m.Annotations[ocispec.AnnotationCreated], before, after, err)
		}
		if m.Layers[0].MediaType != pack.DefaultFileMediaType {
			t.Errorf("file media type %q", m.Layers[0].MediaType)
		}
	})
	t.Run("config default type", func(t *testing.T) {
		l := testkit.NewLayout(t)
		in := pack.ParseInput(cfg)
		if _, err := pack.Pack(ctx, l, "v1", []pack.Input{{Path: f}}, pack.Options{Config: &in, SourceDateEpoch: &ptEpoch}); err != nil {
			t.Fatal(err)
		}
		_, m := testkit.Manifest(t, l, "v1")
		if m.Config.MediaType != pack.DefaultConfigMediaType || m.Config.Digest != digest.FromString(`{"answer":42}`) || m.Config.Size != 13 {
			t.Errorf("config %+v", m.Config)
		}
		if b := ptBlob(t, l, m.Config); string(b) != `{"answer":42}` {
			t.Errorf("config blob %q", b)
		}
	})
	t.Run("config given type", func(t *testing.T) {
		l := testkit.NewLayout(t)
		in := pack.ParseInput(cfg + ":application/vnd.example.config.v1+json")
		if _, err := pack.Pack(ctx, l, "v1", []pack.Input{{Path: f}}, pack.Options{Config: &in, SourceDateEpoch: &ptEpoch}); err != nil {
			t.Fatal(err)
		}
		_, m := testkit.Manifest(t, l, "v1")
		if m.Config.MediaType != "application/vnd.example.config.v1+json" || m.Config.Digest != digest.FromString(`{"answer":42}`) {
			t.Errorf("config %+v", m.Config)
		}
	})
	t.Run("user annotation overrides created", func(t *testing.T) {
		l := testkit.NewLayout(t)
		opts := pack.Options{SourceDateEpoch: &ptEpoch, Annotations: map[string]string{ocispec.AnnotationCreated: "2000-01-01T00:00:00Z"}}
		if _, err := pack.Pack(ctx, l, "v1", []pack.Input{{Path: f}}, opts); err != nil {
			t.Fatal(err)
		}
		_, m := testkit.Manifest(t, l, "v1")
		if got := m.Annotations[ocispec.AnnotationCreated]; got != "2000-01-01T00:00:00Z" {
			t.Errorf("created %q", got)
		}
	})
}

// TestPackReproducible: the same tree, with other mtimes, packed into other
// layouts from another absolute path, gives the same manifest digest; with
// KeepMtime it does not.
func TestPackReproducible(t *testing.T) {
	ctx := context.Background()
	for _, comp := range []pack.Compression{pack.Gzip, pack.Zstd, pack.None} {
		t.Run(string(comp), func(t *testing.T) {
			a := ptTree(t, t.TempDir(), "tree")
			b := ptTree(t, filepath.Join(t.TempDir(), "elsewhere", "deeper"), "tree") // another absolute path
			fa := ptWrite(t, filepath.Dir(a), "notes.txt", "notes\n", 0o644)
			fb := ptWrite(t, filepath.Dir(b), "notes.txt", "notes\n", 0o644)

			packIt := func(tree, file string, keep bool) digest.Digest {
				t.Helper()
				l := testkit.NewLayout(t)
				res, err := pack.Pack(ctx, l, "v1", []pack.Input{{Path: tree}, {Path: file}},
					pack.Options{Compression: comp, SourceDateEpoch: &ptEpoch, KeepMtime: keep})
				if err != nil {
					t.Fatal(err)
				}
				return res.Manifest.Digest
			}
			setTimes(t, a, time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC))
			setTimes(t, b, time.Date(2011, 12, 13, 14, 15, 16, 0, time.UTC))
			d1 := packIt(a, fa, false)
			d2 := packIt(a, fa, false)
			if d1 != d2 {
				t.Fatalf("two packs of the same tree: %s and %s", d1, d2)
			}
			setTimes(t, a, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
			if d := packIt(a, fa, false); d != d1 {
				t.Errorf("changed mtimes changed the digest: %s, was %s", d, d1)
			}
			if d := packIt(b, fb, false); d != d1 {
				t.Errorf("a copy of the tree at another path and with other mtimes: %s, want %s", d, d1)
			}

			// KeepMtime: the same mtimes give the same digest, others not.
			setTimes(t, a, time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC))
			k1 := packIt(a, fa, true)
			if k := packIt(a, fa, true); k != k1 {
				t.Errorf("KeepMtime with unchanged mtimes: %s, was %s", k, k1)
			}
			if k1 == d1 {
				t.Errorf("KeepMtime made no difference")
			}
			setTimes(t, a, time.Date(2002, 2, 3, 4, 5, 6, 0, time.UTC))
			if k := packIt(a, fa, true); k == k1 {
				t.Errorf("KeepMtime: changed mtimes kept the digest %s", k)
			}
		})
	}
}

// setTimes sets the atime and mtime of everything under root (not following
// symlinks' targets outside it: every target is inside).
func setTimes(t *testing.T, root string, when time.Time) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		return os.Chtimes(p, when, when)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPackBlobSharing: one file packed under two tags is stored once; a
// tag packed again moves.
func TestPackBlobSharing(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	f := ptWrite(t, src, "big.bin", strings.Repeat("0123456789", 10000), 0o644)
	other := ptWrite(t, src, "other.txt", "other\n", 0o644)
	l := testkit.NewLayout(t)

	r1, err := pack.Pack(ctx, l, "a", []pack.Input{{Path: f}}, pack.Options{SourceDateEpoch: &ptEpoch})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := pack.Pack(ctx, l, "b", []pack.Input{{Path: f}, {Path: other}}, pack.Options{SourceDateEpoch: &ptEpoch})
	if err != nil {
		t.Fatal(err)
	}
	if r1.Layers[0].Digest != r2.Layers[0].Digest {
		t.Fatalf("the same file got two digests: %s, %s", r1.Layers[0].Digest, r2.Layers[0].Digest)
	}
	blobs := testkit.DirNames(t, filepath.Join(l.Path(), "blobs", "sha256"))
	count := 0
	for _, n := range blobs {
		if n == r1.Layers[0].Digest.Encoded() {
			count++
		}
	}
	if count != 1 {
		t.Errorf("the file's blob appears %d times", count)
	}
	// big.bin, other.txt, the empty config, two manifests.
	if len(blobs) != 5 {
		t.Errorf("%d blobs stored, want 5: %v", len(blobs), blobs)
	}
	if got := testkit.Tags(t, l); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("tags %v", got)
	}

	// Packing "a" again with other content moves it; "b" stays.
	r3, err := pack.Pack(ctx, l, "a", []pack.Input{{Path: other}}, pack.Options{SourceDateEpoch: &ptEpoch})
	if err != nil {
		t.Fatal(err)
	}
	if r3.Manifest.Digest == r1.Manifest.Digest {
		t.Fatal("different content, same manifest")
	}
	da, _ := l.Resolve(ctx, "a")
	db, _ := l.Resolve(ctx, "b")
	if da.Digest != r3.Manifest.Digest || db.Digest != r2.Manifest.Digest {
		t.Errorf("a -> %s (want %s), b -> %s (want %s)", da.Digest, r3.Manifest.Digest, db.Digest, r2.Manifest.Digest)
	}
	if got := testkit.Tags(t, l); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("tags after moving a: %v", got)
	}
	if tmp := testkit.DirNames(t, filepath.Join(l.Path(), layout.WorkDir, "tmp")); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

// TestPackRefusals: inputs that cannot be packed fail before anything is
// stored, with an error that errors.Is recognises and that names the path.
func TestPackRefusals(t *testing.T) {
	ctx := context.Background()
	cases := []ptRefusal{
		{
			name: "symlink outside the tree",
			setup: func(t *testing.T, src string) ([]pack.Input, string) {
				ptWrite(t, src, "secret.txt", "secret", 0o644)
				return ptTreeWithLink(t, src, "a/escape", func(string) string { return "../../secret.txt" })
			},
			want: pack.ErrUnsupportedFile,
		},
		{
			name: "symlink to the tree's parent",
			setup: func(t *testing.T, src string) ([]pack.Input, string) {
				return ptTreeWithLink(t, src, "up", func(string) string { return ".." })
			},
			want: pack.ErrUnsupportedFile,
		},
		{
			name: "absolute symlink",
			setup: func(t *testing.T, src string) ([]pack.Input, string) {
				// Absolute even when it points inside the tree.
				return ptTreeWithLink(t, src, "abs", func(tree string) string { return filepath.Join(tree, "data.txt") })
			},
			want: pack.ErrUnsupportedFile,
		},
		{
			name: "duplicate base name",
			setup: func(t *testing.T, src string) ([]pack.Input, string) {
				a := ptWrite(t, src, "one/x.txt", "1", 0o644)
				b := ptWrite(t, src, "two/x.txt", "2", 0o644)
				return []pack.Input{{Path: a}, {Path: b}}, b
			},
			want: pack.ErrDuplicateTitle,
		},
		{
			name: "duplicate: a directory and a file",
			setup: func(t *testing.T, src string) ([]pack.Input, string) {
				d := filepath.Join(src, "one", "x")
				ptWrite(t, d, "in.txt", "1", 0o644)
				f := ptWrite(t, src, "two/x", "2", 0o644)
				return []pack.Input{{Path: d}, {Path: f}}, f
			},
			want: pack.ErrDuplicateTitle,
		},
		{
			name: "missing input",
			setup: func(t *testing.T, src string) ([]pack.Input, string) {
				ok := ptWrite(t, src, "ok.txt", "ok", 0o644)
				missing := filepath.Join(src, "does-not-exist.txt")
				return []pack.Input{{Path: ok}, {Path: missing}}, missing
			},
			want: fs.ErrNotExist,
		},
	}
	cases = append(cases, platformRefusals...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := t.TempDir()
			inputs, culprit := tc.setup(t, src)
			l := testkit.NewLayout(t)
			res, err := pack.Pack(ctx, l, "v1", inputs, pack.Options{SourceDateEpoch: &ptEpoch})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Pack = %v, %v; want an error matching %v", res, err, tc.want)
			}
			if !strings.Contains(err.Error(), culprit) {
				t.Errorf("error %q does not name %s", err, culprit)
			}
			ptAssertNothingStored(t, l)
		})
	}
}

// ptRefusal is an input Pack refuses: setup makes it in src and returns the
// inputs and the path the error must name.
type ptRefusal struct {
	name  string
	setup func(t *testing.T, src string) (inputs []pack.Input, culprit string)
	want  error
}

// ptTreeWithLink makes ptTree's tree in src with a symlink at rel (slash
// separated) to target(tree), and returns the tree as the input and the
// link as the culprit.
func ptTreeWithLink(t *testing.T, src, rel string, target func(tree string) string) ([]pack.Input, string) {
	t.Helper()
	tree := ptTree(t, src, "tree")
	link := filepath.Join(tree, filepath.FromSlash(rel))
	if err := os.Symlink(target(tree), link); err != nil {
		t.Fatal(err)
	}
	return []pack.Input{{Path: tree}}, link
}

// ptAssertNothingStored fails unless l has no tag, no blob and no
// temporary file.
func ptAssertNothingStored(t *testing.T, l *layout.Layout) {
	t.Helper()
	if tags := testkit.Tags(t, l); len(tags) != 0 {
		t.Errorf("tagged %v", tags)
	}
	if b := testkit.DirNames(t, filepath.Join(l.Path(), "blobs", "sha256")); len(b) != 0 {
		t.Errorf("blobs stored: %v", b)
	}
	if tmp := testkit.DirNames(t, filepath.Join(l.Path(), layout.WorkDir, "tmp")); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

func TestPackBadArguments(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	f := ptWrite(t, src, "f.txt", "f", 0o644)
	l := testkit.NewLayout(t)
	if _, err := pack.Pack(ctx, l, "-bad", []pack.Input{{Path: f}}, pack.Options{}); !errors.Is(err, layout.ErrInvalidReference) {
		t.Errorf("invalid tag: %v, want ErrInvalidReference", err)
	}
	if _, err := pack.Pack(ctx, l, "v1", nil, pack.Options{}); err == nil {
		t.Errorf("no inputs: no error")
	}
	if _, err := pack.Pack(ctx, l, "v1", []pack.Input{{Path: f}}, pack.Options{Compression: "lz4"}); err == nil || !strings.Contains(err.Error(), "lz4") {
		t.Errorf("unknown compression: %v", err)
	}
	missingCfg := filepath.Join(src, "no-config.json")
	_, err := pack.Pack(ctx, l, "v1", []pack.Input{{Path: f}}, pack.Options{Config: &pack.Input{Path: missingCfg}})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missingCfg) {
		t.Errorf("missing config: %v, want ErrNotExist naming %s", err, missingCfg)
	}
	ptAssertNothingStored(t, l)
}

// TestPackCancel: a pack cancelled half way stores no tag and leaves no
// temporary file.
func TestPackCancel(t *testing.T) {
	src := t.TempDir()
	tree := filepath.Join(src, "tree")
	for i := range 16 {
		ptWrite(t, tree, fmt.Sprintf("f%02d.bin", i), strings.Repeat(string(rune('a'+i)), 256<<10), 0o644)
	}
	l := testkit.NewLayout(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := pack.Options{Progress: func(done, total int64) {
		if done > total/4 {
			cancel()
		}
	}}
	_, err := pack.Pack(ctx, l, "v1", []pack.Input{{Path: tree}}, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Pack: %v, want context.Canceled", err)
	}
	if tags := testkit.Tags(t, l); len(tags) != 0 {
		t.Errorf("tagged %v", tags)
	}
	if tmp := testkit.DirNames(t, filepath.Join(l.Path(), layout.WorkDir, "tmp")); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

func TestPackProgress(t *testing.T) {
	src := t.TempDir()
	tree := ptTree(t, src, "tree")
	f := ptWrite(t, src, "f.bin", strings.Repeat("x", 3<<20), 0o644)
	var calls int
	var last, total int64
	opts := pack.Options{Progress: func(d, tot int64) {
		if d < last {
			t.Errorf("progress went back from %d to %d", last, d)
		}
		calls++
		last, total = d, tot
	}}
	if _, err := pack.Pack(context.Background(), testkit.NewLayout(t), "v1", []pack.Input{{Path: tree}, {Path: f}}, opts); err != nil {
		t.Fatal(err)
	}
	// Every regular file's bytes, a hard-linked file's once where hard
	// links are kept (its content is read once).
	var want int64
	filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			fi, _ := d.Info()
			want += fi.Size()
		}
		return nil
	})
	if hardLinksKept {
		want -= int64(len("linked twice\n"))
	}
	want += 3 << 20
	if calls == 0 || total != want {
		t.Errorf("progress: %d calls, total %d, want total %d", calls, total, want)
	}
	if last != total {
		t.Errorf("progress ended at %d of %d", last, total)
	}
}

func TestParseInput(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want pack.Input
	}{
		{"file.txt", pack.Input{Path: "file.txt"}},
		{"chart.tgz:application/vnd.cncf.helm.chart.content.v1.tar+gzip", pack.Input{Path: "chart.tgz", MediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip"}},
		{"./dir/f:text/plain", pack.Input{Path: "./dir/f", MediaType: "text/plain"}},
		{`C:\dir\f`, pack.Input{Path: `C:\dir\f`}},
		{`C:\dir\f:text/plain`, pack.Input{Path: `C:\dir\f`, MediaType: "text/plain"}},
		{"a:b", pack.Input{Path: "a:b"}},
		{"dir:with/slash/and/more", pack.Input{Path: "dir:with/slash/and/more"}},
		{"f:", pack.Input{Path: "f:"}},
		{":text/plain", pack.Input{Path: ":text/plain"}},
	} {
		if got := pack.ParseInput(tc.in); got != tc.want {
			t.Errorf("ParseInput(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseCompression(t *testing.T) {
	for _, s := range []string{"gzip", "zstd", "none"} {
		if c, err := pack.ParseCompression(s); err != nil || string(c) != s {
			t.Errorf("ParseCompression(%q) = %q, %v", s, c, err)
		}
	}
	for _, s := range []string{"", "GZIP", "lz4"} {
		if _, err := pack.ParseCompression(s); err == nil {
			t.Errorf("ParseCompression(%q) accepted", s)
		}
	}
}

func TestSourceDateEpochFromEnv(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	if got, err := pack.SourceDateEpochFromEnv(); got != nil || err != nil {
		t.Errorf("empty: %v, %v", got, err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	got, err := pack.SourceDateEpochFromEnv()
	if err != nil || got == nil || !got.Equal(ptEpoch) || got.Location() != time.UTC {
		t.Errorf("1700000000: %v, %v; want %v", got, err, ptEpoch)
	}
	for _, bad := range []string{"soon", "1.5", "1700000000s"} {
		t.Setenv("SOURCE_DATE_EPOCH", bad)
		if _, err := pack.SourceDateEpochFromEnv(); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestPackConfigNotRegular(t *testing.T) {
	src := t.TempDir()
	f := ptWrite(t, src, "f.txt", "f", 0o644)
	l := testkit.NewLayout(t)
	_, err := pack.Pack(context.Background(), l, "v1", []pack.Input{{Path: f}}, pack.Options{Config: &pack.Input{Path: src}})
	if !errors.Is(err, pack.ErrUnsupportedFile) || !strings.Contains(err.Error(), src) {
		t.Errorf("a directory as config: %v, want ErrUnsupportedFile naming %s", err, src)
	}
	ptAssertNothingStored(t, l)
}

// TestPackSymlinkedInputs: an input that is a symlink is packed as what it
// points at, under the symlink's name.
func TestPackSymlinkedInputs(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	ptWrite(t, src, "releases/v1/VERSION", "v1\n", 0o644)
	ptWrite(t, src, "releases/v1/bin/run", "#!/bin/sh\n", 0o755)
	real := ptWrite(t, src, "real.txt", "real\n", 0o640)
	mustLink := func(target, name string) string {
		p := filepath.Join(src, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rel := mustLink("releases/v1", "current")
	abs := mustLink(filepath.Join(src, "releases", "v1"), "current-abs")
	file := mustLink(real, "alias.txt")

	for _, comp := range []pack.Compression{pack.Gzip, pack.None} {
		l := testkit.NewLayout(t)
		res, err := pack.Pack(ctx, l, "v1", []pack.Input{{Path: rel}, {Path: abs}, {Path: file}}, pack.Options{Compression: comp, SourceDateEpoch: &ptEpoch})
		if err != nil {
			t.Fatalf("%s: %v", comp, err)
		}
		for i, title := range []string{"current", "current-abs", "alias.txt"} {
			if got := res.Layers[i].Annotations[ocispec.AnnotationTitle]; got != title {
				t.Errorf("layer %d title %q, want %q", i, got, title)
			}
		}
		dest := filepath.Join(t.TempDir(), "out")
		if _, err := unpack.Unpack(ctx, l, "v1", dest, unpack.Options{}); err != nil {
			t.Fatalf("%s: Unpack: %v", comp, err)
		}
		for _, d := range []string{"current", "current-abs"} {
			if fi, err := os.Lstat(filepath.Join(dest, d)); err != nil || !fi.IsDir() {
				t.Errorf("%s: %s is not a directory after unpack: %v", comp, d, err)
				continue
			}
			testkit.CompareDirs(t, filepath.Join(src, "releases", "v1"), filepath.Join(dest, d))
		}
		if b, err := os.ReadFile(filepath.Join(dest, "alias.txt")); err != nil || string(b) != "real\n" {
			t.Errorf("alias.txt: %q, %v", b, err)
		}
		if fi, err := os.Lstat(filepath.Join(dest, "alias.txt")); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o640 {
			t.Errorf("alias.txt: %v, %v; want a regular file of mode 0640", fi.Mode(), err)
		}
	}
}

// TestPackEmptyInputs: an empty directory and an empty file, as inputs,
// come back as such.
func TestPackEmptyInputs(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	dir := filepath.Join(src, "nothing")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	empty := ptWrite(t, src, "zero.bin", "", 0o644)
	for _, comp := range []pack.Compression{pack.Gzip, pack.Zstd, pack.None} {
		l := testkit.NewLayout(t)
		res, err := pack.Pack(ctx, l, "v1", []pack.Input{{Path: dir}, {Path: empty}}, pack.Options{Compression: comp, SourceDateEpoch: &ptEpoch})
		if err != nil {
			t.Fatalf("%s: %v", comp, err)
		}
		if res.Layers[1].Size != 0 || res.Layers[1].Digest != digest.FromBytes(nil) {
			t.Errorf("%s: empty file layer %+v", comp, res.Layers[1])
		}
		hdrs := ptTarHeaders(t, ptDecompress(t, res.Layers[0].MediaType, ptBlob(t, l, res.Layers[0])))
		if len(hdrs) != 1 || hdrs[0].Name != "nothing/" || hdrs[0].Mode != 0o750 {
			t.Errorf("%s: tar of an empty directory: %+v", comp, hdrs)
		}
		dest := filepath.Join(t.TempDir(), "out")
		if _, err := unpack.Unpack(ctx, l, "v1", dest, unpack.Options{}); err != nil {
			t.Fatalf("%s: Unpack: %v", comp, err)
		}
		if fi, err := os.Stat(filepath.Join(dest, "nothing")); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o750 {
			t.Errorf("%s: nothing/: %v, %v", comp, fi, err)
		} else if names := testkit.DirNames(t, filepath.Join(dest, "nothing")); len(names) != 0 {
			t.Errorf("%s: nothing/ holds %v", comp, names)
		}
		if fi, err := os.Stat(filepath.Join(dest, "zero.bin")); err != nil || fi.Size() != 0 {
			t.Errorf("%s: zero.bin: %v, %v", comp, fi, err)
		}
	}
}
