package unpack_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/unpack"
)

// Fuzzing of Unpack with hostile content. Every input is unpacked into a
// destination inside a "jail" directory that also holds a directory
// outside the destination, with a file an escape would target. Whatever
// the input:
//
//   - Unpack does not panic;
//   - on failure, the jail (destination included) is exactly as it was,
//     and no staging directory is left;
//   - on success, nothing outside the destination changed, the
//     destination holds only what the titles name, no symlink in it
//     resolves outside the layer's directory, no file is a device, fifo or
//     socket or has setuid/setgid bits, and no file is a hard link to a
//     file outside the destination.

// fzTarMaxSize bounds what one fuzz input may unpack to, so that
// decompression bombs end quickly.
const fzTarMaxSize = 8 << 20

// fzEntry is one entry of a seed tar.
type fzEntry struct {
	hdr  tar.Header
	body string
}

// fzTar builds a tar of entries (panicking on error: seeds are built
// before any test runs).
func fzTar(format tar.Format, entries ...fzEntry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		if h.Format == tar.FormatUnknown {
			h.Format = format
		}
		if h.Mode == 0 && h.Typeflag != tar.TypeXGlobalHeader {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.ModTime.IsZero() && h.Typeflag != tar.TypeXGlobalHeader {
			h.ModTime = time.Unix(1_600_000_000, 0)
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			panic(fmt.Sprintf("seed tar entry %q: %v", h.Name, err))
		}
		if e.body != "" {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				panic(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// fzRaw encodes one tar entry by hand (a ustar header and its content),
// for what archive/tar's Writer refuses to write: pax and GNU headers that
// rename the entry that follows.
func fzRaw(typ byte, name, body, linkname string) []byte {
	h := make([]byte, 512)
	copy(h[0:100], name)
	copy(h[100:], "0000644\x00")
	copy(h[108:], "0000000\x00")
	copy(h[116:], "0000000\x00")
	copy(h[124:], fmt.Sprintf("%011o\x00", len(body)))
	copy(h[136:], fmt.Sprintf("%011o\x00", 1_600_000_000))
	h[156] = typ
	copy(h[157:257], linkname)
	copy(h[257:], "ustar\x0000")
	copy(h[148:156], "        ")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:], fmt.Sprintf("%06o\x00 ", sum))
	b := append(h, body...)
	return append(b, make([]byte, (512-len(body)%512)%512)...)
}

// fzPax encodes one pax record.
func fzPax(k, v string) string {
	rec := " " + k + "=" + v + "\n"
	n := len(rec) + 1
	for len(fmt.Sprint(n))+len(rec) != n {
		n++
	}
	return fmt.Sprint(n) + rec
}

// fzRawTar ends entries with the end-of-archive marker.
func fzRawTar(entries ...[]byte) []byte {
	return append(bytes.Join(entries, nil), make([]byte, 1024)...)
}

func fzDir(name string) fzEntry { return fzEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name}} }
func fzFile(name, body string) fzEntry {
	return fzEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name}, body: body}
}
func fzSym(name, target string) fzEntry {
	return fzEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target}}
}
func fzHard(name, target string) fzEntry {
	return fzEntry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target}}
}
func fzDev(typ byte, name string) fzEntry {
	return fzEntry{hdr: tar.Header{Typeflag: typ, Name: name, Devmajor: 1, Devminor: 3}}
}

