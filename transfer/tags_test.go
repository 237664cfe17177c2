package transfer_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/transfer"
)

// tagsHello is the file every artifact of packTags shares (besides the
// empty config).
const tagsHello = "../testdata/example/hello-0.1.0.tgz"

// packTags packs n artifacts into l, tagged t00, t01, …: each one file of
// its own and tagsHello. It returns the tags and their manifest digests.
func packTags(t *testing.T, l *layout.Layout, n int) ([]string, map[string]digest.Digest) {
	t.Helper()
	return testkit.PackTagged(t, n, tagsHello, func(tag string, paths ...string) digest.Digest {
		return packPaths(t, l, tag, paths...).Manifest.Digest
	})
}

// startTags starts a registry and packs n artifacts with packTags into a
// new layout src; ref is the registry's repository apps/many.
func startTags(t *testing.T, n int) (reg *testkit.Registry, src *layout.Layout, ref registry.Reference, tags []string, want map[string]digest.Digest) {
	t.Helper()
	reg = testkit.StartRegistry(t, testkit.RegistryOptions{})
	src = testkit.NewLayout(t)
	tags, want = packTags(t, src, n)
	return reg, src, regRef(t, reg, "apps/many"), tags, want
}

// pushTags pushes tags of src to ref with PushTags.
func pushTags(t *testing.T, ctx context.Context, src *layout.Layout, ref registry.Reference, tags []string, opts transfer.Options) {
	t.Helper()
	if err := transfer.PushTags(ctx, src, ref, tags, opts, nil); err != nil {
		t.Fatal(err)
	}
}

// tagResults collects what PushTags and PullTags report, checking that
// each is called one call at a time.
type tagResults struct {
	mu      sync.Mutex
	busy    bool
	t       *testing.T
	tags    []string
	results map[string]*transfer.Result
}

func newTagResults(t *testing.T) *tagResults {
	return &tagResults{t: t, results: map[string]*transfer.Result{}}
}

func (r *tagResults) each(tag string, res *transfer.Result) {
	r.mu.Lock()
	if r.busy {
		r.t.Error("each called while another call is running")
	}
	r.busy = true
	r.tags = append(r.tags, tag)
	r.results[tag] = res
	r.busy = false
	r.mu.Unlock()
}

// inOrder checks that each was called for want, in that order.
func (r *tagResults) inOrder(want []string) {
	r.t.Helper()
	if !slices.Equal(r.tags, want) {
		r.t.Errorf("each called for %v, want %v in that order", r.tags, want)
	}
}

// wantSums checks the blobs copied and skipped over every result of what.
func (r *tagResults) wantSums(what string, copied, skipped int) {
	r.t.Helper()
	c, s := 0, 0
	for _, res := range r.results {
		c += res.Copied
		s += res.Skipped
	}
	if c != copied || s != skipped {
		r.t.Errorf("%s copied %d and skipped %d blobs, want %d and %d", what, c, s, copied, skipped)
	}
}

// copyTags runs run (PushTags or PullTags, given opts and each) with
// opts, collecting the events and the results; it checks that the copy
// succeeds and that each is called for want, in that order.
func copyTags(t *testing.T, what string, want []string, opts transfer.Options, run func(transfer.Options, func(string, *transfer.Result)) error) (*tagResults, *events) {
	t.Helper()
	ev := &events{}
	opts.OnEvent = ev.on
	res := newTagResults(t)
	if err := run(opts, res.each); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	res.inOrder(want)
	return res, ev
}

// registryTags lists the tags of repo as the registry has them.
func registryTags(t *testing.T, repo *remote.Repository) []string {
	t.Helper()
	var tags []string
	if err := repo.Tags(t.Context(), "", func(ts []string) error { tags = append(tags, ts...); return nil }); err != nil {
		t.Fatal(err)
	}
	return tags
}

