package unpack_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/unpack"
)

// goodFile is a valid layer put before the bad one in most cases, so that
// the tests also check that what an earlier layer extracted is removed.
func goodFile(t *testing.T, l *layout.Layout) ocispec.Descriptor {
	return fileLayer(t, l, "nested/good.txt", "good", "0644")
}

// badTar returns a layer list: a good file, then a directory layer "T"
// holding the entries given.
func badTar(entries ...entry) func(t *testing.T, l *layout.Layout) []ocispec.Descriptor {
	return func(t *testing.T, l *layout.Layout) []ocispec.Descriptor {
		return []ocispec.Descriptor{goodFile(t, l), dirLayer(t, l, "T", mtTarGzip, "gzip", makeTar(t, entries...))}
	}
}

// badTitle returns a layer list with a good file and a file titled title.
func badTitle(title string) func(t *testing.T, l *layout.Layout) []ocispec.Descriptor {
	return func(t *testing.T, l *layout.Layout) []ocispec.Descriptor {
		return []ocispec.Descriptor{goodFile(t, l), fileLayer(t, l, title, "evil", "")}
	}
}

type refusal struct {
	name   string
	layers func(t *testing.T, l *layout.Layout) []ocispec.Descriptor
	// corrupt, when set, damages the layout after the manifest is stored;
	// layers are the manifest's layers.
	corrupt func(t *testing.T, l *layout.Layout, layers []ocispec.Descriptor)
	opts    unpack.Options
	err     error    // sentinel the error must match
	msg     []string // substrings the message must hold; "$N" is layer N's digest
}

