package archive_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/ocipack/ocipack/archive"
	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
	"github.com/ocipack/ocipack/unpack"
)

var epoch = time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)

// fixture is a source layout of about 300 KiB:
//
//	v1: a.bin b.bin     v2: b.bin c.bin     v3: c.bin
type fixture struct {
	l     *layout.Layout
	dir   string
	files map[string][]byte // name -> content
	src   string            // directory of the input files
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := t.TempDir()
	f := &fixture{dir: filepath.Join(root, "src-layout"), files: map[string][]byte{}, src: filepath.Join(root, "inputs")}
	if err := os.MkdirAll(f.src, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, n := range []string{"a.bin", "b.bin", "c.bin"} {
		f.files[n] = testkit.RandomBytes(uint64(i+1), 100<<10)
		testkit.WriteFile(t, filepath.Join(f.src, n), f.files[n])
	}
	l, err := layout.OpenOrCreate(context.Background(), f.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	f.l = l
	f.pack(t, l, "v1", "a.bin", "b.bin")
	f.pack(t, l, "v2", "b.bin", "c.bin")
	f.pack(t, l, "v3", "c.bin")
	return f
}

// pack packs the named input files into l as tag.
func (f *fixture) pack(t *testing.T, l *layout.Layout, tag string, names ...string) {
	t.Helper()
	var in []pack.Input
	for _, n := range names {
		in = append(in, pack.Input{Path: filepath.Join(f.src, n)})
	}
	if _, err := pack.Pack(context.Background(), l, tag, in, pack.Options{SourceDateEpoch: &epoch}); err != nil {
		t.Fatal(err)
	}
}

// exportFile exports to dir/name and returns the path.
func exportFile(t *testing.T, l *layout.Layout, tags []string, name string, opts archive.ExportOptions) (string, *archive.ExportReport) {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	rep, err := archive.ExportFile(context.Background(), l, tags, p, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p, rep
}

// snapshot is a layout's files (outside .ocipack) with their sizes, and
// its index.json.
type snapshot struct {
	files map[string]int64
	index string
}

func snap(t *testing.T, dir string) snapshot {
	t.Helper()
	s := snapshot{files: map[string]int64{}}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() && rel == layout.WorkDir {
			return filepath.SkipDir
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		s.files[filepath.ToSlash(rel)] = fi.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b := testkit.ReadFile(t, filepath.Join(dir, "index.json"))
	s.index = string(b)
	return s
}

func (s snapshot) equal(t *testing.T, o snapshot) {
	t.Helper()
	if s.index != o.index {
		t.Errorf("index.json changed:\nbefore %s\nafter  %s", s.index, o.index)
	}
	for k, v := range s.files {
		if o.files[k] != v {
			t.Errorf("file %s: before %d bytes, after %d (present %v)", k, v, o.files[k], o.files[k] != 0 || v == 0)
		}
	}
	for k := range o.files {
		if _, ok := s.files[k]; !ok {
			t.Errorf("file %s appeared", k)
		}
	}
}

// tagMap maps a layout's tags to their manifest digests.
func tagMap(t *testing.T, l *layout.Layout) map[string]digest.Digest {
	t.Helper()
	tags, err := l.Tags(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]digest.Digest{}
	for _, x := range tags {
		m[x.Tag] = x.Descriptor.Digest
	}
	return m
}

// blobsOf lists the digests of the blobs stored in l.
func blobsOf(t *testing.T, l *layout.Layout) []digest.Digest {
	t.Helper()
	s, err := archive.DigestsOfLayout(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	var out []digest.Digest
	for d := range s {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// reachable lists the blobs the tags of l reach (manifests, configs,
// layers).
func reachable(t *testing.T, l *layout.Layout, tags ...string) []digest.Digest {
	t.Helper()
	ctx := context.Background()
	set := map[digest.Digest]bool{}
	for _, tag := range tags {
		desc, err := l.Resolve(ctx, tag)
		if err != nil {
			t.Fatal(err)
		}
		m, err := layout.ReadManifest(ctx, l, desc)
		if err != nil {
			t.Fatal(err)
		}
		set[desc.Digest], set[m.Config.Digest] = true, true
		for _, x := range m.Layers {
			set[x.Digest] = true
		}
	}
	var out []digest.Digest
	for d := range set {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// checkUnpack unpacks tag from src and compares the files with the inputs.
func (f *fixture) checkUnpack(t *testing.T, src oras.ReadOnlyTarget, tag string, names ...string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	res, err := unpack.Unpack(context.Background(), src, tag, dir, unpack.Options{})
	if err != nil {
		t.Fatalf("unpack %s: %v", tag, err)
	}
	if len(res.Files) != len(names) {
		t.Fatalf("unpack %s: %d files, want %d", tag, len(res.Files), len(names))
	}
	for _, n := range names {
		b := testkit.ReadFile(t, filepath.Join(dir, n))
		if !bytes.Equal(b, f.files[n]) {
			t.Fatalf("unpack %s: %s differs from the input", tag, n)
		}
	}
}

// tarEntry is one entry for makeTar.
type tarEntry struct {
	name     string
	typeflag byte
	body     []byte
	linkname string
}

// makeTar writes entries as a tar.
func makeTar(t *testing.T, path string, entries []tarEntry) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typeflag, Mode: 0o644, Size: int64(len(e.body)), Linkname: e.linkname}
		if e.typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write(e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, path, buf.Bytes())
}

// layoutEntries lists a layout directory as tar entries: "./" first,
// directories, blobs, then oci-layout and index.json last, every name
// prefixed with prefix.
func layoutEntries(t *testing.T, dir, prefix string) []tarEntry {
	t.Helper()
	var blobs []tarEntry
	out := []tarEntry{{name: prefix, typeflag: tar.TypeDir}, {name: prefix + "blobs/", typeflag: tar.TypeDir}, {name: prefix + "blobs/sha256/", typeflag: tar.TypeDir}}
	ents, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b := testkit.ReadFile(t, filepath.Join(dir, "blobs", "sha256", e.Name()))
		blobs = append(blobs, tarEntry{name: prefix + "blobs/sha256/" + e.Name(), typeflag: tar.TypeReg, body: b})
	}
	out = append(out, blobs...)
	for _, n := range []string{"oci-layout", "index.json"} {
		b := testkit.ReadFile(t, filepath.Join(dir, n))
		out = append(out, tarEntry{name: prefix + n, typeflag: tar.TypeReg, body: b})
	}
	return out
}

// flipByteOf flips one byte in the middle of the first occurrence of
// needle's first 64 bytes in the file at path.
func flipByteOf(t *testing.T, path string, needle []byte) {
	t.Helper()
	b := testkit.ReadFile(t, path)
	i := bytes.Index(b, needle[:64])
	if i < 0 {
		t.Fatalf("%s does not hold the content to tamper with", path)
	}
	b[i+len(needle)/2] ^= 0x40
	testkit.WriteFile(t, path, b)
}

// contains fails unless err's message contains every one of subs.
func contains(t *testing.T, err error, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %q", err, s)
		}
	}
}

// mustIs fails unless errors.Is(err, target).
func mustIs(t *testing.T, err, target error) {
	t.Helper()
	if os.Getenv("SHOW_ERRORS") != "" && err != nil {
		t.Logf("error: %v", err)
	}
	if err == nil {
		t.Fatalf("no error, want %v", target)
	}
	if !errors.Is(err, target) {
		t.Fatalf("error %q is not %v", err, target)
	}
}

// blobDigestOf returns the digest of the layer holding file name in tag.
func blobDigestOf(t *testing.T, l *layout.Layout, tag, name string) digest.Digest {
	t.Helper()
	_, m := testkit.Manifest(t, l, tag)
	for _, x := range m.Layers {
		if x.Annotations[ocispec.AnnotationTitle] == name {
			return x.Digest
		}
	}
	t.Fatalf("no layer %s in %s", name, tag)
	return ""
}

var _ = io.EOF

func unpackInto(src oras.ReadOnlyTarget, tag, dir string) (*unpack.Result, error) {
	return unpack.Unpack(context.Background(), src, tag, dir, unpack.Options{})
}
