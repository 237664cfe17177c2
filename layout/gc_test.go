package layout_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

// ckGC closes l (a Layout that wrote holds GC off until closed) and
// collects.
func ckGC(t *testing.T, l *layout.Layout, dryRun bool) *layout.GCReport {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := l.GC(context.Background(), layout.GCOptions{DryRun: dryRun})
	if err != nil {
		t.Fatalf("GC: %v", err)
	}
	if rep.DryRun != dryRun {
		t.Errorf("report DryRun %v, want %v", rep.DryRun, dryRun)
	}
	return rep
}

func ckRemoved(rep *layout.GCReport) []digest.Digest {
	var out []digest.Digest
	for _, r := range rep.Removed {
		out = append(out, r.Digest)
	}
	return ckSorted(out...)
}

// ckPresent reports whether the blob d is stored.
func ckPresent(l *layout.Layout, d digest.Digest) bool {
	_, err := os.Lstat(l.BlobPath(d))
	return err == nil
}

func ckRequirePresent(t *testing.T, l *layout.Layout, ds ...digest.Digest) {
	t.Helper()
	for _, d := range ds {
		if !ckPresent(l, d) {
			t.Errorf("blob %s was removed", d)
		}
	}
}

func ckRequireGone(t *testing.T, l *layout.Layout, ds ...digest.Digest) {
	t.Helper()
	for _, d := range ds {
		if ckPresent(l, d) {
			t.Errorf("blob %s is still there", d)
		}
	}
}

func TestGCNothingToCollect(t *testing.T) {
	c := newCkLayout(t)
	rep := ckGC(t, c.l, false)
	if len(rep.Removed) != 0 || rep.BytesFreed != 0 || rep.TempFiles != 0 || len(rep.IndexEntries) != 0 {
		t.Errorf("collected from a clean layout: %+v", rep)
	}
	if n := len(testkit.BlobFiles(t, c.l.Path())); n != 5 {
		t.Errorf("%d blobs left, want 5", n)
	}
}

