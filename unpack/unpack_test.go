package unpack_test

import (
	"archive/tar"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/unpack"
)

func TestRegularFiles(t *testing.T) {
	l := testkit.NewLayout(t)
	tool := fileLayer(t, l, "tool.sh", "#!/bin/sh\necho hi\n", "0755")
	readme := fileLayer(t, l, "docs/readme.txt", "read me", "")
	private := fileLayer(t, l, "private.key", "secret", "04600") // setuid dropped
	untitled := ingest(t, l, mtFile, []byte("no title"))
	m := pushManifest(t, l, tool, untitled, readme, private)

	dest := filepath.Join(tempDir(t), "out")
	res, err := unpackV1(l, dest, unpack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Digest != m.Digest {
		t.Errorf("Result.Manifest = %s, want %s", res.Manifest.Digest, m.Digest)
	}
	want := []unpack.File{
		{Title: "tool.sh", MediaType: mtFile, Digest: tool.Digest, Size: tool.Size},
		{Title: "docs/readme.txt", MediaType: mtFile, Digest: readme.Digest, Size: readme.Size},
		{Title: "private.key", MediaType: mtFile, Digest: private.Digest, Size: private.Size},
	}
	if len(res.Files) != len(want) {
		t.Fatalf("Files = %+v, want %+v", res.Files, want)
	}
	for i := range want {
		if res.Files[i] != want[i] {
			t.Errorf("Files[%d] = %+v, want %+v", i, res.Files[i], want[i])
		}
	}
	if got := readFile(t, filepath.Join(dest, "tool.sh")); got != "#!/bin/sh\necho hi\n" {
		t.Errorf("tool.sh = %q", got)
	}
	if got := readFile(t, filepath.Join(dest, "docs", "readme.txt")); got != "read me" {
		t.Errorf("readme = %q", got)
	}
	assertMode(t, filepath.Join(dest, "tool.sh"), 0o755)
	assertMode(t, filepath.Join(dest, "docs", "readme.txt"), 0o644)
	assertMode(t, filepath.Join(dest, "private.key"), 0o600)
	// Only the titled layers, nothing else (no config, no untitled layer,
	// no staging directory).
	var names []string
	filepath.WalkDir(dest, func(p string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(dest, p)
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	if got, want := strings.Join(names, " "), ". docs docs/readme.txt private.key tool.sh"; got != want {
		t.Errorf("dest holds %q, want %q", got, want)
	}
}

// fullTree is a directory layer exercising every kind of entry that is
// restored. T0..T3 are the mtimes it sets.
var (
	t0 = time.Unix(1_500_000_000, 0)
	t1 = time.Unix(1_500_000_100, 0)
	t2 = time.Unix(1_500_000_200, 0)
	t3 = time.Unix(1_500_000_300, 0)
)

func fullTree(t *testing.T, prefix string) []byte {
	root := dirE(prefix+"/", 0o750)
	root.mtime = t0
	empty := dirE(prefix+"/empty/", 0o700)
	empty.mtime = t1
	deep := dirE(prefix+"/sub/deep/", 0o555) // read-only, filled afterwards
	deep.mtime = t2
	a := fileE(prefix+"/a.txt", "hello", 0o644)
	a.mtime = t3
	return makeTar(t,
		entry{name: "pax_global_header", typ: tar.TypeXGlobalHeader},
		root,
		empty,
		dirE(prefix+"/sub/", 0o755),
		deep,
		fileE(prefix+"/sub/deep/f.txt", "deep", 0o444),
		a,
		fileE(prefix+"/run.sh", "#!/bin/sh\n", 0o755),
		fileE(prefix+"/suid", "s", 0o4755),
		fileE(prefix+"/implicit/dir/file", "implicit parents", 0o600),
		symE(prefix+"/link", "sub/deep/f.txt"),
		symE(prefix+"/sub/up", "../a.txt"),
		symE(prefix+"/self", "."),
		symE(prefix+"/dangling", "not/there"),
		hardE(prefix+"/hard", prefix+"/a.txt"),
		fileE(prefix+"/dup.txt", "first", 0o644),
		fileE(prefix+"/dup.txt", "second", 0o640),
		symE(prefix+"/was-link", "a.txt"),
		fileE(prefix+"/was-link", "regular now", 0o644),
	)
}

// checkFullTree checks what fullTree restores at dir.
func checkFullTree(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{
		"a.txt":                 "hello",
		"sub/deep/f.txt":        "deep",
		"run.sh":                "#!/bin/sh\n",
		"implicit/dir/file":     "implicit parents",
		"hard":                  "hello",
		"dup.txt":               "second",
		"was-link":              "regular now",
		"link":                  "deep",  // through the symlink
		"sub/up":                "hello", // through the symlink
		"self/a.txt":            "hello", // through the symlink
		"suid":                  "s",
		"implicit/../a.txt":     "hello",
		"sub/deep/../up":        "hello",
		"empty/../run.sh":       "#!/bin/sh\n",
		"sub/../sub/deep/f.txt": "deep",
	}
	for name, want := range files {
		if got := readFile(t, filepath.Join(dir, filepath.FromSlash(name))); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	modes := map[string]os.FileMode{
		".":                 0o750,
		"empty":             0o700,
		"sub":               0o755,
		"sub/deep":          0o555,
		"sub/deep/f.txt":    0o444,
		"a.txt":             0o644,
		"run.sh":            0o755,
		"suid":              0o755, // setuid dropped
		"implicit":          0o755,
		"implicit/dir":      0o755,
		"implicit/dir/file": 0o600,
		"dup.txt":           0o640,
	}
	for name, want := range modes {
		assertMode(t, filepath.Join(dir, filepath.FromSlash(name)), want)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "suid")); err == nil && fi.Mode()&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky) != 0 {
		t.Errorf("suid: special bits restored: %v", fi.Mode())
	}
	links := map[string]string{"link": "sub/deep/f.txt", "sub/up": "../a.txt", "self": ".", "dangling": "not/there"}
	for name, want := range links {
		got, err := os.Readlink(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil || got != want {
			t.Errorf("readlink %s = %q, %v; want %q", name, got, err, want)
		}
	}
	a, _ := os.Stat(filepath.Join(dir, "a.txt"))
	h, _ := os.Stat(filepath.Join(dir, "hard"))
	if a == nil || h == nil || !os.SameFile(a, h) {
		t.Errorf("hard is not a hard link to a.txt")
	}
	assertMtime(t, dir, t0)
	assertMtime(t, filepath.Join(dir, "empty"), t1)
	assertMtime(t, filepath.Join(dir, "sub", "deep"), t2)
	// a.txt's mtime, set from its header, is shared with the hard link.
	assertMtime(t, filepath.Join(dir, "a.txt"), t3)
	assertMtime(t, filepath.Join(dir, "run.sh"), time.Unix(1_600_000_000, 0))
	entries, err := os.ReadDir(filepath.Join(dir, "empty"))
	if err != nil || len(entries) != 0 {
		t.Errorf("empty: %v, %v", entries, err)
	}
}

func TestDirectoryLayer(t *testing.T) {
	cases := []struct{ name, mt, comp string }{
		{"gzip", mtTarGzip, "gzip"},
		{"zstd", mtTarZstd, "zstd"},
		{"none", mtTar, ""},
		{"sniffed gzip", mtUnknown, "gzip"},
		{"sniffed zstd", mtUnknown, "zstd"},
		{"sniffed none", mtUnknown, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := testkit.NewLayout(t)
			d := dirLayer(t, l, "T", c.mt, c.comp, fullTree(t, "T"))
			pushManifest(t, l, d)
			dest := tempDir(t)
			res, err := unpackV1(l, dest, unpack.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Files) != 1 || !res.Files[0].Dir || res.Files[0].Title != "T" || res.Files[0].Digest != d.Digest {
				t.Errorf("Files = %+v", res.Files)
			}
			checkFullTree(t, filepath.Join(dest, "T"))
			assertNoStaging(t, dest)
		})
	}
}

func TestDirectoryLayerPrefixes(t *testing.T) {
	cases := []struct {
		name, title string
		entries     []entry
		check       string // file expected under the title
	}{
		{"dot-slash", "T", []entry{dirE("./T/", 0), fileE("./T/x", "x", 0)}, "x"},
		{"no root entry", "T", []entry{fileE("T/sub/x", "x", 0)}, "sub/x"},
		{"nested title, base-name prefix", "pkg/T", []entry{dirE("T/", 0), fileE("T/x", "x", 0)}, "x"},
		{"nested title, oras full prefix", "pkg/T", []entry{dirE("pkg/T/", 0), fileE("pkg/T/x", "x", 0)}, "x"},
		{"title that is its own base name twice", "T/T", []entry{dirE("T/T/", 0), fileE("T/T/x", "x", 0)}, "x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := testkit.NewLayout(t)
			pushManifest(t, l, dirLayer(t, l, c.title, mtTarGzip, "gzip", makeTar(t, c.entries...)))
			dest := tempDir(t)
			if _, err := unpackV1(l, dest, unpack.Options{}); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, filepath.Join(dest, filepath.FromSlash(c.title), filepath.FromSlash(c.check))); got != "x" {
				t.Errorf("content %q", got)
			}
			assertNoStaging(t, dest)
		})
	}
}

