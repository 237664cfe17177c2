package archive_test

import (
	"archive/tar"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/archive"
	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
)

// writeFile writes b to a new file name in a temporary directory.
func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	testkit.WriteFile(t, p, b)
	return p
}

// allReadersRefuse checks that Check, Open and ImportDir (into a new
// directory, which must not be left behind) all fail with target, naming
// every one of subs.
func allReadersRefuse(t *testing.T, p string, target error, subs ...string) {
	t.Helper()
	ctx := context.Background()
	_, err := archive.Check(ctx, p)
	mustIs(t, err, target)
	contains(t, err, subs...)
	r, err := archive.Open(ctx, p)
	if err == nil {
		r.Close()
	}
	mustIs(t, err, target)
	contains(t, err, subs...)
	dst := filepath.Join(t.TempDir(), "dst")
	_, err = archive.ImportDir(ctx, []string{p}, dst, archive.ImportOptions{})
	mustIs(t, err, target)
	contains(t, err, subs...)
	if _, err := os.Lstat(dst); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the failed import left %s (%v)", dst, err)
	}
}

// exportLastEntry exports f's layout to a plain tar and returns its bytes
// and its last entry.
func exportLastEntry(t *testing.T, f *fixture) ([]byte, testkit.TarSpan) {
	t.Helper()
	p, _ := exportFile(t, f.l, nil, "x.tar", archive.ExportOptions{})
	return testkit.ReadTarLast(t, p)
}