// fzTarSeeds are tars for the layer titled "d": a normal tree, and every
// kind of escape and refused entry.
func fzTarSeeds() [][]byte {
	mode := func(e fzEntry, m int64) fzEntry { e.hdr.Mode = m; return e }
	long := strings.Repeat("n", 200)
	deep := "d/" + strings.Repeat("x/", 60) + "f"
	return [][]byte{
		// A normal tree, in each tar format.
		fzTar(tar.FormatPAX, fzDir("d/"), fzFile("d/a.txt", "a\n"), fzDir("d/sub/"), mode(fzFile("d/sub/run.sh", "#!/bin/sh\n"), 0o755),
			fzSym("d/link", "a.txt"), fzSym("d/sub/up", "../a.txt"), fzHard("d/hard", "d/a.txt"), mode(fzDir("d/ro/"), 0o555), fzDir("d/empty/")),
		fzTar(tar.FormatUSTAR, fzDir("./d/"), fzFile("./d/a.txt", "a\n"), fzSym("./d/l", "a.txt")),
		fzTar(tar.FormatGNU, fzFile("d/"+long, "long name\n"), fzSym("d/l2", long), fzHard("d/h2", "d/"+long)),
		fzTar(tar.FormatPAX, fzFile("d/"+long+"/"+long, "pax long name\n"), fzFile(deep, "deep\n")),
		fzTar(tar.FormatPAX, fzFile("a.txt", "no prefix\n")),
		fzTar(tar.FormatPAX, fzDir("d/"), mode(fzFile("d/suid", "x"), 0o4755), mode(fzFile("d/sgid", "x"), 0o2755), mode(fzDir("d/sticky/"), 0o1777)),
		fzTar(tar.FormatPAX, mode(fzDir("d/"), 0o700), mode(fzFile("d/zero", ""), 0o000), mode(fzDir("d/locked/"), 0o000)),
		fzTar(tar.FormatPAX),
		// Symlink escapes.
		fzTar(tar.FormatPAX, fzDir("d/"), fzSym("d/evil", "../../outside/secret")),
		fzTar(tar.FormatPAX, fzSym("d/abs", "/etc/passwd")),
		fzTar(tar.FormatPAX, fzSym("d/up", ".."), fzFile("d/up/escape", "through a symlink\n")),
		fzTar(tar.FormatPAX, fzDir("d/s/"), fzSym("d/x", "s/.."), fzSym("d/y", "x/../..")),
		fzTar(tar.FormatPAX, fzSym("d/a", "b"), fzSym("d/b", "c"), fzSym("d/c", "../..")),
		fzTar(tar.FormatPAX, fzSym("d/loop1", "loop2"), fzSym("d/loop2", "loop1")),
		fzTar(tar.FormatPAX, fzSym("d/dangling", "missing/../../.."), fzDir("d/missing/")),
		fzTar(tar.FormatPAX, fzDir("d/s/"), fzSym("d/s", "../../outside"), fzFile("d/s/x", "x")),
		fzTar(tar.FormatPAX, fzSym("d/l", "a"), fzFile("d/l", "replaces the link\n")),
		fzTar(tar.FormatPAX, fzFile("d/f", "file"), fzSym("d/f", "../..")),
		// Hard link escapes.
		fzTar(tar.FormatPAX, fzHard("d/h", "../outside/secret")),
		fzTar(tar.FormatPAX, fzHard("d/h", "/etc/passwd")),
		fzTar(tar.FormatPAX, fzHard("d/h", "d/../../outside/secret")),
		fzTar(tar.FormatPAX, fzSym("d/l", "../../outside/secret"), fzHard("d/h", "d/l")),
		fzTar(tar.FormatPAX, fzHard("d/self", "d/self")),
		fzTar(tar.FormatPAX, fzDir("d/dir/"), fzHard("d/h", "d/dir")),
		// ".." and absolute names.
		fzTar(tar.FormatPAX, fzFile("d/../../outside/new", "x")),
		fzTar(tar.FormatPAX, fzFile("../escape", "x")),
		fzTar(tar.FormatPAX, fzFile("d/a/../../b", "x")),
		fzTar(tar.FormatPAX, fzFile("/tmp/abs", "x")),
		fzTar(tar.FormatPAX, fzFile("/d/abs", "x")),
		fzTar(tar.FormatPAX, fzFile(`d\..\..\win`, "x")),
		fzTar(tar.FormatPAX, fzFile("C:/d/win", "x")),
		fzTar(tar.FormatPAX, fzFile("d/.ocipack-unpack-0000/x", "staging look-alike")),
		// Devices and fifos.
		fzTar(tar.FormatPAX, fzDev(tar.TypeChar, "d/null")),
		fzTar(tar.FormatPAX, fzDev(tar.TypeBlock, "d/sda")),
		fzTar(tar.FormatPAX, fzDev(tar.TypeFifo, "d/fifo")),
		// Pax headers overriding names and link targets.
		fzRawTar(fzRaw(tar.TypeXHeader, "pax", fzPax("path", "d/../../outside/pax"), ""), fzRaw(tar.TypeReg, "d/innocent", "x", "")),
		fzRawTar(fzRaw(tar.TypeXHeader, "pax", fzPax("linkpath", "../../outside/secret"), ""), fzRaw(tar.TypeSymlink, "d/innocent", "", "a")),
		fzTar(tar.FormatPAX, fzEntry{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "global", PAXRecords: map[string]string{"path": "/etc/passwd"}}}, fzFile("d/after-global", "x")),
		// A sparse file (PAX 1.0) of 1 TiB, nearly all holes: stopped by
		// MaxSize.
		fzRawTar(fzRaw(tar.TypeXHeader, "pax", fzPax("GNU.sparse.major", "1")+fzPax("GNU.sparse.minor", "0")+fzPax("GNU.sparse.name", "d/sparse")+fzPax("GNU.sparse.realsize", "1099511627776"), ""),
			fzRaw(tar.TypeReg, "d/GNUSparseFile.0/sparse", "1\n1099511627775\n1\n"+strings.Repeat("\x00", 512-len("1\n1099511627775\n1\n"))+"x", "")),
		fzRawTar(fzRaw(tar.TypeGNULongName, "././@LongLink", "d/../../outside/gnu\x00", ""), fzRaw(tar.TypeReg, "d/short", "x", "")),
		// Conflicts between entries.
		fzTar(tar.FormatPAX, fzFile("d/x", "file"), fzDir("d/x/")),
		fzTar(tar.FormatPAX, fzDir("d/x/"), fzFile("d/x", "file")),
		fzTar(tar.FormatPAX, fzFile("d/x", "file"), fzFile("d/x/y", "under a file")),
		fzTar(tar.FormatPAX, fzFile("d", "the layer itself as a file")),
		fzTar(tar.FormatPAX, fzSym("d", "..")),
		fzTar(tar.FormatPAX, fzFile("d/X", "upper"), fzFile("d/x", "lower")),
		// Not a tar.
		[]byte("not a tar at all"),
		make([]byte, 1024),
	}
}