func TestOverwrite(t *testing.T) {
	l := testkit.NewLayout(t)
	pushManifest(t, l,
		fileLayer(t, l, "a.txt", "new a", "0600"),
		dirLayer(t, l, "T", mtTarGzip, "gzip", makeTar(t, dirE("T/", 0o755), fileE("T/new.txt", "new", 0))),
		fileLayer(t, l, "link", "was a symlink", ""),
	)
	dest := tempDir(t)
	outside := filepath.Join(tempDir(t), "outside.txt")
	os.WriteFile(outside, []byte("outside"), 0o644)
	os.WriteFile(filepath.Join(dest, "a.txt"), []byte("old a"), 0o644)
	os.WriteFile(filepath.Join(dest, "keep.txt"), []byte("keep"), 0o644)
	os.MkdirAll(filepath.Join(dest, "T", "ro"), 0o755)
	os.WriteFile(filepath.Join(dest, "T", "old-only.txt"), []byte("old"), 0o644)
	os.WriteFile(filepath.Join(dest, "T", "ro", "f"), []byte("old"), 0o644)
	os.Chmod(filepath.Join(dest, "T", "ro"), 0o555)
	os.Symlink(outside, filepath.Join(dest, "link"))

	before := testkit.Snapshot(t, dest)
	_, err := unpackV1(l, dest, unpack.Options{})
	if !errors.Is(err, unpack.ErrExists) {
		t.Fatalf("without Overwrite: err = %v, want ErrExists", err)
	}
	testkit.Unchanged(t, before, dest)
	assertNoStaging(t, dest)

	if _, err := unpackV1(l, dest, unpack.Options{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dest, "a.txt")); got != "new a" {
		t.Errorf("a.txt = %q", got)
	}
	assertMode(t, filepath.Join(dest, "a.txt"), 0o600)
	if got := readFile(t, filepath.Join(dest, "T", "new.txt")); got != "new" {
		t.Errorf("T/new.txt = %q", got)
	}
	if _, err := os.Lstat(filepath.Join(dest, "T", "old-only.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("T/old-only.txt survived the overwrite: %v", err)
	}
	if fi, err := os.Lstat(filepath.Join(dest, "link")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("link was not replaced by a regular file: %v", err)
	}
	if got := readFile(t, outside); got != "outside" {
		t.Errorf("the old symlink's target was written through: %q", got)
	}
	if got := readFile(t, filepath.Join(dest, "keep.txt")); got != "keep" {
		t.Errorf("keep.txt = %q", got)
	}
	assertNoStaging(t, dest)
}

func TestProgress(t *testing.T) {
	l := testkit.NewLayout(t)
	a := fileLayer(t, l, "a", "aaaa", "")
	d := dirLayer(t, l, "T", mtTarGzip, "gzip", makeTar(t, fileE("T/x", "xx", 0)))
	pushManifest(t, l, a, d)
	var calls int
	var last, lastTotal int64
	_, err := unpackV1(l, tempDir(t), unpack.Options{Progress: func(done, total int64) {
		calls++
		if done < last {
			t.Errorf("progress went back: %d after %d", done, last)
		}
		last, lastTotal = done, total
	}})
	if err != nil {
		t.Fatal(err)
	}
	if want := a.Size + d.Size; calls == 0 || last != want || lastTotal != want {
		t.Errorf("progress: %d calls, last %d/%d, want %d/%d", calls, last, lastTotal, want, want)
	}
}

func TestCommitRollback(t *testing.T) {
	l := testkit.NewLayout(t)
	pushManifest(t, l,
		fileLayer(t, l, "a.txt", "new", ""),
		dirLayer(t, l, "T", mtTarGzip, "gzip", makeTar(t, dirE("T/", 0o555), fileE("T/x", "x", 0))),
		fileLayer(t, l, "new/dir/b.txt", "b", ""),
		fileLayer(t, l, "z.txt", "z", ""),
	)
	dest := tempDir(t)
	os.WriteFile(filepath.Join(dest, "a.txt"), []byte("old"), 0o644)
	os.Mkdir(filepath.Join(dest, "T"), 0o700)
	os.WriteFile(filepath.Join(dest, "T", "old"), []byte("old"), 0o644)
	before := testkit.Snapshot(t, dest)

	boom := errors.New("injected failure")
	defer unpack.SetTestHookBeforePlace(func(title string) error {
		if title == "z.txt" { // everything else is in place by then
			return boom
		}
		return nil
	})()
	_, err := unpackV1(l, dest, unpack.Options{Overwrite: true})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the injected failure", err)
	}
	testkit.Unchanged(t, before, dest)
	assertNoStaging(t, dest)
}