// TestGCAfterUntag: gc removes an untagged artifact's manifest and layer,
// keeps the config it shares with a tagged one, and leaves a layout that
// checks clean. What Check listed as unreferenced is what gc removes.
func TestGCAfterUntag(t *testing.T) {
	c := newCkLayout(t)
	ctx := context.Background()
	if err := c.l.Untag(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	before := ckCheck(t, c.l, layout.CheckOptions{})
	var warned []digest.Digest
	for _, w := range before.Warnings {
		warned = append(warned, w.Digest)
	}

	rep := ckGC(t, c.l, false)
	want := ckSorted(c.b.manifest.Digest, c.b.layer.Digest)
	if got := ckRemoved(rep); !reflect.DeepEqual(got, want) {
		t.Errorf("removed %v, want %v", got, want)
	}
	if !reflect.DeepEqual(ckSorted(warned...), want) {
		t.Errorf("check warned of %v, gc removed %v", warned, want)
	}
	if rep.BytesFreed != c.b.manifest.Size+c.b.layer.Size {
		t.Errorf("freed %d bytes, want %d", rep.BytesFreed, c.b.manifest.Size+c.b.layer.Size)
	}
	for _, r := range rep.Removed {
		if r.Path != "blobs/sha256/"+r.Digest.Encoded() || r.Size <= 0 {
			t.Errorf("removed %+v", r)
		}
	}
	ckRequireGone(t, c.l, c.b.manifest.Digest, c.b.layer.Digest)
	ckRequirePresent(t, c.l, c.a.manifest.Digest, c.a.layer.Digest, c.a.config.Digest)

	after := ckCheck(t, c.l, layout.CheckOptions{})
	if !after.Clean() || after.Blobs != 3 {
		t.Errorf("after gc: %+v", after)
	}
	if _, err := c.l.Fetch(ctx, c.a.layer); err != nil {
		t.Errorf("a's layer: %v", err)
	}
	// A second run has nothing left to do.
	if again := ckGC(t, c.l, false); len(again.Removed) != 0 {
		t.Errorf("second gc removed %+v", again.Removed)
	}
}

func TestGCKeepsReferrersOfTagged(t *testing.T) {
	c := newCkLayout(t)
	ctx := context.Background()
	sbom := ckPushReferrer(t, c.l, c.a.manifest, "sbom of a")
	sig := ckPushReferrer(t, c.l, sbom, "signature of the sbom")
	sbomM, err := layout.ReadManifest(ctx, c.l, sbom)
	if err != nil {
		t.Fatal(err)
	}
	sigM, err := layout.ReadManifest(ctx, c.l, sig)
	if err != nil {
		t.Fatal(err)
	}
	loose := testkit.Ingest(t, c.l, "application/octet-stream", []byte("loose"))

	rep := ckGC(t, c.l, false)
	if got := ckRemoved(rep); !reflect.DeepEqual(got, []digest.Digest{loose.Digest}) {
		t.Errorf("removed %v, want only the loose blob", got)
	}
	ckRequirePresent(t, c.l, sbom.Digest, sig.Digest, sbomM.Layers[0].Digest, sigM.Layers[0].Digest)
	if refs, err := c.l.Predecessors(ctx, c.a.manifest); err != nil || len(refs) != 1 || refs[0].Digest != sbom.Digest {
		t.Errorf("referrers of a after gc: %v, %v", refs, err)
	}

	// Once a is untagged, its referrers go too, entries and all; b stays.
	if err := c.l.Untag(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	rep = ckGC(t, c.l, false)
	want := ckSorted(c.a.manifest.Digest, c.a.layer.Digest, sbom.Digest, sbomM.Layers[0].Digest, sig.Digest, sigM.Layers[0].Digest)
	if got := ckRemoved(rep); !reflect.DeepEqual(got, want) {
		t.Errorf("removed %v, want %v", got, want)
	}
	var dropped []digest.Digest
	for _, e := range rep.IndexEntries {
		dropped = append(dropped, e.Digest)
	}
	if !reflect.DeepEqual(ckSorted(dropped...), ckSorted(sbom.Digest, sig.Digest)) {
		t.Errorf("index entries dropped: %v", dropped)
	}
	idx := testkit.ReadIndex(t, c.l.Path())
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != c.b.manifest.Digest {
		t.Errorf("index.json after gc: %+v", idx.Manifests)
	}
	ckRequirePresent(t, c.l, c.b.manifest.Digest, c.b.layer.Digest, c.b.config.Digest)
	if rep := ckCheck(t, c.l, layout.CheckOptions{}); !rep.Clean() {
		t.Errorf("after gc: problems:\n%swarnings:\n%s", ckLines(rep.Problems), ckLines(rep.Warnings))
	}
}

// TestGCKeepsUntaggedEntries: entries other tools list in index.json
// without a tag (oras lists every manifest it stores) are kept.
func TestGCKeepsUntaggedEntries(t *testing.T) {
	l := testkit.NewLayout(t)
	art := ckStoreArtifact(t, l, "", "listed without a tag")
	ckEditIndex(t, l, func(idx *ocispec.Index) { idx.Manifests = append(idx.Manifests, art.manifest) })
	rep := ckGC(t, l, false)
	if len(rep.Removed) != 0 {
		t.Errorf("removed %+v", rep.Removed)
	}
	ckRequirePresent(t, l, art.manifest.Digest, art.layer.Digest, art.config.Digest)
}

func TestGCDryRun(t *testing.T) {
	c := newCkLayout(t)
	if err := c.l.Untag(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	ckPushReferrer(t, c.l, c.b.manifest, "sbom of b")
	testkit.WriteFile(t, filepath.Join(c.l.Path(), layout.WorkDir, "tmp", "blob-1"), "partial")
	blobsBefore := testkit.BlobFiles(t, c.l.Path())
	indexBefore := testkit.ReadIndex(t, c.l.Path())

	dry := ckGC(t, c.l, true)
	if len(dry.Removed) != 4 || dry.TempFiles != 1 || len(dry.IndexEntries) != 1 || dry.BytesFreed == 0 {
		t.Errorf("dry run: %+v", dry)
	}
	if got := testkit.BlobFiles(t, c.l.Path()); !reflect.DeepEqual(got, blobsBefore) {
		t.Errorf("dry run removed blobs: %v, was %v", got, blobsBefore)
	}
	if got := testkit.ReadIndex(t, c.l.Path()); !reflect.DeepEqual(got, indexBefore) {
		t.Errorf("dry run changed index.json")
	}
	if got := testkit.TmpFiles(t, c.l.Path()); len(got) != 1 {
		t.Errorf("dry run removed temp files: %v", got)
	}

	wet := ckGC(t, c.l, false)
	wet.DryRun = true
	if !reflect.DeepEqual(dry, wet) {
		t.Errorf("dry run reported\n%+v\nthe wet run\n%+v", dry, wet)
	}
	if got := len(testkit.BlobFiles(t, c.l.Path())); got != len(blobsBefore)-4 {
		t.Errorf("%d blobs left, want %d", got, len(blobsBefore)-4)
	}
}

func TestGCRemovesTempFiles(t *testing.T) {
	c := newCkLayout(t)
	tmp := filepath.Join(c.l.Path(), layout.WorkDir, "tmp")
	testkit.WriteFile(t, filepath.Join(tmp, "blob-1"), "12345")
	testkit.WriteFile(t, filepath.Join(tmp, "blob-2"), "123")
	testkit.WriteFile(t, filepath.Join(c.l.Path(), ".index.json.tmp-42"), "{}")
	rep := ckGC(t, c.l, false)
	if rep.TempFiles != 3 || rep.BytesFreed != 10 {
		t.Errorf("temp files %d, bytes %d; want 3, 10", rep.TempFiles, rep.BytesFreed)
	}
	if got := testkit.TmpFiles(t, c.l.Path()); len(got) != 0 {
		t.Errorf("left in tmp: %v", got)
	}
	if _, err := os.Stat(filepath.Join(c.l.Path(), ".index.json.tmp-42")); err == nil {
		t.Errorf("index.json's temporary file is still there")
	}
	if len(rep.Removed) != 0 {
		t.Errorf("removed blobs: %+v", rep.Removed)
	}
	// The layout is still writable.
	ckStoreArtifact(t, c.l, "after", "written after gc")
}

func TestGCRefuses(t *testing.T) {
	cases := []struct {
		name    string
		corrupt func(t *testing.T, c *ckLayout)
		names   string // the error must name it
	}{
		{"broken index.json", func(t *testing.T, c *ckLayout) {
			testkit.WriteFile(t, filepath.Join(c.l.Path(), "index.json"), `{"schemaVersion": 2, "manifests": [{`)
		}, "index.json"},
		{"missing index.json", func(t *testing.T, c *ckLayout) {
			ckRm(t, filepath.Join(c.l.Path(), "index.json"))
		}, "index.json"},
		{"missing oci-layout", func(t *testing.T, c *ckLayout) {
			ckRm(t, filepath.Join(c.l.Path(), "oci-layout"))
		}, "oci-layout"},
		{"missing tagged manifest", func(t *testing.T, c *ckLayout) {
			ckRm(t, c.l.BlobPath(c.a.manifest.Digest))
		}, "sha256:"},
		{"corrupt tagged manifest", func(t *testing.T, c *ckLayout) {
			testkit.FlipByteMiddle(t, c.l.BlobPath(c.a.manifest.Digest))
		}, "sha256:"},
		{"unparseable manifest", func(t *testing.T, c *ckLayout) {
			testkit.TagBlobAsManifest(t, c.l, "broken", []byte("{not json"))
		}, `tag "broken"`},
		{"unknown media type", func(t *testing.T, c *ckLayout) {
			d := testkit.Ingest(t, c.l, "application/x.weird", []byte("weird"))
			ckEditIndex(t, c.l, func(idx *ocispec.Index) { idx.Manifests = append(idx.Manifests, d) })
		}, "application/x.weird"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCkLayout(t)
			if err := c.l.Untag(context.Background(), "b"); err != nil {
				t.Fatal(err)
			}
			loose := testkit.Ingest(t, c.l, "application/octet-stream", []byte("loose"))
			testkit.WriteFile(t, filepath.Join(c.l.Path(), layout.WorkDir, "tmp", "blob-1"), "partial")
			tc.corrupt(t, c)
			before := testkit.BlobFiles(t, c.l.Path())
			c.l.Close()
			for _, dry := range []bool{true, false} {
				rep, err := c.l.GC(context.Background(), layout.GCOptions{DryRun: dry})
				if err == nil {
					t.Fatalf("GC (dry run %v) collected %+v", dry, rep)
				}
				if !errors.Is(err, layout.ErrCorrupt) && !errors.Is(err, layout.ErrNotLayout) {
					t.Errorf("error does not match ErrCorrupt: %v", err)
				}
				if !strings.Contains(err.Error(), tc.names) {
					t.Errorf("error does not name %s: %v", tc.names, err)
				}
			}
			if got := testkit.BlobFiles(t, c.l.Path()); !reflect.DeepEqual(got, before) {
				t.Errorf("blobs changed: %v, was %v", got, before)
			}
			ckRequirePresent(t, c.l, loose.Digest)
			if got := testkit.TmpFiles(t, c.l.Path()); len(got) != 1 {
				t.Errorf("temp files removed: %v", got)
			}
		})
	}
}

// TestGCWaitsForWriters: a pack in progress (another Layout that stored a
// blob and has not tagged it yet) holds gc off, so gc never removes what it
// is about to tag.
func TestGCWaitsForWriters(t *testing.T) {
	ctx := context.Background()
	gcer := testkit.NewLayout(t) // never writes
	writer := testkit.OpenLayout(t, gcer.Path())
	art := ckStoreArtifact(t, writer, "", "stored, not yet tagged")

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	rep, err := gcer.GC(short, layout.GCOptions{})
	if !errors.Is(err, layout.ErrBusy) {
		t.Fatalf("GC while a writer holds the layout: %+v, %v; want ErrBusy", rep, err)
	}
	ckRequirePresent(t, gcer, art.manifest.Digest, art.layer.Digest, art.config.Digest)

	testkit.Tag(t, writer, art.manifest, "v1")
	if err := writer.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err = gcer.GC(ctx, layout.GCOptions{})
	if err != nil {
		t.Fatalf("GC after the writer closed: %v", err)
	}
	if len(rep.Removed) != 0 {
		t.Errorf("removed %+v", rep.Removed)
	}
	ckRequirePresent(t, gcer, art.manifest.Digest, art.layer.Digest, art.config.Digest)
}

// TestGCWaitsThenRuns: GC given time waits for the writer to close.
func TestGCWaitsThenRuns(t *testing.T) {
	ctx := context.Background()
	gcer := testkit.NewLayout(t)
	writer := testkit.OpenLayout(t, gcer.Path())
	art := ckStoreArtifact(t, writer, "", "stored, not yet tagged")
	done := make(chan error, 1)
	go func() {
		time.Sleep(150 * time.Millisecond)
		if err := writer.Tag(ctx, art.manifest, "v1"); err != nil {
			done <- err
			return
		}
		done <- writer.Close()
	}()
	long, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rep, err := gcer.GC(long, layout.GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(rep.Removed) != 0 {
		t.Errorf("removed %+v", rep.Removed)
	}
	ckRequirePresent(t, gcer, art.manifest.Digest, art.layer.Digest, art.config.Digest)
}

func TestGCRefusesWhileItselfWriting(t *testing.T) {
	c := newCkLayout(t) // c.l wrote, and holds the writing lock
	_, err := c.l.GC(context.Background(), layout.GCOptions{})
	if !errors.Is(err, layout.ErrBusy) {
		t.Fatalf("GC on a writing Layout: %v, want ErrBusy", err)
	}
}

// TestGCIndexOfIndexes: blobs reached through a nested image index are
// kept.
func TestGCIndexOfIndexes(t *testing.T) {
	l := testkit.NewLayout(t)
	art := ckStoreArtifact(t, l, "", "inside an index")
	inner := ckStoreIndex(t, l, art.manifest)
	outer := ckStoreIndex(t, l, inner)
	testkit.Tag(t, l, outer, "multi")
	rep := ckGC(t, l, false)
	if len(rep.Removed) != 0 {
		t.Errorf("removed %+v", rep.Removed)
	}
	if crep := ckCheck(t, l, layout.CheckOptions{}); !crep.Clean() || crep.Manifests != 3 || crep.Blobs != 5 {
		t.Errorf("check: %+v", crep)
	}
	if err := l.Untag(context.Background(), "multi"); err != nil {
		t.Fatal(err)
	}
	rep = ckGC(t, l, false)
	if len(rep.Removed) != 5 || len(testkit.BlobFiles(t, l.Path())) != 0 {
		t.Errorf("removed %+v; left %v", rep.Removed, testkit.BlobFiles(t, l.Path()))
	}
	if !slices.IsSortedFunc(rep.Removed, func(a, b layout.Removed) int { return strings.Compare(a.Path, b.Path) }) {
		t.Errorf("removed not sorted: %+v", rep.Removed)
	}
}

// ckStoreIndex stores an image index listing ms.
func ckStoreIndex(t testing.TB, l *layout.Layout, ms ...ocispec.Descriptor) ocispec.Descriptor {
	t.Helper()
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: ms}
	idx.SchemaVersion = 2
	b := testkit.MustJSON(t, idx)
	return testkit.Ingest(t, l, ocispec.MediaTypeImageIndex, b)
}