func refusals() []refusal {
	return []refusal{
		{name: "absolute title", layers: badTitle("/etc/passwd"), err: unpack.ErrUnsafePath, msg: []string{`"/etc/passwd"`, "absolute", "$1"}},
		{name: "dot-dot title", layers: badTitle("../evil.txt"), err: unpack.ErrUnsafePath, msg: []string{`"../evil.txt"`, `".."`}},
		{name: "dot-dot inside title", layers: badTitle("a/../../evil.txt"), err: unpack.ErrUnsafePath, msg: []string{`"a/../../evil.txt"`}},
		{name: "backslash title", layers: badTitle(`..\evil.txt`), err: unpack.ErrUnsafePath, msg: []string{`..\\evil.txt`, "backslash"}},
		{name: "volume title", layers: badTitle("C:/Windows/evil.txt"), err: unpack.ErrUnsafePath, msg: []string{`"C:/Windows/evil.txt"`, "volume"}},
		{name: "UNC title", layers: badTitle("//server/share/evil.txt"), err: unpack.ErrUnsafePath, msg: []string{"//server/share/evil.txt"}},
		{name: "dot title", layers: badTitle("./"), err: unpack.ErrUnsafePath, msg: []string{`"./"`}},
		{name: "staging title", layers: badTitle(".ocipack-unpack-x/y"), err: unpack.ErrUnsafePath, msg: []string{".ocipack-unpack-x/y", "reserved"}},

		{name: "entry dot-dot", layers: badTar(dirE("T/", 0), fileE("T/a", "a", 0), fileE("../x", "evil", 0)),
			err: unpack.ErrUnsafePath, msg: []string{`layer "T"`, `tar entry "../x"`}},
		{name: "entry dot-dot inside", layers: badTar(fileE("T/a/../../x", "evil", 0)),
			err: unpack.ErrUnsafePath, msg: []string{`"T/a/../../x"`}},
		{name: "entry absolute", layers: badTar(fileE("/T/x", "evil", 0)),
			err: unpack.ErrUnsafePath, msg: []string{`"/T/x"`, "absolute"}},
		{name: "entry outside prefix", layers: badTar(fileE("T/a", "a", 0), fileE("other/x", "evil", 0)),
			err: unpack.ErrUnsafePath, msg: []string{`"other/x"`, `outside "T/"`}},
		{name: "entry backslash", layers: badTar(fileE(`T\..\..\x`, "evil", 0)),
			err: unpack.ErrUnsafePath, msg: []string{`T\\..\\..\\x`}},
		{name: "symlink outside", layers: badTar(dirE("T/", 0), symE("T/l", "../../etc")),
			err: unpack.ErrUnsafePath, msg: []string{`"T/l"`, `"../../etc"`}},
		{name: "symlink to parent of root", layers: badTar(symE("T/sub/l", "../..")),
			err: unpack.ErrUnsafePath, msg: []string{`"T/sub/l"`}},
		{name: "absolute symlink", layers: badTar(symE("T/l", "/etc/passwd")),
			err: unpack.ErrUnsafePath, msg: []string{`"T/l"`, `"/etc/passwd"`, "absolute"}},
		{name: "symlink chain escape", layers: badTar(dirE("T/d/", 0), symE("T/d/x", ".."), symE("T/y", "d/x/..")),
			err: unpack.ErrUnsafePath, msg: []string{`"T/y"`, `"d/x/.."`}},
		{name: "symlink chain escape, link made later", layers: badTar(dirE("T/d/", 0), symE("T/y", "d/x/.."), symE("T/d/x", "..")),
			err: unpack.ErrUnsafePath, msg: []string{`"T/y"`}},
		{name: "dangling symlink escaping lexically", layers: badTar(symE("T/l", "missing/../../etc")),
			err: unpack.ErrUnsafePath, msg: []string{`"T/l"`, `"missing/../../etc"`}},
		{name: "symlink loop", layers: badTar(symE("T/a", "b"), symE("T/b", "a")),
			err: unpack.ErrUnsafePath, msg: []string{"too many levels"}},
		{name: "hard link outside", layers: badTar(fileE("T/a", "a", 0), hardE("T/h", "../etc/passwd")),
			err: unpack.ErrUnsafePath, msg: []string{`"T/h"`, `"../etc/passwd"`}},
		{name: "hard link outside prefix", layers: badTar(fileE("T/a", "a", 0), hardE("T/h", "other/a")),
			err: unpack.ErrUnsafePath, msg: []string{`"T/h"`, `"other/a"`}},
		{name: "hard link absolute", layers: badTar(fileE("T/a", "a", 0), hardE("T/h", "/etc/passwd")),
			err: unpack.ErrUnsafePath, msg: []string{`"T/h"`, `"/etc/passwd"`}},
		{name: "hard link to nothing", layers: badTar(fileE("T/a", "a", 0), hardE("T/h", "T/nope")),
			err: unpack.ErrUnsafePath, msg: []string{`"T/h"`, `"T/nope"`, "not an earlier regular file"}},
		{name: "hard link to later file", layers: badTar(hardE("T/h", "T/a"), fileE("T/a", "a", 0)),
			err: unpack.ErrUnsafePath, msg: []string{`"T/h"`}},
		{name: "hard link to symlink", layers: badTar(fileE("T/a", "a", 0), symE("T/s", "a"), hardE("T/h", "T/s")),
			err: unpack.ErrUnsafePath, msg: []string{`"T/h"`, `"T/s"`}},
		{name: "write through symlink to root", layers: badTar(dirE("T/", 0), symE("T/link", "."), fileE("T/link/x", "evil", 0)),
			err: unpack.ErrUnsafePath, msg: []string{`"T/link/x"`, "symlink"}},
		{name: "dir through symlink", layers: badTar(dirE("T/d/", 0), symE("T/link", "d"), dirE("T/link/sub/", 0)),
			err: unpack.ErrUnsafePath, msg: []string{`"T/link/sub/"`}},
		{name: "write through escaping symlink", layers: badTar(symE("T/l", "../.."), fileE("T/l/x", "evil", 0)),
			err: unpack.ErrUnsafePath, msg: []string{`"T/l"`, `"../.."`}},
		{name: "symlink replaces root", layers: badTar(symE("T", "/etc")),
			err: unpack.ErrUnsafePath, msg: []string{`"T"`}},
		{name: "char device", layers: badTar(dirE("T/", 0), entry{name: "T/tty", typ: tar.TypeChar}),
			err: unpack.ErrUnsafePath, msg: []string{`"T/tty"`, "character device"}},
		{name: "block device", layers: badTar(entry{name: "T/sda", typ: tar.TypeBlock}),
			err: unpack.ErrUnsafePath, msg: []string{`"T/sda"`, "block device"}},
		{name: "fifo", layers: badTar(entry{name: "T/fifo", typ: tar.TypeFifo}),
			err: unpack.ErrUnsafePath, msg: []string{`"T/fifo"`, "fifo"}},

		{name: "duplicate title", layers: func(t *testing.T, l *layout.Layout) []ocispec.Descriptor {
			return []ocispec.Descriptor{fileLayer(t, l, "a.txt", "one", ""), fileLayer(t, l, "./a.txt", "two", "")}
		}, err: unpack.ErrDuplicateTitle, msg: []string{`"a.txt"`, `"./a.txt"`, "$0", "$1", "same path"}},
		{name: "title inside another", layers: func(t *testing.T, l *layout.Layout) []ocispec.Descriptor {
			return []ocispec.Descriptor{
				dirLayer(t, l, "d", mtTarGzip, "gzip", makeTar(t, fileE("d/x", "x", 0))),
				fileLayer(t, l, "d/x", "two", ""),
			}
		}, err: unpack.ErrDuplicateTitle, msg: []string{`"d"`, `"d/x"`, "inside"}},
		{name: "title around another", layers: func(t *testing.T, l *layout.Layout) []ocispec.Descriptor {
			return []ocispec.Descriptor{fileLayer(t, l, "d/x", "one", ""), fileLayer(t, l, "d", "two", "")}
		}, err: unpack.ErrDuplicateTitle, msg: []string{`"d"`, `"d/x"`}},

		{name: "blob size mismatch", layers: badTitle("b.txt"),
			corrupt: func(t *testing.T, l *layout.Layout, ls []ocispec.Descriptor) {
				f, err := os.OpenFile(testkit.BlobPath(l.Path(), ls[1].Digest.String()), os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.Write([]byte("x"))
				f.Close()
			}, err: layout.ErrSizeMismatch, msg: []string{`"b.txt"`, "$1"}},
		{name: "blob digest mismatch", layers: badTitle("b.txt"),
			corrupt: func(t *testing.T, l *layout.Layout, ls []ocispec.Descriptor) {
				testkit.FlipByte(t, testkit.BlobPath(l.Path(), ls[1].Digest.String()), 0)
			},
			err: layout.ErrDigestMismatch, msg: []string{`"b.txt"`, "$1"}},
		{name: "compressed blob digest mismatch", layers: badTar(fileE("T/a", strings.Repeat("a", 10000), 0)),
			// Inside the deflate stream: the decompressor fails or yields
			// garbage, but the digest mismatch is what is reported.
			corrupt: func(t *testing.T, l *layout.Layout, ls []ocispec.Descriptor) {
				testkit.FlipByte(t, testkit.BlobPath(l.Path(), ls[1].Digest.String()), 20)
			},
			err: layout.ErrDigestMismatch, msg: []string{`"T"`, "$1"}},
		{name: "damaged gzip trailer", layers: badTar(fileE("T/a", "a", 0)),
			corrupt: func(t *testing.T, l *layout.Layout, ls []ocispec.Descriptor) {
				// The gzip CRC and size fail too, but the digest
				// mismatch is what is reported.
				p := testkit.BlobPath(l.Path(), ls[1].Digest.String())
				b, _ := os.ReadFile(p)
				copy(b[len(b)-8:], make([]byte, 8))
				os.WriteFile(p, b, 0o644)
			}, err: layout.ErrDigestMismatch, msg: []string{"$1"}},
		{name: "uncompressed digest mismatch", layers: func(t *testing.T, l *layout.Layout) []ocispec.Descriptor {
			d := dirLayer(t, l, "T", mtTarGzip, "gzip", makeTar(t, fileE("T/a", "a", 0)))
			d.Annotations[layout.AnnotationContentDigest] = digest.FromString("something else").String()
			return []ocispec.Descriptor{goodFile(t, l), d}
		}, err: layout.ErrDigestMismatch, msg: []string{`"T"`, digest.FromString("something else").String(), layout.AnnotationContentDigest}},
		{name: "bad uncompressed digest annotation", layers: func(t *testing.T, l *layout.Layout) []ocispec.Descriptor {
			d := dirLayer(t, l, "T", mtTarGzip, "gzip", makeTar(t, fileE("T/a", "a", 0)))
			d.Annotations[layout.AnnotationContentDigest] = "md5:abc"
			return []ocispec.Descriptor{goodFile(t, l), d}
		}, err: layout.ErrCorrupt, msg: []string{`"T"`, `"md5:abc"`}},
		{name: "bad file mode annotation", layers: func(t *testing.T, l *layout.Layout) []ocispec.Descriptor {
			return []ocispec.Descriptor{fileLayer(t, l, "a", "a", "rwxr-xr-x")}
		}, err: layout.ErrCorrupt, msg: []string{`"a"`, `"rwxr-xr-x"`}},
		{name: "missing blob", layers: badTitle("b.txt"),
			corrupt: func(t *testing.T, l *layout.Layout, ls []ocispec.Descriptor) {
				os.Remove(testkit.BlobPath(l.Path(), ls[1].Digest.String()))
			}, err: layout.ErrNotFound, msg: []string{`"b.txt"`, "$1"}},
		{name: "not gzip", layers: func(t *testing.T, l *layout.Layout) []ocispec.Descriptor {
			d := dirLayer(t, l, "T", mtTarGzip, "", makeTar(t, fileE("T/a", "a", 0))) // says gzip, is not
			return []ocispec.Descriptor{goodFile(t, l), d}
		}, err: nil, msg: []string{`"T"`, "gzip", "$1"}},
		{name: "not a tar", layers: func(t *testing.T, l *layout.Layout) []ocispec.Descriptor {
			d := dirLayer(t, l, "T", mtTarGzip, "gzip", bytes.Repeat([]byte("not a tar "), 100))
			return []ocispec.Descriptor{goodFile(t, l), d}
		}, err: nil, msg: []string{`"T"`, "tar", "$1"}},
		{name: "file replaces directory", layers: badTar(dirE("T/d/", 0), fileE("T/d", "x", 0)),
			err: nil, msg: []string{`"T/d"`, "directory"}},

		{name: "decompression bomb", layers: badTar(fileE("T/zeros", strings.Repeat("\x00", 4<<20), 0)),
			opts: unpack.Options{MaxSize: 1 << 20}, err: unpack.ErrTooLarge, msg: []string{`layer "T"`, "1048576"}},
		{name: "many empty entries", layers: func(t *testing.T, l *layout.Layout) []ocispec.Descriptor {
			var es []entry
			for i := range 100 {
				es = append(es, fileE("T/f"+strings.Repeat("x", i), "", 0))
			}
			return []ocispec.Descriptor{dirLayer(t, l, "T", mtTarGzip, "gzip", makeTar(t, es...))}
		}, opts: unpack.Options{MaxSize: 10 * 512}, err: unpack.ErrTooLarge, msg: []string{`layer "T"`}},
		{name: "file over MaxSize", layers: badTitle("big"),
			opts: unpack.Options{MaxSize: 5}, err: unpack.ErrTooLarge, msg: []string{`"big"`, "$1"}},
		{name: "negative MaxSize", layers: badTitle("b"), opts: unpack.Options{MaxSize: -1}, msg: []string{"MaxSize"}},
	}
}

func TestRefusals(t *testing.T) {
	for _, c := range refusals() {
		t.Run(c.name, func(t *testing.T) {
			for _, destExists := range []bool{true, false} {
				l := testkit.NewLayout(t)
				layers := c.layers(t, l)
				pushManifest(t, l, layers...)
				if c.corrupt != nil {
					c.corrupt(t, l, layers)
				}

				// The workspace holds dest and the files around it, so
				// that an escape anywhere nearby shows in the snapshot.
				ws := tempDir(t)
				dest := filepath.Join(ws, "dest")
				if destExists {
					os.MkdirAll(filepath.Join(dest, "sub"), 0o750)
					os.WriteFile(filepath.Join(dest, "keep.txt"), []byte("keep"), 0o600)
					os.WriteFile(filepath.Join(dest, "sub", "inner.txt"), []byte("inner"), 0o644)
					os.Symlink("keep.txt", filepath.Join(dest, "lnk"))
				} else {
					dest = filepath.Join(dest, "new", "deeper")
				}
				os.WriteFile(filepath.Join(ws, "sibling.txt"), []byte("sibling"), 0o644)
				before := testkit.Snapshot(t, ws)

				_, err := unpackV1(l, dest, c.opts)
				if err == nil {
					t.Fatalf("destExists=%v: no error", destExists)
				}
				if c.err != nil && !errors.Is(err, c.err) {
					t.Errorf("destExists=%v: err = %v, want %v", destExists, err, c.err)
				}
				msg := err.Error()
				if strings.Contains(msg, "\n") {
					t.Errorf("message spans several lines: %q", msg)
				}
				for _, want := range c.msg {
					if strings.HasPrefix(want, "$") {
						want = layers[int(want[1]-'0')].Digest.String()
					}
					if !strings.Contains(msg, want) {
						t.Errorf("destExists=%v: message %q does not contain %q", destExists, msg, want)
					}
				}
				testkit.Unchanged(t, before, ws)
				if destExists {
					assertNoStaging(t, dest)
				}
				t.Logf("%v", err)
			}
		})
	}
}

func TestExistingRefusedBeforeReading(t *testing.T) {
	l := testkit.NewLayout(t)
	good := goodFile(t, l)
	// keep.txt's blob is missing: were it read, ErrNotFound would show.
	missing := fileLayer(t, l, "keep.txt", "new", "")
	pushManifest(t, l, good, missing)
	os.Remove(testkit.BlobPath(l.Path(), missing.Digest.String()))
	os.Remove(testkit.BlobPath(l.Path(), good.Digest.String()))

	dest := tempDir(t)
	os.WriteFile(filepath.Join(dest, "keep.txt"), []byte("keep"), 0o600)
	before := testkit.Snapshot(t, dest)
	var read int64
	_, err := unpackV1(l, dest, unpack.Options{Progress: func(done, total int64) { read = done }})
	if !errors.Is(err, unpack.ErrExists) {
		t.Fatalf("err = %v, want ErrExists", err)
	}
	if errors.Is(err, layout.ErrNotFound) || read != 0 {
		t.Errorf("a blob was read before the existence check: %v (%d bytes)", err, read)
	}
	for _, want := range []string{filepath.Join(dest, "keep.txt"), "--overwrite"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not contain %q", err, want)
		}
	}
	testkit.Unchanged(t, before, dest)
	assertNoStaging(t, dest)
}