func TestContextCanceled(t *testing.T) {
	l := testkit.NewLayout(t)
	pushManifest(t, l,
		fileLayer(t, l, "a.txt", "a", ""),
		dirLayer(t, l, "T", mtTarGzip, "gzip", makeTar(t, fileE("T/x", "x", 0))),
	)
	parent := tempDir(t)
	dest := filepath.Join(parent, "out")
	before := testkit.Snapshot(t, parent)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := unpack.Unpack(ctx, l, "v1", dest, unpack.Options{Progress: func(done, total int64) { cancel() }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	testkit.Unchanged(t, before, parent)
}

func TestByDigestAndIndex(t *testing.T) {
	l := testkit.NewLayout(t)
	m := pushManifest(t, l, fileLayer(t, l, "a.txt", "a", ""))
	dest := tempDir(t)
	if _, err := unpack.Unpack(context.Background(), l, m.Digest.String(), dest, unpack.Options{}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dest, "a.txt")); got != "a" {
		t.Errorf("a.txt = %q", got)
	}

	if _, err := unpack.Unpack(context.Background(), l, "nope", tempDir(t), unpack.Options{}); !errors.Is(err, layout.ErrNotFound) {
		t.Errorf("unknown tag: err = %v, want ErrNotFound", err)
	}
	if _, err := unpack.Unpack(context.Background(), l, "", tempDir(t), unpack.Options{}); err == nil {
		t.Errorf("empty ref: no error")
	}

	empty := pushManifest(t, l, ingest(t, l, mtFile, []byte("untitled")))
	if _, err := unpack.Unpack(context.Background(), l, empty.Digest.String(), tempDir(t), unpack.Options{}); !errors.Is(err, unpack.ErrNothingToUnpack) {
		t.Errorf("no titles: err = %v, want ErrNothingToUnpack", err)
	}
}

func TestImplicitDirectoryModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("modes differ on Windows")
	}
	l := testkit.NewLayout(t)
	pushManifest(t, l, dirLayer(t, l, "T", mtTarGzip, "gzip", makeTar(t, fileE("T/a", "a", 0o600))))
	dest := tempDir(t)
	if _, err := unpackV1(l, dest, unpack.Options{}); err != nil {
		t.Fatal(err)
	}
	assertMode(t, filepath.Join(dest, "T", "a"), 0o600)
	assertMode(t, filepath.Join(dest, "T"), 0o755) // no root entry: default mode
}
