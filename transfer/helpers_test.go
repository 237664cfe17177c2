package transfer_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
	"github.com/ocipack/ocipack/transfer"
	"github.com/ocipack/ocipack/unpack"
)

// example is the test data every round trip packs: a directory (with a
// symlink and an executable) and two files.
var example = []string{
	"../testdata/example/site",
	"../testdata/example/app-1.0.tar",
	"../testdata/example/hello-0.1.0.tgz",
}

// testCtx bounds a test in time: nothing here may hang the suite.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newLayout creates an empty layout in a fresh temporary directory.
func newLayout(t *testing.T) *layout.Layout {
	t.Helper()
	l, err := layout.OpenOrCreate(t.Context(), filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// packPaths packs paths into l as tag.
func packPaths(t *testing.T, l *layout.Layout, tag string, paths ...string) *pack.Result {
	t.Helper()
	var in []pack.Input
	for _, p := range paths {
		in = append(in, pack.Input{Path: p})
	}
	res, err := pack.Pack(t.Context(), l, tag, in, pack.Options{})
	if err != nil {
		t.Fatalf("pack %s: %v", tag, err)
	}
	return res
}

// graph is an artifact's manifest and the blobs (config and layers) it
// references, as stored in a layout.
type graph struct {
	manifest ocispec.Descriptor
	blobs    []ocispec.Descriptor // config first, then the layers
}

// blobBytes is the sum of the sizes of the config and the layers.
func (g graph) blobBytes() int64 {
	var n int64
	for _, b := range g.blobs {
		n += b.Size
	}
	return n
}

func (g graph) digests() []digest.Digest {
	var ds []digest.Digest
	for _, b := range g.blobs {
		ds = append(ds, b.Digest)
	}
	slices.Sort(ds)
	return slices.Compact(ds)
}

// graphOf reads the manifest ref names in l.
func graphOf(t *testing.T, l *layout.Layout, ref string) graph {
	t.Helper()
	ctx := t.Context()
	desc, err := l.Resolve(ctx, ref)
	if err != nil {
		t.Fatalf("resolve %s: %v", ref, err)
	}
	m, err := layout.ReadManifest(ctx, l, desc)
	if err != nil {
		t.Fatalf("read manifest %s: %v", ref, err)
	}
	return graph{manifest: desc, blobs: append([]ocispec.Descriptor{m.Config}, m.Layers...)}
}

// regRef parses HOST/REPO[:TAG] for reg.
func regRef(t *testing.T, reg *testkit.Registry, repoAndTag string) registry.Reference {
	t.Helper()
	ref, err := transfer.ParseReference(reg.Ref(repoAndTag))
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// directRepo is an oras-go client for repo that talks to reg directly,
// bypassing the code under test, to check what the registry holds.
func directRepo(t *testing.T, reg *testkit.Registry, repo string) *remote.Repository {
	t.Helper()
	r, err := remote.NewRepository(reg.Ref(repo))
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = reg.PlainHTTP
	c := reg.Client()
	t.Cleanup(c.CloseIdleConnections) // before the registry shuts down
	r.Client = c
	return r
}

// events collects the events of a copy; OnEvent may be called from several
// goroutines at once.
type events struct {
	mu  sync.Mutex
	all []transfer.Event
}

func (e *events) on(ev transfer.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

// digests returns the sorted, distinct digests that had an event of kind.
func (e *events) digests(kind transfer.EventKind) []digest.Digest {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ds []digest.Digest
	for _, ev := range e.all {
		if ev.Kind == kind {
			ds = append(ds, ev.Descriptor.Digest)
		}
	}
	slices.Sort(ds)
	return slices.Compact(ds)
}

// unpackTo unpacks ref of l into a fresh directory and returns it.
func unpackTo(t *testing.T, l *layout.Layout, ref string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	if _, err := unpack.Unpack(t.Context(), l, ref, dir, unpack.Options{}); err != nil {
		t.Fatalf("unpack %s: %v", ref, err)
	}
	return dir
}

// assertExampleRestored checks that dir holds exactly what example packed.
func assertExampleRestored(t *testing.T, dir string) {
	t.Helper()
	want := map[string]entry{}
	for _, p := range example {
		for k, v := range snapshot(t, p) {
			want[filepath.Join(filepath.Base(p), k)] = v
		}
	}
	got := snapshot(t, dir)
	assertSameTree(t, want, got)
}

// entry is one file system object of a snapshot.
type entry struct {
	kind string // "file", "dir" or "symlink"
	exec bool   // a regular file with an executable bit
	data string // a file's content or a symlink's target
}

// snapshot describes the tree at root, keyed by slash-separated relative
// path ("." for root itself).
func snapshot(t *testing.T, root string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[filepath.ToSlash(rel)] = entry{kind: "symlink", data: target}
		case info.IsDir():
			out[filepath.ToSlash(rel)] = entry{kind: "dir"}
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[filepath.ToSlash(rel)] = entry{kind: "file", exec: info.Mode()&0o111 != 0, data: string(b)}
		default:
			out[filepath.ToSlash(rel)] = entry{kind: info.Mode().Type().String()}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", root, err)
	}
	return out
}

func assertSameTree(t *testing.T, want, got map[string]entry) {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("empty expectation")
	}
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s: missing", p)
		case g.kind != w.kind || g.exec != w.exec:
			t.Errorf("%s: %s (exec %v), want %s (exec %v)", p, g.kind, g.exec, w.kind, w.exec)
		case g.data != w.data:
			t.Errorf("%s: content differs (%d bytes, want %d)", p, len(g.data), len(w.data))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok && p != "." {
			t.Errorf("%s: unexpected", p)
		}
	}
}

// fileBytes reads a file or fails the test.
func fileBytes(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertNotFound checks that err is layout.ErrNotFound.
func assertNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, layout.ErrNotFound) {
		t.Errorf("%s: err = %v, want ErrNotFound", what, err)
	}
}