// fzWriteLayout writes a layout holding an image manifest, tagged v1,
// whose layers are the given blobs, without fsync or locks.
func fzWriteLayout(t *testing.T, dir string, blobs [][]byte, layers []ocispec.Descriptor) {
	t.Helper()
	cfg := ocispec.DescriptorEmptyJSON
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: layers}
	m.SchemaVersion = 2
	mb, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	fzWriteLayoutManifest(t, dir, mb, append(blobs, cfg.Data))
}

// fzWriteLayoutManifest writes a layout holding the blobs and the manifest
// mb, tagged v1.
func fzWriteLayoutManifest(t *testing.T, dir string, mb []byte, blobs [][]byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	md := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(mb), Size: int64(len(mb)),
		Annotations: map[string]string{ocispec.AnnotationRefName: "v1"}}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{md}}
	idx.SchemaVersion = 2
	ib, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		ocispec.ImageLayoutFile: []byte(`{"imageLayoutVersion":"1.0.0"}`),
		ocispec.ImageIndexFile:  ib,
	}
	for _, b := range append(blobs, mb) {
		files[filepath.Join("blobs", "sha256", digest.FromBytes(b).Encoded())] = b
	}
	for name, b := range files {
		testkit.WriteFile(t, filepath.Join(dir, name), b)
	}
}

// fzJail is a directory holding the destination and, beside it, a
// directory an escape would reach.
type fzJail struct {
	root, dest string
	before     testkit.Tree  // snapshot of root
	outside    []fs.FileInfo // the files outside dest
}