// TestPushPullTags pushes 30 tags sharing two blobs with PushTags, then
// pulls them all with PullTags into a fresh layout, the listing paginated:
// every tag has the registry's digest and unpacks, and each shared blob
// moved once each way.
func TestPushPullTags(t *testing.T) {
	ctx := testCtx(t)
	transfer.SetTagListPageSize(t, 7)
	reg, src, ref, tags, want := startTags(t, 30)
	opts := transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, Concurrency: transfer.ConcurrencyOptions{Blobs: 8, Tags: 8}}

	pushed, pushEv := copyTags(t, "push tags", tags, opts, func(opts transfer.Options, each func(string, *transfer.Result)) error {
		return transfer.PushTags(ctx, src, ref, tags, opts, each)
	})
	for _, tag := range tags {
		if res := pushed.results[tag]; res == nil || res.Manifest.Digest != want[tag] || res.Manifests != 1 {
			t.Errorf("push %s: result %+v, want manifest %s", tag, res, want[tag])
		}
	}
	// 30 files of their own, the shared file and the config: sent once.
	pushed.wantSums("push tags", 32, 30*3-32)
	hello := graphOf(t, src, "t00").blobs
	for _, b := range hello {
		if n := pushEv.count(transfer.BlobDone, b.Digest); n > 1 {
			t.Errorf("blob %s sent %d times", b.Digest, n)
		}
	}
	direct := reg.Repository(t, "apps/many")
	if got := registryTags(t, direct); !slices.Equal(got, tags) {
		t.Fatalf("registry tags = %v, want %v", got, tags)
	}
	for _, tag := range tags {
		if d, err := direct.Resolve(ctx, tag); err != nil || d.Digest != want[tag] {
			t.Errorf("registry %s = %v, %v; want %s", tag, d.Digest, err, want[tag])
		}
	}

	dst := testkit.NewLayout(t)
	pulled, pullEv := copyTags(t, "pull tags", tags, opts, func(opts transfer.Options, each func(string, *transfer.Result)) error {
		return transfer.PullTags(ctx, ref, dst, nil, opts, each)
	})
	pulled.wantSums("pull tags", 32, 30*3-32)
	for _, b := range hello[:2] {
		if n := pullEv.count(transfer.BlobDone, b.Digest); n != 1 {
			t.Errorf("shared blob %s fetched %d times, want once", b.Digest, n)
		}
	}
	layoutTags, err := dst.Tags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(layoutTags) != len(tags) {
		t.Errorf("layout has %d tags, want %d", len(layoutTags), len(tags))
	}
	// Each entry is named by its full name (as a single pull without a
	// layout tag names it); its plain tag finds it too.
	for i, e := range layoutTags {
		if want := ref.Registry + "/" + ref.Repository + ":" + tags[i]; e.Tag != want {
			t.Errorf("layout entry %d is named %q, want %q", i, e.Tag, want)
		}
	}
	for i, tag := range tags {
		d, err := direct.Resolve(ctx, tag)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := dst.Resolve(ctx, tag); err != nil || got.Digest != d.Digest {
			t.Errorf("pulled %s = %v, %v; registry has %s", tag, got.Digest, err, d.Digest)
		}
		if got, err := dst.Resolve(ctx, ref.Registry+"/"+ref.Repository+":"+tag); err != nil || got.Digest != d.Digest {
			t.Errorf("pulled %s by its full name = %v, %v; registry has %s", tag, got.Digest, err, d.Digest)
		}
		if res := pulled.results[tag]; res == nil || res.Manifest.Digest != d.Digest || res.Manifests != 1 {
			t.Errorf("pull %s: result %+v, want manifest %s", tag, res, d.Digest)
		}
		out := unpackTo(t, dst, tag)
		part := fmt.Sprintf("part-%02d.txt", i)
		if !bytes.Equal(testkit.ReadFile(t, filepath.Join(out, part)), testkit.PartContent(i)) {
			t.Errorf("%s: %s differs", tag, part)
		}
		if !bytes.Equal(testkit.ReadFile(t, filepath.Join(out, "hello-0.1.0.tgz")), testkit.ReadFile(t, tagsHello)) {
			t.Errorf("%s: hello-0.1.0.tgz differs", tag)
		}
	}
	if rep, err := dst.Check(ctx, layout.CheckOptions{}); err != nil || !rep.OK() {
		t.Errorf("pulled layout does not check out: %v %+v", err, rep)
	}
}

// TestPullTagsIntoExistingLayout pulls every tag into a layout that has
// some of them already (under plain tags), one of them on another
// artifact, and a tag of its own: the blobs it had are skipped, every tag
// lands under its full name with the registry's digest, the other
// artifact's plain tag stays on it (a plain tag names the entry of that
// tag before a full name with it), and its own tag is left alone.
func TestPullTagsIntoExistingLayout(t *testing.T) {
	ctx := testCtx(t)
	reg, src, ref, tags, want := startTags(t, 12)
	opts := transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}}
	pushTags(t, ctx, src, ref, tags, opts)

	dst := testkit.NewLayout(t)
	for _, tag := range tags[:4] {
		if _, err := transfer.Pull(ctx, regRef(t, reg, "apps/many:"+tag), dst, tag, opts); err != nil {
			t.Fatal(err)
		}
	}
	other := packPaths(t, dst, "t07", "../testdata/example/app-1.0.tar")
	own := packPaths(t, dst, "local", "../testdata/example/site")

	pulled := newTagResults(t)
	if err := transfer.PullTags(ctx, ref, dst, nil, opts, pulled.each); err != nil {
		t.Fatalf("pull tags: %v", err)
	}
	pulled.inOrder(tags)
	for i, tag := range tags {
		res := pulled.results[tag]
		switch {
		case res == nil:
			t.Errorf("%s: no result", tag)
		case i < 4 && (res.Copied != 0 || res.Skipped != 3):
			t.Errorf("%s was there: copied %d skipped %d, want 0 and 3", tag, res.Copied, res.Skipped)
		case i >= 4 && res.Copied != 1:
			t.Errorf("%s: copied %d, want only its own file", tag, res.Copied)
		}
		full := ref.Registry + "/" + ref.Repository + ":" + tag
		if d, err := dst.Resolve(ctx, full); err != nil || d.Digest != want[tag] {
			t.Errorf("%s = %v, %v; want %s", full, d.Digest, err, want[tag])
		}
		wantPlain := want[tag]
		if tag == "t07" {
			wantPlain = other.Manifest.Digest
		}
		if d, err := dst.Resolve(ctx, tag); err != nil || d.Digest != wantPlain {
			t.Errorf("%s = %v, %v; want %s", tag, d.Digest, err, wantPlain)
		}
	}
	if d, err := dst.Resolve(ctx, "local"); err != nil || d.Digest != own.Manifest.Digest {
		t.Errorf("local = %v, %v; want %s", d.Digest, err, own.Manifest.Digest)
	}
	assertExampleSite(t, unpackTo(t, dst, "local"))
}

