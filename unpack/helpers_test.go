package unpack_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/unpack"
)

// Media types used by the tests.
const (
	mtFile    = "application/vnd.ocipack.file"
	mtTarGzip = ocispec.MediaTypeImageLayerGzip // ...tar+gzip
	mtTarZstd = ocispec.MediaTypeImageLayerZstd // ...tar+zstd
	mtTar     = ocispec.MediaTypeImageLayer     // ...tar
	mtUnknown = "application/vnd.ocipack.dir"   // says nothing: sniffed
)

// ingest stores b as a blob.
func ingest(t *testing.T, l *layout.Layout, mediaType string, b []byte) ocispec.Descriptor {
	t.Helper()
	d := testkit.Ingest(t, l, mediaType, b)
	return d
}

// pushManifest stores an image manifest with the given layers (and the
// empty config) and tags it "v1".
func pushManifest(t *testing.T, l *layout.Layout, layers ...ocispec.Descriptor) ocispec.Descriptor {
	t.Helper()
	ingest(t, l, ocispec.MediaTypeEmptyJSON, ocispec.DescriptorEmptyJSON.Data)
	if layers == nil {
		layers = []ocispec.Descriptor{}
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.DescriptorEmptyJSON,
		Layers:    layers,
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	d := ingest(t, l, ocispec.MediaTypeImageManifest, b)
	testkit.Tag(t, l, d, "v1")
	return d
}

// fileLayer stores content as a regular-file layer titled title; mode is
// the file-mode annotation ("" for none).
func fileLayer(t *testing.T, l *layout.Layout, title, content, mode string) ocispec.Descriptor {
	t.Helper()
	d := ingest(t, l, mtFile, []byte(content))
	d.Annotations = map[string]string{ocispec.AnnotationTitle: title}
	if mode != "" {
		d.Annotations[layout.AnnotationFileMode] = mode
	}
	return d
}

// dirLayer stores the tar tb, compressed as comp ("gzip", "zstd", ""), as a
// directory layer titled title with media type mt and the uncompressed
// digest annotation.
func dirLayer(t *testing.T, l *layout.Layout, title, mt, comp string, tb []byte) ocispec.Descriptor {
	t.Helper()
	d := ingest(t, l, mt, compress(t, comp, tb))
	d.Annotations = map[string]string{
		ocispec.AnnotationTitle:        title,
		layout.AnnotationUnpack:        "true",
		layout.AnnotationContentDigest: digest.FromBytes(tb).String(),
	}
	return d
}

// compress compresses b with comp: "gzip", "zstd" or "" (none).
func compress(t *testing.T, comp string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch comp {
	case "":
		return b
	case "gzip":
		w := gzip.NewWriter(&buf)
		w.Write(b)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case "zstd":
		w, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unknown compression %q", comp)
	}
	return buf.Bytes()
}

// entry is one tar entry for makeTar.
type entry struct {
	name  string
	typ   byte
	body  string
	mode  int64 // 0: 0755 for dirs, 0644 otherwise
	link  string
	mtime time.Time
}

// Entry constructors.
func dirE(name string, mode int64) entry { return entry{name: name, typ: tar.TypeDir, mode: mode} }
func fileE(name, body string, mode int64) entry {
	return entry{name: name, typ: tar.TypeReg, body: body, mode: mode}
}
func symE(name, target string) entry  { return entry{name: name, typ: tar.TypeSymlink, link: target} }
func hardE(name, target string) entry { return entry{name: name, typ: tar.TypeLink, link: target} }

// makeTar builds a tar in memory, with exactly the names given.
func makeTar(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
			if e.typ == tar.TypeDir {
				mode = 0o755
			}
		}
		hdr := &tar.Header{
			Typeflag: e.typ,
			Name:     e.name,
			Linkname: e.link,
			Mode:     mode,
			ModTime:  e.mtime,
			Format:   tar.FormatPAX,
		}
		if hdr.ModTime.IsZero() {
			hdr.ModTime = time.Unix(1_600_000_000, 0)
		}
		if e.typ == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if e.typ == tar.TypeXGlobalHeader {
			hdr = &tar.Header{Typeflag: e.typ, Name: e.name, PAXRecords: map[string]string{"comment": "global"}}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar header %q: %v", e.name, err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// assertNoStaging fails if a staging directory was left in dir.
func assertNoStaging(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".ocipack-unpack-") {
			t.Errorf("staging directory %s left behind", e.Name())
		}
	}
}

// unpackV1 unpacks the tag v1 of l into dest.
func unpackV1(l *layout.Layout, dest string, opts unpack.Options) (*unpack.Result, error) {
	return unpack.Unpack(context.Background(), l, "v1", dest, opts)
}

// readFile returns a file's content, failing the test on error.
func readFile(t *testing.T, p string) string {
	t.Helper()
	b := testkit.ReadFile(t, p)
	return string(b)
}

// assertMode fails unless p has the permission bits want.
func assertMode(t *testing.T, p string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %v, want %v", p, got, want)
	}
}

// assertMtime fails unless p's mtime is want.
func assertMtime(t *testing.T, p string, want time.Time) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(want) {
		t.Errorf("%s: mtime %v, want %v", p, fi.ModTime(), want)
	}
}

// tempDir returns a temporary directory that is removed at the end of the
// test even when it holds read-only directories (as restored trees do)
// and the test does not run as root.
func tempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() { // runs before TempDir's own cleanup
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o700)
			}
			return nil
		})
	})
	return dir
}