// newFzJail makes a jail. With existing, dest exists and holds keep.txt
// and d/old.txt (d being the title unpacked); otherwise it does not exist.
func newFzJail(t *testing.T, existing bool) *fzJail {
	t.Helper()
	j := &fzJail{root: filepath.Join(tempDir(t), "jail")}
	j.dest = filepath.Join(j.root, "dest")
	files := map[string]string{
		"outside/secret":      "secret\n",
		"outside/dir/file":    "file\n",
		"dest-sibling":        "next to dest\n",
		"dest/keep.txt":       "keep\n",
		"dest/d/old.txt":      "old\n",
		"dest/d/sub/deep.txt": "deep\n",
	}
	for name, body := range files {
		if !existing && strings.HasPrefix(name, "dest/") {
			continue
		}
		p := filepath.Join(j.root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		testkit.WriteFile(t, p, []byte(body))
	}
	for _, name := range []string{"outside/secret", "outside/dir/file", "dest-sibling"} {
		fi, err := os.Stat(filepath.Join(j.root, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		j.outside = append(j.outside, fi)
	}
	j.before = testkit.Snapshot(t, j.root)
	return j
}

// outsideDest returns the part of snap that lies outside dest.
func (j *fzJail) outsideDest(snap testkit.Tree) testkit.Tree {
	out := testkit.Tree{}
	for p, e := range snap {
		if p != "dest" && !strings.HasPrefix(p, "dest/") {
			out[p] = e
		}
	}
	return out
}

// checkFailed checks the jail after a failed Unpack.
func (j *fzJail) checkFailed(t *testing.T, uerr error) {
	t.Helper()
	if d := testkit.DiffTrees(j.before, testkit.Snapshot(t, j.root), testkit.Untouched); len(d) > 0 {
		t.Fatalf("Unpack failed (%v) but changed the jail:\n  %s", uerr, strings.Join(d, "\n  "))
	}
}

// checkSucceeded checks the jail after a successful Unpack, which restored
// titles (cleaned, slash-separated) into dest; layerDirs are the titles of
// directory layers, inside which symlinks must resolve.
func (j *fzJail) checkSucceeded(t *testing.T, res *unpack.Result, keep []string, layerDirs []string) {
	t.Helper()
	// Restored trees may hold directories without permissions.
	filepath.WalkDir(j.dest, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	after := testkit.Snapshot(t, j.root)
	if d := testkit.DiffTrees(j.outsideDest(j.before), j.outsideDest(after), testkit.Untouched); len(d) > 0 {
		t.Fatalf("Unpack changed what is outside the destination:\n  %s", strings.Join(d, "\n  "))
	}
	top := map[string]bool{}
	for _, k := range keep {
		top[k] = true
	}
	for _, f := range res.Files {
		if f.Title == "" || path.Clean(f.Title) != f.Title || path.IsAbs(f.Title) || f.Title == ".." || strings.HasPrefix(f.Title, "../") {
			t.Fatalf("restored title %q is not a clean relative path", f.Title)
		}
		first, _, _ := strings.Cut(f.Title, "/")
		top[first] = true
		if _, err := os.Lstat(filepath.Join(j.dest, filepath.FromSlash(f.Title))); err != nil {
			t.Fatalf("restored title %q: %v", f.Title, err)
		}
	}
	entries, err := os.ReadDir(j.dest)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !top[e.Name()] {
			t.Fatalf("destination holds %q, which no title names (staging left behind?)", e.Name())
		}
	}
	err = filepath.WalkDir(j.dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(j.dest, p)
		m := fi.Mode()
		switch {
		case m&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket|fs.ModeIrregular) != 0:
			t.Errorf("%s is a %v", rel, m.Type())
		case m&(fs.ModeSetuid|fs.ModeSetgid) != 0:
			t.Errorf("%s has mode %v", rel, m)
		case m.IsRegular():
			for _, o := range j.outside {
				if os.SameFile(fi, o) {
					t.Errorf("%s is a hard link to %s, outside the destination", rel, o.Name())
				}
			}
		case m&fs.ModeSymlink != 0:
			layer := ""
			for _, ld := range layerDirs {
				if s := filepath.ToSlash(rel); strings.HasPrefix(s, ld+"/") {
					layer = ld
				}
			}
			if layer == "" {
				t.Errorf("symlink %s outside any directory layer", rel)
				return nil
			}
			lroot := filepath.Join(j.dest, filepath.FromSlash(layer))
			lrel, _ := filepath.Rel(lroot, p)
			target, _ := os.Readlink(p)
			hops := 0
			if err := fzResolve(lroot, strings.Split(filepath.ToSlash(filepath.Dir(lrel)), "/"), target, &hops); err != nil {
				t.Errorf("symlink %s -> %s: %v", rel, target, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// fzResolve follows target from the directory dir (components relative to
// root) as the kernel would, following the symlinks it meets and taking
// missing components lexically, and fails if any step leaves root.
func fzResolve(root string, dir []string, target string, hops *int) error {
	if strings.HasPrefix(target, "/") {
		return fmt.Errorf("absolute target")
	}
	var cur []string
	for _, c := range dir {
		if c != "." && c != "" {
			cur = append(cur, c)
		}
	}
	_, err := fzWhere(root, cur, target, hops)
	return err
}

// fzWhere returns the components where target leads from dir, failing
// when a step leaves root.
func fzWhere(root string, dir []string, target string, hops *int) ([]string, error) {
	if strings.HasPrefix(target, "/") {
		return nil, fmt.Errorf("leads to the absolute %s", target)
	}
	cur := append([]string(nil), dir...)
	for _, c := range strings.Split(target, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return nil, fmt.Errorf("resolves outside %s", root)
			}
			cur = cur[:len(cur)-1]
			continue
		}
		cur = append(cur, c)
		p := filepath.Join(append([]string{root}, cur...)...)
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			continue // missing (taken lexically) or not a link
		}
		if *hops++; *hops > 64 {
			return cur, nil // a loop: the kernel gives ELOOP, nothing escapes
		}
		next, err := os.Readlink(p)
		if err != nil {
			return nil, err
		}
		if cur, err = fzWhere(root, cur[:len(cur)-1], next, hops); err != nil {
			return nil, err
		}
	}
	return cur, nil
}

func fzGzip(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// FuzzUnpackTar unpacks the fuzz input as the tar of a directory layer
// titled "d": as it is (its media type says nothing, so a gzip or zstd
// input is sniffed), with the uncompressed-digest annotation, into a new
// destination; then gzip-compressed, over an existing "d" with Overwrite.
func FuzzUnpackTar(f *testing.F) {
	for _, s := range fzTarSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		for _, existing := range []bool{false, true} {
			blob, mt := data, "application/vnd.ocipack.dir"
			ann := map[string]string{ocispec.AnnotationTitle: "d", layout.AnnotationUnpack: "true"}
			if existing {
				blob, mt = fzGzip(data), ocispec.MediaTypeImageLayerGzip
			} else {
				ann[layout.AnnotationContentDigest] = digest.FromBytes(data).String()
			}
			ld := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(blob), Size: int64(len(blob)), Annotations: ann}
			dir := filepath.Join(t.TempDir(), "layout")
			fzWriteLayout(t, dir, [][]byte{blob}, []ocispec.Descriptor{ld})
			l := testkit.OpenLayout(t, dir)
			j := newFzJail(t, existing)
			res, err := unpack.Unpack(context.Background(), l, "v1", j.dest, unpack.Options{Overwrite: existing, MaxSize: fzTarMaxSize})
			if err != nil {
				j.checkFailed(t, err)
				continue
			}
			if len(res.Files) != 1 || res.Files[0].Title != "d" || !res.Files[0].Dir {
				t.Fatalf("Unpack restored %+v", res.Files)
			}
			var keep []string
			if existing {
				keep = []string{"keep.txt"}
			}
			j.checkSucceeded(t, res, keep, []string{"d"})
			if fi, err := os.Lstat(filepath.Join(j.dest, "d")); err != nil || !fi.IsDir() {
				t.Fatalf("d is not a directory: %v", err)
			}
			if existing {
				if _, err := os.Lstat(filepath.Join(j.dest, "d", "old.txt")); err == nil && !bytes.Contains(data, []byte("old.txt")) {
					t.Fatal("Overwrite merged into the old d instead of replacing it")
				}
			}
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Fatalf("took %v", d)
		}
	})
}

// fzManifestBlobs are the blobs FuzzUnpackManifest's layout holds, for the
// fuzzed manifest to name: a file, a directory's tar (plain and gzip), and
// the empty config.
func fzManifestBlobs() map[string][]byte {
	tb := fzTar(tar.FormatPAX, fzDir("d/"), fzFile("d/a.txt", "a\n"), fzSym("d/l", "a.txt"), fzDir("d/sub/"), fzFile("d/sub/b.txt", "b\n"))
	return map[string][]byte{
		"file":   []byte("hello\n"),
		"tar":    tb,
		"tar.gz": fzGzip(tb),
		"config": ocispec.DescriptorEmptyJSON.Data,
	}
}

// fzManifestSeeds are manifests naming fzManifestBlobs under good and
// hostile titles and annotations.
func fzManifestSeeds() [][]byte {
	blobs := fzManifestBlobs()
	layer := func(name, mt string, ann ...string) ocispec.Descriptor {
		d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(blobs[name]), Size: int64(len(blobs[name])), Annotations: map[string]string{}}
		for i := 0; i+1 < len(ann); i += 2 {
			d.Annotations[ann[i]] = ann[i+1]
		}
		return d
	}
	title := ocispec.AnnotationTitle
	unp := layout.AnnotationUnpack
	file := func(t string, ann ...string) ocispec.Descriptor {
		return layer("file", "application/vnd.oci.image.layer.v1.tar", append([]string{title, t}, ann...)...)
	}
	dir := func(t string, ann ...string) ocispec.Descriptor {
		return layer("tar.gz", ocispec.MediaTypeImageLayerGzip, append([]string{title, t, unp, "true"}, ann...)...)
	}
	man := func(ann map[string]string, layers ...ocispec.Descriptor) []byte {
		m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: layer("config", ocispec.MediaTypeEmptyJSON), Layers: layers, Annotations: ann}
		m.SchemaVersion = 2
		b, err := json.Marshal(m)
		if err != nil {
			panic(err)
		}
		return b
	}
	return [][]byte{
		man(nil, file("hello.txt"), dir("d")),
		man(nil, file("hello.txt", layout.AnnotationFileMode, "0755"), layer("tar", ocispec.MediaTypeImageLayer, title, "d", unp, "true", layout.AnnotationContentDigest, digest.FromBytes(blobs["tar"]).String())),
		man(nil, file("a/b/c.txt"), dir("a/d")),
		man(nil, dir("x/d")),
		man(nil, file("../escape")),
		man(nil, file("/abs")),
		man(nil, file("a/../../escape")),
		man(nil, file(`..\escape`)),
		man(nil, file("C:escape")),
		man(nil, file(".")),
		man(nil, file("./")),
		man(nil, file(".ocipack-unpack-x")),
		man(nil, file("same"), file("same")),
		man(nil, file("a"), file("a/b")),
		man(nil, dir("d"), file("d/a.txt")),
		man(nil, file("x", layout.AnnotationFileMode, "0o4777")),
		man(nil, file("x", layout.AnnotationFileMode, "banana")),
		man(nil, dir("d", layout.AnnotationContentDigest, "sha256:"+strings.Repeat("0", 64))),
		man(nil, dir("d", layout.AnnotationContentDigest, "not a digest")),
		man(nil, file("d", unp, "true")),
		man(nil, layer("file", "application/vnd.oci.image.layer.v1.tar")),
		man(map[string]string{ocispec.AnnotationTitle: "chart", ocispec.AnnotationVersion: "1.0"}, layer("tar.gz", "application/vnd.cncf.helm.chart.content.v1.tar+gzip")),
		man(map[string]string{ocispec.AnnotationTitle: "../chart", ocispec.AnnotationVersion: "1.0"}, layer("tar.gz", "application/vnd.cncf.helm.chart.content.v1.tar+gzip")),
		man(nil, ocispec.Descriptor{MediaType: "x", Digest: digest.FromString("missing"), Size: 7, Annotations: map[string]string{title: "missing"}}),
		man(nil, ocispec.Descriptor{MediaType: "x", Digest: digest.FromBytes(blobs["file"]), Size: 1 << 40, Annotations: map[string]string{title: "huge"}}),
		[]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`),
		[]byte(`{"schemaVersion":2}`),
	}
}

// FuzzUnpackManifest unpacks the fuzz input as the manifest tagged v1 of a
// layout holding a few good blobs (fzManifestBlobs), into a new
// destination: titles, their collisions and the layers' annotations come
// from the input. The invariants are FuzzUnpackTar's.
func FuzzUnpackManifest(f *testing.F) {
	for _, s := range fzManifestSeeds() {
		f.Add(s)
	}
	blobs := fzManifestBlobs()
	var list [][]byte
	for _, b := range blobs {
		list = append(list, b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := filepath.Join(t.TempDir(), "layout")
		fzWriteLayoutManifest(t, dir, data, list)
		l := testkit.OpenLayout(t, dir)
		j := newFzJail(t, false)
		res, err := unpack.Unpack(context.Background(), l, "v1", j.dest, unpack.Options{MaxSize: fzTarMaxSize})
		if err != nil {
			j.checkFailed(t, err)
			return
		}
		var dirs []string
		for _, f := range res.Files {
			if f.Dir {
				dirs = append(dirs, f.Title)
			}
		}
		j.checkSucceeded(t, res, nil, dirs)
	})
}

// TestFuzzUnpackSeeds checks that the fuzz targets' seeds are what they are
// meant to be: the well-formed ones unpack, the hostile ones are refused.
func TestFuzzUnpackSeeds(t *testing.T) {
	blobs := fzManifestBlobs()
	var list [][]byte
	for _, b := range blobs {
		list = append(list, b)
	}
	good := map[int]bool{0: true, 1: true, 2: true, 3: true, 15: true, 21: true}
	for i, m := range fzManifestSeeds() {
		dir := filepath.Join(t.TempDir(), "layout")
		fzWriteLayoutManifest(t, dir, m, list)
		l := testkit.OpenLayout(t, dir)
		_, err := unpack.Unpack(context.Background(), l, "v1", filepath.Join(tempDir(t), "dest"), unpack.Options{})
		if (err == nil) != good[i] {
			t.Errorf("manifest seed %d: %v\n%s", i, err, m)
		}
	}
	good = map[int]bool{0: true, 1: true, 2: true, 3: true, 5: true, 6: true, 7: true, 16: true, 31: true, 37: true, 40: true, 45: true, 47: true}
	for i, tb := range fzTarSeeds() {
		ld := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(tb), Size: int64(len(tb)),
			Annotations: map[string]string{ocispec.AnnotationTitle: "d", layout.AnnotationUnpack: "true"}}
		dir := filepath.Join(t.TempDir(), "layout")
		fzWriteLayout(t, dir, [][]byte{tb}, []ocispec.Descriptor{ld})
		l := testkit.OpenLayout(t, dir)
		_, err := unpack.Unpack(context.Background(), l, "v1", filepath.Join(tempDir(t), "dest"), unpack.Options{MaxSize: fzTarMaxSize})
		if (err == nil) != good[i] {
			t.Errorf("tar seed %d: %v", i, err)
		}
	}
}