// assertExampleSite checks that dir holds the example's site directory.
func assertExampleSite(t *testing.T, dir string) {
	t.Helper()
	testkit.SameTree(t, dir, testkit.SnapshotPaths(t, "../testdata/example/site"), testkit.Snapshot(t, dir), testkit.ContentExec)
}

// TestPullTagsErrorNamesTag: a tag whose blob the registry lost (deleted
// from the repository) fails the pull with an error naming the tag; the
// tags before it (one at a time) are pulled and those after it are not. A
// tag the registry does not have is named too, and PushTags names a tag
// the layout lacks.
func TestPullTagsErrorNamesTag(t *testing.T) {
	ctx := testCtx(t)
	reg, src, ref, tags, _ := startTags(t, 10)
	opts := transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, Retry: transfer.RetryOptions{Attempts: 1}}
	pushTags(t, ctx, src, ref, tags, opts)
	// t05's own file (its first layer) is deleted from the repository.
	lost := graphOf(t, src, "t05").blobs[1]
	if err := reg.Repository(t, "apps/many").Blobs().Delete(ctx, lost); err != nil {
		t.Fatalf("delete blob: %v", err)
	}

	for _, conc := range []int{1, 4} {
		t.Run(fmt.Sprintf("concurrency%d", conc), func(t *testing.T) {
			dst := testkit.NewLayout(t)
			opts := opts
			opts.Concurrency = transfer.ConcurrencyOptions{Blobs: conc, Tags: conc}
			pulled := newTagResults(t)
			err := transfer.PullTags(ctx, ref, dst, nil, opts, pulled.each)
			if err == nil {
				t.Fatal("pull tags succeeded without a blob")
			}
			if msg := err.Error(); !strings.Contains(msg, ":t05") || !strings.Contains(msg, lost.Digest.String()) || strings.Contains(msg, "context canceled") {
				t.Errorf("error does not name t05 and its blob: %v", err)
			}
			if slices.Contains(pulled.tags, "t05") {
				t.Error("each was called for t05")
			}
			if !slices.Equal(pulled.tags, tags[:len(pulled.tags)]) {
				t.Errorf("each called for %v: not in order", pulled.tags)
			}
			if _, err := dst.Resolve(ctx, "t05"); err == nil {
				t.Error("t05 was tagged")
			}
			if conc == 1 {
				if !slices.Equal(pulled.tags, tags[:5]) {
					t.Errorf("one at a time, each called for %v, want %v", pulled.tags, tags[:5])
				}
				for _, tag := range tags[6:] {
					if _, err := dst.Resolve(ctx, tag); err == nil {
						t.Errorf("%s was pulled after the failure", tag)
					}
				}
			}
			for _, tag := range pulled.tags {
				if _, err := dst.Resolve(ctx, tag); err != nil {
					t.Errorf("%s reported but not in the layout: %v", tag, err)
				}
			}
		})
	}

	err := transfer.PullTags(ctx, ref, testkit.NewLayout(t), []string{"t00", "nosuchtag", "t01"}, opts, nil)
	if err == nil || !strings.Contains(err.Error(), "nosuchtag") {
		t.Errorf("pull of a missing tag: %v, want an error naming it", err)
	}
	err = transfer.PushTags(ctx, src, ref, []string{"t00", "notinlayout"}, opts, nil)
	if err == nil || !strings.Contains(err.Error(), "notinlayout") {
		t.Errorf("push of a missing tag: %v, want an error naming it", err)
	}
	err = transfer.PullTags(ctx, regRef(t, reg, "apps/none"), testkit.NewLayout(t), nil, opts, nil)
	if err == nil || !strings.Contains(err.Error(), "apps/none") {
		t.Errorf("pull of a missing repository: %v, want an error naming it", err)
	}
	if err := transfer.PullTags(ctx, regRef(t, reg, "apps/many:t00"), testkit.NewLayout(t), nil, opts, nil); err == nil {
		t.Error("PullTags took a reference with a tag")
	}
}
