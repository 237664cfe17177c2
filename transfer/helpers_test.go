package transfer_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"

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
	desc, m := testkit.Manifest(t, l, ref)
	return graph{manifest: desc, blobs: append([]ocispec.Descriptor{m.Config}, m.Layers...)}
}

// packExample packs the example files into a new layout as v1 and returns
// the layout, v1's graph and what Pack reported.
func packExample(t *testing.T) (*layout.Layout, graph, *pack.Result) {
	t.Helper()
	src := testkit.NewLayout(t)
	res := packPaths(t, src, "v1", example...)
	return src, graphOf(t, src, "v1"), res
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

// count returns how many events of kind d had.
func (e *events) count(kind transfer.EventKind, d digest.Digest) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.Kind == kind && ev.Descriptor.Digest == d {
			n++
		}
	}
	return n
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
	testkit.SameTree(t, dir, testkit.SnapshotPaths(t, example...), testkit.Snapshot(t, dir), testkit.ContentExec)
}

// assertNotFound checks that err is layout.ErrNotFound.
func assertNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, layout.ErrNotFound) {
		t.Errorf("%s: err = %v, want ErrNotFound", what, err)
	}
}