func TestExistingParentIsFile(t *testing.T) {
	l := testkit.NewLayout(t)
	pushManifest(t, l, fileLayer(t, l, "sub/file.txt", "x", ""))
	dest := tempDir(t)
	os.WriteFile(filepath.Join(dest, "sub"), []byte("a file"), 0o644)
	before := testkit.Snapshot(t, dest)
	_, err := unpackV1(l, dest, unpack.Options{Overwrite: true})
	if !errors.Is(err, unpack.ErrExists) || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("err = %v, want ErrExists (not a directory)", err)
	}
	testkit.Unchanged(t, before, dest)
	assertNoStaging(t, dest)
}

func TestIndexRefused(t *testing.T) {
	l := testkit.NewLayout(t)
	m := pushManifest(t, l, fileLayer(t, l, "a", "a", ""))
	idx := ocispec.Index{Manifests: []ocispec.Descriptor{m}}
	idx.SchemaVersion = 2
	idx.MediaType = ocispec.MediaTypeImageIndex
	b, _ := json.Marshal(idx)
	d := ingest(t, l, ocispec.MediaTypeImageIndex, b)
	if err := l.Tag(t.Context(), d, "multi"); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"multi", d.Digest.String()} {
		parent := tempDir(t)
		dest := filepath.Join(parent, "out")
		_, err := unpack.Unpack(t.Context(), l, ref, dest, unpack.Options{})
		if !errors.Is(err, unpack.ErrNotImageManifest) {
			t.Fatalf("%s: err = %v, want ErrNotImageManifest", ref, err)
		}
		for _, want := range []string{d.Digest.String(), "index", m.Digest.String()} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: message %q does not contain %q", ref, err, want)
			}
		}
		if _, err := os.Lstat(dest); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("dest was created: %v", err)
		}
	}
}
