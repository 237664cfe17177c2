package transfer_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/errdef"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/transfer"
)

// TestPushPullAnonymous packs the example, pushes it to a registry without
// auth, pulls it into a fresh layout and unpacks it: the same manifest, the
// same bytes, and a Result that counts what moved.
func TestPushPullAnonymous(t *testing.T) {
	ctx := testCtx(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	src, g, packed := packExample(t)
	if len(g.blobs) != len(example)+1 {
		t.Fatalf("packed %d blobs, want %d layers and a config", len(g.blobs), len(example))
	}

	ref := regRef(t, reg, "apps/bundle:v1")
	var ev events
	res, err := transfer.Push(ctx, src, "v1", ref, "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, OnEvent: ev.on})
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	want := transfer.Result{Copied: len(g.blobs), Skipped: 0, Manifests: 1, Bytes: g.blobBytes() + g.manifest.Size, Attempts: 1}
	if res.Copied != want.Copied || res.Skipped != want.Skipped || res.Manifests != want.Manifests || res.Bytes != want.Bytes || res.Attempts != want.Attempts {
		t.Errorf("push result = copied %d skipped %d manifests %d bytes %d attempts %d, want %d %d %d %d %d",
			res.Copied, res.Skipped, res.Manifests, res.Bytes, res.Attempts,
			want.Copied, want.Skipped, want.Manifests, want.Bytes, want.Attempts)
	}
	if res.Manifest.Digest != packed.Manifest.Digest {
		t.Errorf("push result manifest %s, want %s", res.Manifest.Digest, packed.Manifest.Digest)
	}
	wantDone := append(g.digests(), g.manifest.Digest)
	slices.Sort(wantDone)
	if got := ev.digests(transfer.BlobDone); !slices.Equal(got, wantDone) {
		t.Errorf("BlobDone events for %v, want %v", got, wantDone)
	}
	if got := ev.digests(transfer.BlobSkipped); len(got) != 0 {
		t.Errorf("BlobSkipped events for %v on a first push", got)
	}

	// What the registry holds, seen by a client that is not ours.
	direct := reg.Repository(t, "apps/bundle")
	if d, err := direct.Resolve(ctx, "v1"); err != nil || d.Digest != packed.Manifest.Digest {
		t.Fatalf("registry v1 = %v, %v; want %s", d.Digest, err, packed.Manifest.Digest)
	}
	for _, b := range g.blobs {
		if ok, err := direct.Exists(ctx, b); err != nil || !ok {
			t.Errorf("registry lacks blob %s (%v)", b.Digest, err)
		}
	}

	dst := testkit.NewLayout(t)
	res, err = transfer.Pull(ctx, ref, dst, "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}})
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	if res.Manifest.Digest != packed.Manifest.Digest || res.Copied != len(g.blobs) || res.Skipped != 0 ||
		res.Manifests != 1 || res.Bytes != g.blobBytes()+g.manifest.Size || res.Attempts != 1 {
		t.Errorf("pull result = %+v", res)
	}
	if d, err := dst.Resolve(ctx, "v1"); err != nil || d.Digest != packed.Manifest.Digest {
		t.Fatalf("pulled v1 = %v, %v; want %s", d.Digest, err, packed.Manifest.Digest)
	}
	assertExampleRestored(t, unpackTo(t, dst, "v1"))
}

// TestPushAgainSkipsEverything pushes twice: the second push sends only the
// manifest. Pulling into a layout that has another tag adds v1 and leaves
// the other tag as it was; pulling again moves nothing.
func TestPushAgainSkipsEverything(t *testing.T) {
	ctx := testCtx(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	src, g, _ := packExample(t)
	ref := regRef(t, reg, "apps/bundle:v1")
	opts := transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}}
	if _, err := transfer.Push(ctx, src, "v1", ref, "v1", opts); err != nil {
		t.Fatal(err)
	}

	var ev events
	opts.OnEvent = ev.on
	res, err := transfer.Push(ctx, src, "v1", ref, "v1", opts)
	if err != nil {
		t.Fatalf("second push: %v", err)
	}
	if res.Copied != 0 || res.Skipped != len(g.blobs) || res.Bytes != g.manifest.Size || res.Manifests != 1 || res.Attempts != 1 {
		t.Errorf("second push = copied %d skipped %d bytes %d manifests %d attempts %d; want 0, %d, %d (the manifest), 1, 1",
			res.Copied, res.Skipped, res.Bytes, res.Manifests, res.Attempts, len(g.blobs), g.manifest.Size)
	}
	if got := ev.digests(transfer.BlobSkipped); !slices.Equal(got, g.digests()) {
		t.Errorf("BlobSkipped events for %v, want %v", got, g.digests())
	}
	if got := ev.digests(transfer.BlobDone); !slices.Equal(got, []digest.Digest{g.manifest.Digest}) {
		t.Errorf("BlobDone events for %v, want only the manifest %s", got, g.manifest.Digest)
	}

	// The destination already has another tag, which shares two blobs
	// (the empty config and hello-0.1.0.tgz) with v1.
	dst := testkit.NewLayout(t)
	packPaths(t, dst, "other", "../testdata/example/hello-0.1.0.tgz")
	before, err := dst.Resolve(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	res, err = transfer.Pull(ctx, ref, dst, "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}})
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	if res.Copied != len(g.blobs)-2 || res.Skipped != 2 {
		t.Errorf("pull into a layout sharing 2 blobs: copied %d skipped %d, want %d and 2", res.Copied, res.Skipped, len(g.blobs)-2)
	}
	after, err := dst.Resolve(ctx, "other")
	if err != nil {
		t.Fatalf("the other tag is gone: %v", err)
	}
	if after.Digest != before.Digest || after.Size != before.Size || after.MediaType != before.MediaType {
		t.Errorf("the other tag changed: %+v, was %+v", after, before)
	}
	if names := testkit.Tags(t, dst); !slices.Equal(names, []string{"other", "v1"}) {
		t.Errorf("tags after pull = %v, want [other v1]", names)
	}
	if d, _ := dst.Resolve(ctx, "v1"); d.Digest != g.manifest.Digest {
		t.Errorf("v1 = %s, want %s", d.Digest, g.manifest.Digest)
	}
	// The other artifact still unpacks.
	out := unpackTo(t, dst, "other")
	if !bytes.Equal(testkit.ReadFile(t, filepath.Join(out, "hello-0.1.0.tgz")), testkit.ReadFile(t, "../testdata/example/hello-0.1.0.tgz")) {
		t.Error("the other tag's file changed")
	}

	// Pulling again moves no byte.
	res, err = transfer.Pull(ctx, ref, dst, "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}})
	if err != nil {
		t.Fatalf("second pull: %v", err)
	}
	if res.Copied != 0 || res.Skipped != len(g.blobs) || res.Bytes != 0 {
		t.Errorf("second pull = copied %d skipped %d bytes %d; want 0, %d, 0", res.Copied, res.Skipped, res.Bytes, len(g.blobs))
	}
}

// TestPushRetag pushes under another tag and by digest only: a digest-only
// push (dstTag "") must not create a tag in the registry.
func TestPushRetag(t *testing.T) {
	ctx := testCtx(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	src := testkit.NewLayout(t)
	packed := packPaths(t, src, "v1", "../testdata/example/hello-0.1.0.tgz")
	opts := transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}}
	direct := reg.Repository(t, "charts/hello")

	if _, err := transfer.Push(ctx, src, "v1", regRef(t, reg, "charts/hello"), "stable", opts); err != nil {
		t.Fatal(err)
	}
	if _, err := transfer.Push(ctx, src, packed.Manifest.Digest.String(), regRef(t, reg, "charts/hello"), "", opts); err != nil {
		t.Fatal(err)
	}
	// By digest from a tag, with no destination tag: documented as
	// "copies by digest only".
	res, err := transfer.Push(ctx, src, "v1", regRef(t, reg, "charts/hello"), "", opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Digest != packed.Manifest.Digest {
		t.Errorf("manifest %s, want %s", res.Manifest.Digest, packed.Manifest.Digest)
	}
	var tags []string
	if err := direct.Tags(ctx, "", func(ts []string) error { tags = append(tags, ts...); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tags, []string{"stable"}) {
		t.Errorf("registry tags = %v, want only [stable]", tags)
	}
	if _, err := direct.Resolve(ctx, packed.Manifest.Digest.String()); err != nil {
		t.Errorf("manifest not in the registry by digest: %v", err)
	}
}

// TestPullOrasPushed pulls an artifact that oras-go itself packed and
// pushed (the `oras push` format) and unpacks it.
func TestPullOrasPushed(t *testing.T) {
	ctx := testCtx(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	mem := memory.New()
	files := map[string][]byte{
		"app-1.0.tar":     testkit.ReadFile(t, "../testdata/example/app-1.0.tar"),
		"hello-0.1.0.tgz": testkit.ReadFile(t, "../testdata/example/hello-0.1.0.tgz"),
		"notes.txt":       []byte("pushed by oras-go\n"),
	}
	names := []string{"app-1.0.tar", "hello-0.1.0.tgz", "notes.txt"}
	var layers []ocispec.Descriptor
	for _, name := range names {
		d := content.NewDescriptorFromBytes("application/vnd.oci.image.layer.v1.tar", files[name])
		d.Annotations = map[string]string{ocispec.AnnotationTitle: name}
		if err := mem.Push(ctx, d, bytes.NewReader(files[name])); err != nil {
			t.Fatal(err)
		}
		layers = append(layers, d)
	}
	m, err := oras.PackManifest(ctx, mem, oras.PackManifestVersion1_1, "application/vnd.example.oras.v1",
		oras.PackManifestOptions{Layers: layers})
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.Tag(ctx, m, "1.0"); err != nil {
		t.Fatal(err)
	}
	if _, err := oras.Copy(ctx, mem, "1.0", reg.Repository(t, "oras/pushed"), "1.0", oras.DefaultCopyOptions); err != nil {
		t.Fatalf("oras.Copy: %v", err)
	}

	dst := testkit.NewLayout(t)
	res, err := transfer.Pull(ctx, regRef(t, reg, "oras/pushed:1.0"), dst, "1.0", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}})
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	if res.Manifest.Digest != m.Digest || res.Copied != len(layers)+1 {
		t.Errorf("pull = manifest %s, copied %d; want %s, %d", res.Manifest.Digest, res.Copied, m.Digest, len(layers)+1)
	}
	out := unpackTo(t, dst, "1.0")
	for _, name := range names {
		if got := testkit.ReadFile(t, filepath.Join(out, name)); !bytes.Equal(got, files[name]) {
			t.Errorf("%s: %d bytes differ from the %d pushed", name, len(got), len(files[name]))
		}
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != len(names) {
		t.Errorf("unpacked %d entries, want %d", len(entries), len(names))
	}
}

// TestConcurrentManyBlobs copies an artifact of many small files with
// several blobs in flight at once.
func TestConcurrentManyBlobs(t *testing.T) {
	ctx := testCtx(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	dir := t.TempDir()
	var paths []string
	for i := range 40 {
		p := filepath.Join(dir, fmt.Sprintf("file-%02d.txt", i))
		testkit.WriteFile(t, p, []byte(strings.Repeat(fmt.Sprintf("file %d\n", i), i+1)))
		paths = append(paths, p)
	}
	src := testkit.NewLayout(t)
	packPaths(t, src, "many", paths...)
	g := graphOf(t, src, "many")
	ref := regRef(t, reg, "apps/many:many")
	opts := transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, Concurrency: transfer.ConcurrencyOptions{Blobs: 8, Tags: 8}}
	var ev events
	opts.OnEvent = ev.on
	res, err := transfer.Push(ctx, src, "many", ref, "many", opts)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if res.Copied != len(g.blobs) || res.Bytes != g.blobBytes()+g.manifest.Size {
		t.Errorf("push = copied %d bytes %d; want %d, %d", res.Copied, res.Bytes, len(g.blobs), g.blobBytes()+g.manifest.Size)
	}
	if got := ev.digests(transfer.BlobDone); len(got) != len(g.blobs)+1 {
		t.Errorf("%d blobs reported done, want %d", len(got), len(g.blobs)+1)
	}

	dst := testkit.NewLayout(t)
	opts.OnEvent = nil
	res, err = transfer.Pull(ctx, ref, dst, "many", opts)
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	if res.Manifest.Digest != g.manifest.Digest || res.Copied != len(g.blobs) {
		t.Errorf("pull = %s, copied %d", res.Manifest.Digest, res.Copied)
	}
	out := unpackTo(t, dst, "many")
	for _, p := range paths {
		if !bytes.Equal(testkit.ReadFile(t, filepath.Join(out, filepath.Base(p))), testkit.ReadFile(t, p)) {
			t.Errorf("%s differs", filepath.Base(p))
		}
	}
}

// TestPullMissing names a tag the registry does not have.
func TestPullMissing(t *testing.T) {
	ctx := testCtx(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	dst := testkit.NewLayout(t)
	res, err := transfer.Pull(ctx, regRef(t, reg, "apps/none:v9"), dst, "v9", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, Retry: transfer.RetryOptions{Wait: 1}})
	if !errors.Is(err, errdef.ErrNotFound) {
		t.Fatalf("pull of a missing tag: %v, want ErrNotFound", err)
	}
	if res != nil && res.Attempts > 1 {
		t.Errorf("a missing tag was tried %d times", res.Attempts)
	}
	if _, err := dst.Resolve(ctx, "v9"); err == nil {
		t.Error("a failed pull tagged the layout")
	}
}

// TestBlobPlannedBeforeFirstStart: a copy reports every blob of the graph
// as planned before the first blob starts, so that a progress line can
// show a total that does not grow; both ways.
func TestBlobPlannedBeforeFirstStart(t *testing.T) {
	ctx := testCtx(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	src, g, _ := packExample(t)

	check := func(what string, ev *events) {
		t.Helper()
		var planned int64
		n := 0
		for _, e := range ev.all {
			if e.Kind == transfer.BlobStarted {
				break
			}
			if e.Kind == transfer.BlobPlanned {
				planned += e.Descriptor.Size
				n++
			}
		}
		if n != len(g.blobs) || planned != g.blobBytes() {
			t.Errorf("%s: %d blob(s) of %d bytes planned before the first started, want %d of %d", what, n, planned, len(g.blobs), g.blobBytes())
		}
		if got := ev.digests(transfer.BlobPlanned); len(got) != n {
			t.Errorf("%s: %d distinct blobs planned, %d planned before the first started", what, len(got), n)
		}
	}
	ref := regRef(t, reg, "apps/bundle:v1")
	var push events
	if _, err := transfer.Push(ctx, src, "v1", ref, "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, OnEvent: push.on}); err != nil {
		t.Fatalf("push: %v", err)
	}
	check("push", &push)
	var pull events
	if _, err := transfer.Pull(ctx, ref, testkit.NewLayout(t), "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, OnEvent: pull.on}); err != nil {
		t.Fatalf("pull: %v", err)
	}
	check("pull", &pull)
}