// A tar cut exactly at an entry boundary reads as a shorter tar: every
// reader must see that blobs (or the end-of-archive marker) are missing.
func TestHostileTarCutAtEntryBoundary(t *testing.T) {
	f := newFixture(t)
	b, last := exportLastEntry(t, f)
	d := digest.Digest("sha256:" + path.Base(last.Name))
	if d.Validate() != nil {
		t.Fatalf("the last entry %q is not a blob", last.Name)
	}

	t.Run("blob missing", func(t *testing.T) {
		allReadersRefuse(t, writeFile(t, "cut.tar", b[:last.Header]), archive.ErrTruncated, d.String())
	})
	t.Run("end marker missing", func(t *testing.T) {
		end := last.Data + (last.Size+511)/512*512
		allReadersRefuse(t, writeFile(t, "nomarker.tar", b[:end]), archive.ErrTruncated, "end-of-archive marker")
	})
	t.Run("plain tar cut", func(t *testing.T) {
		// index.json and oci-layout first, then the blobs: cut before
		// the last blob.
		entries := layoutEntries(t, f.dir, "./")
		slices.SortStableFunc(entries, func(a, b tarEntry) int {
			return boolInt(strings.HasPrefix(a.name, "./blobs/sha256/")) - boolInt(strings.HasPrefix(b.name, "./blobs/sha256/"))
		})
		whole := filepath.Join(t.TempDir(), "plain.tar")
		makeTar(t, whole, entries)
		pb := testkit.ReadFile(t, whole)
		ps := testkit.TarSpans(t, pb)
		cut := writeFile(t, "plain-cut.tar", pb[:ps[len(ps)-1].Header])
		ctx := context.Background()
		_, err := archive.Check(ctx, cut)
		mustIs(t, err, archive.ErrTruncated)
		_, err = archive.Open(ctx, cut)
		mustIs(t, err, archive.ErrTruncated)
		if _, err := archive.ImportDir(ctx, []string{cut}, filepath.Join(t.TempDir(), "dst"), archive.ImportOptions{}); err == nil {
			t.Fatal("a cut plain tar imported")
		}
	})
	t.Run("plain tar lacking a layer", func(t *testing.T) {
		// Whole as a tar, but a blob a tag reaches is not in it: verify
		// says so, naming it, as import does.
		a := blobDigestOf(t, f.l, "v1", "a.bin")
		entries := slices.DeleteFunc(layoutEntries(t, f.dir, "./"), func(e tarEntry) bool { return strings.HasSuffix(e.name, a.Encoded()) })
		p := filepath.Join(t.TempDir(), "incomplete.tar")
		makeTar(t, p, entries)
		_, err := archive.Check(context.Background(), p)
		mustIs(t, err, archive.ErrIncomplete)
		contains(t, err, a.String())
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// seekFrames returns the compressed sizes of the frames of a seekable zstd
// stream, and where its seek table starts.
func seekFrames(t *testing.T, b []byte) (sizes []int64, table int64) {
	t.Helper()
	foot := b[len(b)-9:]
	if binary.LittleEndian.Uint32(foot[5:]) != 0x8F92EAB1 {
		t.Fatal("no seek table")
	}
	n := int64(binary.LittleEndian.Uint32(foot))
	table = int64(len(b)) - 9 - 8*n - 8
	for i := range n {
		sizes = append(sizes, int64(binary.LittleEndian.Uint32(b[table+8+8*i:])))
	}
	return sizes, table
}

// A .tar.zst cut after a frame decompresses cleanly: every reader must
// see that its seek table (and blobs) are missing.
func TestHostileZstdCutAfterFrame(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	l, err := layout.OpenOrCreate(ctx, filepath.Join(root, "src"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var in []pack.Input
	for i := range 3 {
		p := filepath.Join(root, fmt.Sprintf("f%d.bin", i))
		testkit.WriteFile(t, p, testkit.RandomBytes(uint64(10+i), 300<<10))
		in = append(in, pack.Input{Path: p})
	}
	if _, err := pack.Pack(ctx, l, "v1", in, pack.Options{SourceDateEpoch: &epoch}); err != nil {
		t.Fatal(err)
	}
	p, _ := exportFile(t, l, nil, "x.tar.zst", archive.ExportOptions{Compression: archive.Zstd})
	b := testkit.ReadFile(t, p)
	sizes, table := seekFrames(t, b)
	if len(sizes) < 3 {
		t.Fatalf("only %d frames", len(sizes))
	}
	t.Run("cut after the first frame", func(t *testing.T) {
		allReadersRefuse(t, writeFile(t, "cut.tar.zst", b[:sizes[0]]), archive.ErrTruncated)
	})
	t.Run("seek table gone", func(t *testing.T) {
		allReadersRefuse(t, writeFile(t, "notable.tar.zst", b[:table]), archive.ErrTruncated, "seek table")
	})
	t.Run("seek table damaged", func(t *testing.T) {
		bad := slices.Clone(b)
		binary.LittleEndian.PutUint32(bad[table+8:], binary.LittleEndian.Uint32(bad[table+8:])+1)
		allReadersRefuse(t, writeFile(t, "badtable.tar.zst", bad), archive.ErrTampered, "seek table")
	})
}

// An archive holding one layout file twice is refused by every reader
// alike, naming the entry.
func TestHostileDuplicateEntries(t *testing.T) {
	f := newFixture(t)
	p, _ := exportFile(t, f.l, nil, "x.tar", archive.ExportOptions{})
	spans := testkit.TarSpans(t, testkit.ReadFile(t, p))
	var entries []tarEntry
	var index, contentsList []byte
	var blob testkit.TarSpan
	for _, s := range spans {
		entries = append(entries, tarEntry{name: s.Name, typeflag: s.Typeflag, body: s.Body})
		switch {
		case s.Name == "index.json":
			index = s.Body
		case s.Name == archive.ContentsFile:
			contentsList = s.Body
		case strings.HasPrefix(s.Name, "blobs/sha256/"):
			blob = s
		}
	}
	// A second index.json that moves v1 to v3's manifest: a reader that
	// took the second would unpack other content for v1.
	var idx ocispec.Index
	if err := json.Unmarshal(index, &idx); err != nil {
		t.Fatal(err)
	}
	v3 := tagMap(t, f.l)["v3"]
	for i, m := range idx.Manifests {
		if m.Annotations[ocispec.AnnotationRefName] == "v1" {
			for _, o := range idx.Manifests {
				if o.Digest == v3 {
					idx.Manifests[i].Digest, idx.Manifests[i].Size = o.Digest, o.Size
				}
			}
		}
	}
	other, _ := json.Marshal(idx)
	for _, c := range []struct {
		name  string
		extra tarEntry
		names string
	}{
		{"index.json", tarEntry{name: "./index.json", typeflag: tar.TypeReg, body: other}, "index.json"},
		{"contents list", tarEntry{name: archive.ContentsFile, typeflag: tar.TypeReg, body: contentsList}, archive.ContentsFile},
		{"blob", tarEntry{name: blob.Name, typeflag: tar.TypeReg, body: blob.Body}, path.Base(blob.Name)},
	} {
		t.Run(c.name, func(t *testing.T) {
			dup := filepath.Join(t.TempDir(), "dup.tar")
			makeTar(t, dup, append(slices.Clone(entries), c.extra))
			allReadersRefuse(t, dup, archive.ErrDuplicateEntry, c.names)
		})
	}
}

// contentsArchive writes an archive with the contents list c, an empty
// index.json and no blobs.
func contentsArchive(t *testing.T, blobs []archive.Blob) string {
	t.Helper()
	c, err := json.Marshal(map[string]any{"mediaType": archive.ContentsMediaType, "tags": []string{}, "blobs": blobs})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "sizes.tar")
	makeTar(t, p, []tarEntry{
		{name: "oci-layout", typeflag: tar.TypeReg, body: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{name: archive.ContentsFile, typeflag: tar.TypeReg, body: c},
		{name: "index.json", typeflag: tar.TypeReg, body: []byte(`{"schemaVersion":2,"manifests":[]}`)},
	})
	return p
}

// Sizes in the contents list are checked before anything is stored: an
// impossible one (negative, above 1 PiB) is refused naming the digest, and
// their sum cannot overflow past the free-space check.
func TestHostileContentsSizes(t *testing.T) {
	ctx := context.Background()
	asked := 0
	tib := func(string) (int64, error) { asked++; return 1 << 40, nil }
	d := func(i int) digest.Digest { return digest.FromString(fmt.Sprint("blob ", i)) }

	for _, c := range []struct {
		name string
		size int64
	}{{"2^62", 1 << 62}, {"negative", -1}} {
		t.Run(c.name, func(t *testing.T) {
			p := contentsArchive(t, []archive.Blob{{Digest: d(1), Size: c.size}, {Digest: d(2), Size: c.size}})
			_, err := archive.ImportDir(ctx, []string{p}, filepath.Join(t.TempDir(), "dst"), archive.ImportOptions{FreeSpace: tib})
			mustIs(t, err, archive.ErrNotArchive)
			contains(t, err, d(1).String(), "impossible size")
			_, err = archive.Check(ctx, p)
			mustIs(t, err, archive.ErrNotArchive)
			contains(t, err, d(1).String())
		})
	}

	t.Run("sum overflows", func(t *testing.T) {
		// 8192 blobs of 1 PiB: 2^63 bytes, one more than int64 holds.
		var blobs []archive.Blob
		for i := range 8192 {
			blobs = append(blobs, archive.Blob{Digest: d(i), Size: layout.MaxBlobSize})
		}
		asked = 0
		dst := filepath.Join(t.TempDir(), "dst")
		_, err := archive.ImportDir(ctx, []string{contentsArchive(t, blobs)}, dst, archive.ImportOptions{FreeSpace: tib})
		mustIs(t, err, archive.ErrNoSpace)
		if asked != 1 {
			t.Errorf("free space asked %d times, want 1", asked)
		}
	})
}

// A failed import into a new directory leaves what a concurrent pack
// stored and tagged there meanwhile, and removes only its own blobs.
func TestHostileImportFailureKeepsConcurrentPack(t *testing.T) {
	f := newFixture(t)
	b, last := exportLastEntry(t, f)
	cut := writeFile(t, "cut.tar", b[:last.Data+last.Size/2]) // in the middle of the last blob
	other := filepath.Join(t.TempDir(), "other.bin")
	testkit.WriteFile(t, other, testkit.RandomBytes(99, 50<<10))
	f.files["other.bin"] = testkit.ReadFile(t, other)

	for _, c := range []struct {
		name string
		imp  func(ctx context.Context, dst string, opts archive.ImportOptions) error
	}{
		{"ImportDir", func(ctx context.Context, dst string, opts archive.ImportOptions) error {
			_, err := archive.ImportDir(ctx, []string{cut}, dst, opts)
			return err
		}},
		{"ImportStreamDir", func(ctx context.Context, dst string, opts archive.ImportOptions) error {
			in, err := os.Open(cut)
			if err != nil {
				return err
			}
			defer in.Close()
			_, err = archive.ImportStreamDir(ctx, in, dst, opts)
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			dst := filepath.Join(t.TempDir(), "dst")
			packed := false
			opts := archive.ImportOptions{Progress: func(done, total int64) {
				if packed {
					return
				}
				// The import created the layout and is reading: a pack
				// stores and tags into it now.
				packed = true
				l, err := layout.Open(ctx, dst)
				if err != nil {
					t.Errorf("the import has not created the layout yet: %v", err)
					return
				}
				defer l.Close()
				if _, err := pack.Pack(ctx, l, "other", []pack.Input{{Path: other}}, pack.Options{SourceDateEpoch: &epoch}); err != nil {
					t.Errorf("pack: %v", err)
				}
			}}
			err := c.imp(ctx, dst, opts)
			mustIs(t, err, archive.ErrTruncated)
			if !packed {
				t.Fatal("progress never called")
			}
			l, err := layout.Open(ctx, dst)
			if err != nil {
				t.Fatalf("the failed import removed the layout a pack wrote into: %v", err)
			}
			defer l.Close()
			f.checkUnpack(t, l, "other", "other.bin")
			if got, want := blobsOf(t, l), reachable(t, l, "other"); !slices.Equal(got, want) {
				t.Errorf("blobs left: %v, want only the pack's %v", got, want)
			}
		})
	}
}
