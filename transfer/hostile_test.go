package transfer_test

// Registries that misbehave: endless listings, descriptors of impossible
// sizes, manifests of unknown media types; and referrers of the child
// manifests of an image index, which must travel both ways.

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/transfer"
)

// hostileBlob answers a GET or HEAD of content with its digest.
func hostileBlob(w http.ResponseWriter, r *http.Request, mediaType string, b []byte) {
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Docker-Content-Digest", digest.FromBytes(b).String())
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}

// endlessRegistry is a registry on 127.0.0.1 whose tag list of apps/endless
// and referrers list of its one artifact (tag v1) always link to a next
// page, until stopAfter requests of a listing: then it ends, so that a
// client without bounds finishes too (and the test fails, not hangs).
type endlessRegistry struct {
	srv                *httptest.Server
	tagReqs, referReqs atomic.Int64
	manifest           []byte
	// tagSchema, when > 0, makes the registry answer the referrers API
	// with 404, as Distribution does, and list this many referrers under
	// the referrers tag schema instead.
	tagSchema int
}

func startEndlessRegistry(t *testing.T, tagsPerPage, stopAfter, tagSchema int) *endlessRegistry {
	t.Helper()
	e := &endlessRegistry{tagSchema: tagSchema}
	cfg := ocispec.DescriptorEmptyJSON
	layer := []byte("endless")
	ld := content.NewDescriptorFromBytes("application/octet-stream", layer)
	e.manifest, _ = json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{ld}})
	md := digest.FromBytes(e.manifest)
	const base = "/v2/apps/endless/"
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/v2/" || p == "/v2":
			w.Write([]byte("{}"))
		case p == base+"tags/list":
			n := int(e.tagReqs.Add(1))
			tags := make([]string, tagsPerPage)
			for i := range tags {
				tags[i] = fmt.Sprintf("p%d-%d", n, i)
			}
			if n < stopAfter {
				w.Header().Set("Link", fmt.Sprintf(`<%stags/list?n=%d&last=p%d>; rel="next"`, base, tagsPerPage, n))
			}
			json.NewEncoder(w).Encode(map[string]any{"name": "apps/endless", "tags": tags})
		case strings.HasPrefix(p, base+"referrers/") && e.tagSchema > 0:
			e.referReqs.Add(1)
			http.NotFound(w, r)
		case p == base+"manifests/sha256-"+md.Encoded() && e.tagSchema > 0:
			e.referReqs.Add(1)
			refs := make([]ocispec.Descriptor, e.tagSchema)
			for i := range refs {
				refs[i] = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString(fmt.Sprint(i)), Size: 300}
			}
			b, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: refs})
			hostileBlob(w, r, ocispec.MediaTypeImageIndex, b)
		case strings.HasPrefix(p, base+"referrers/"):
			n := int(e.referReqs.Add(1))
			if n < stopAfter {
				w.Header().Set("Link", fmt.Sprintf(`<%s?page=%d>; rel="next"`, p, n))
			}
			w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
			json.NewEncoder(w).Encode(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}})
		case p == base+"manifests/v1" || p == base+"manifests/"+md.String():
			hostileBlob(w, r, ocispec.MediaTypeImageManifest, e.manifest)
		case p == base+"blobs/"+cfg.Digest.String():
			hostileBlob(w, r, cfg.MediaType, cfg.Data)
		case p == base+"blobs/"+ld.Digest.String():
			hostileBlob(w, r, ld.MediaType, layer)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}`))
		}
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *endlessRegistry) ref(t *testing.T, s string) string {
	return strings.TrimPrefix(e.srv.URL, "http://") + "/" + s
}

// TestPullTagsEndlessPages: a tag list whose every page links to a next
// one ends in ErrTooManyPages after MaxTagPages pages (empty pages) or
// MaxTags tags (full pages), and nothing is pulled.
func TestPullTagsEndlessPages(t *testing.T) {
	for _, tc := range []struct {
		name      string
		perPage   int
		wantPages int
		wantWord  string
	}{
		{"empty pages", 0, transfer.MaxTagPages, "pages"},
		{"full pages", 1000, transfer.MaxTags/1000 + 1, "tags"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			e := startEndlessRegistry(t, tc.perPage, tc.wantPages+200, 0)
			ref, err := transfer.ParseReference(e.ref(t, "apps/endless"))
			if err != nil {
				t.Fatal(err)
			}
			l := testkit.NewLayout(t)
			err = transfer.PullTags(ctx, ref, l, nil, transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, Retry: transfer.RetryOptions{Attempts: 1}}, nil)
			n := e.tagReqs.Load()
			t.Logf("after %d requests: %v", n, err)
			if !errors.Is(err, transfer.ErrTooManyPages) {
				t.Fatalf("pull of every tag after %d tag list requests: err = %v, want ErrTooManyPages", n, err)
			}
			if n > int64(tc.wantPages)+3 {
				t.Errorf("%d tag list requests, want at most %d", n, tc.wantPages+3)
			}
			msg := err.Error()
			if !strings.Contains(msg, ref.Registry) || !strings.Contains(msg, "refusing") || !strings.Contains(msg, tc.wantWord) {
				t.Errorf("error %q does not name the registry, the bound (%s) and the refusal", msg, tc.wantWord)
			}
			if tags, _ := l.Tags(ctx); len(tags) != 0 {
				t.Errorf("layout tagged %v", tags)
			}
		})
	}
}

// TestPullReferrersEndlessPages: a referrers list whose every page links to
// a next one ends in ErrTooManyPages after MaxReferrerPages pages, and
// nothing is tagged.
func TestPullReferrersEndlessPages(t *testing.T) {
	ctx := testCtx(t)
	e := startEndlessRegistry(t, 1, transfer.MaxReferrerPages+200, 0)
	ref, err := transfer.ParseReference(e.ref(t, "apps/endless:v1"))
	if err != nil {
		t.Fatal(err)
	}
	l := testkit.NewLayout(t)
	_, err = transfer.Pull(ctx, ref, l, "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, Retry: transfer.RetryOptions{Attempts: 1}, Referrers: true})
	n := e.referReqs.Load()
	t.Logf("after %d requests: %v", n, err)
	if !errors.Is(err, transfer.ErrTooManyPages) {
		t.Fatalf("pull --referrers after %d referrers requests: err = %v, want ErrTooManyPages", n, err)
	}
	if n > transfer.MaxReferrerPages+3 {
		t.Errorf("%d referrers requests, want at most %d", n, transfer.MaxReferrerPages+3)
	}
	if msg := err.Error(); !strings.Contains(msg, "refusing") || !strings.Contains(msg, "referrer") {
		t.Errorf("error %q does not say what it refused", msg)
	}
	if tags, _ := l.Tags(ctx); len(tags) != 0 {
		t.Errorf("layout tagged %v", tags)
	}
}

// TestPullReferrersTagSchemaBounded: a registry without the referrers API
// (as Distribution) whose referrers tag lists more than MaxReferrers
// referrers is refused with ErrTooManyPages, before any of them is fetched.
func TestPullReferrersTagSchemaBounded(t *testing.T) {
	ctx := testCtx(t)
	e := startEndlessRegistry(t, 1, 10, transfer.MaxReferrers+1)
	ref, err := transfer.ParseReference(e.ref(t, "apps/endless:v1"))
	if err != nil {
		t.Fatal(err)
	}
	l := testkit.NewLayout(t)
	_, err = transfer.Pull(ctx, ref, l, "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, Retry: transfer.RetryOptions{Attempts: 1}, Referrers: true})
	t.Logf("after %d referrers requests: %v", e.referReqs.Load(), err)
	if !errors.Is(err, transfer.ErrTooManyPages) || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("pull --referrers: err = %v, want ErrTooManyPages", err)
	}
	if n := e.referReqs.Load(); n > 3 {
		t.Errorf("%d referrers requests, want at most 3", n)
	}
}

// layoutFiles lists index.json's content and every file under blobs/.
func layoutFiles(t *testing.T, l *layout.Layout) (string, []string) {
	t.Helper()
	idx := string(testkit.ReadFile(t, filepath.Join(l.Path(), "index.json")))
	var files []string
	filepath.WalkDir(filepath.Join(l.Path(), "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	slices.Sort(files)
	return idx, files
}

// TestPullRefusesNegativeSize: a manifest whose layer descriptor says size
// -1 is refused, naming the layer, before any byte of the layer is
// fetched; the layout stays as it was.
func TestPullRefusesNegativeSize(t *testing.T) {
	ctx := testCtx(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	proxy := testkit.StartProxy(t, reg.URL, testkit.ProxyOptions{})
	repo := reg.Repository(t, "apps/neg")
	data := make([]byte, 1<<20)
	rand.Read(data)
	layer := content.NewDescriptorFromBytes("application/octet-stream", data)
	if err := repo.Push(ctx, layer, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := repo.Push(ctx, ocispec.DescriptorEmptyJSON, bytes.NewReader(ocispec.DescriptorEmptyJSON.Data)); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{-1, layout.MaxBlobSize + 1} {
		bad := layer
		bad.Size = size
		tag := fmt.Sprintf("size%d", size)
		testkit.PushJSON(t, repo, ocispec.MediaTypeImageManifest, ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: ocispec.DescriptorEmptyJSON, Layers: []ocispec.Descriptor{bad}}, tag)

		l := testkit.NewLayout(t)
		packPaths(t, l, "keep", "../testdata/example/hello-0.1.0.tgz")
		idx, files := layoutFiles(t, l)
		before := proxy.Stats().Down
		ref, err := transfer.ParseReference(proxy.Host + "/apps/neg:" + tag)
		if err != nil {
			t.Fatal(err)
		}
		_, err = transfer.Pull(ctx, ref, l, tag, transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, Retry: transfer.RetryOptions{Attempts: 1}})
		down := proxy.Stats().Down - before
		t.Logf("%d bytes received: %v", down, err)
		if !errors.Is(err, transfer.ErrInvalidDescriptor) || !strings.Contains(err.Error(), layer.Digest.String()) {
			t.Errorf("size %d: pull (%d bytes received): err = %v, want ErrInvalidDescriptor naming %s", size, down, err, layer.Digest)
		}
		if down >= int64(len(data)) {
			t.Errorf("size %d: %d bytes received: the layer was downloaded", size, down)
		}
		if i, f := layoutFiles(t, l); i != idx || !slices.Equal(f, files) {
			t.Errorf("size %d: layout changed:\nindex.json %s\nwas %s\nblobs %v\nwere %v", size, i, idx, f, files)
		}
	}
}

// TestPullRefusesUnknownMediaType: an index that lists a manifest of a
// media type ocipack cannot read is refused before it is tagged; the layout
// verifies and GC collects what the pull stored.
func TestPullRefusesUnknownMediaType(t *testing.T) {
	ctx := testCtx(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	src := testkit.NewLayout(t)
	packed := packPaths(t, src, "v1", "../testdata/example/hello-0.1.0.tgz")
	ref := regRef(t, reg, "apps/odd:v1")
	if _, err := transfer.Push(ctx, src, "v1", ref, "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}}); err != nil {
		t.Fatal(err)
	}
	// The manifest also as a plain blob, so that a client that takes it
	// for one can fetch it; Distribution accepts an index whose child
	// descriptor claims any media type.
	repo := reg.Repository(t, "apps/odd")
	mb := testkit.ReadFile(t, filepath.Join(src.Path(), "blobs", "sha256", packed.Manifest.Digest.Encoded()))
	odd := ocispec.Descriptor{MediaType: "application/vnd.example.unknown+json", Digest: packed.Manifest.Digest, Size: packed.Manifest.Size}
	if err := repo.Blobs().Push(ctx, odd, bytes.NewReader(mb)); err != nil {
		t.Fatal(err)
	}
	testkit.PushJSON(t, repo, ocispec.MediaTypeImageIndex, ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{odd}}, "odd")

	l := testkit.NewLayout(t)
	packPaths(t, l, "keep", "../testdata/example/site")
	_, err := transfer.Pull(ctx, regRef(t, reg, "apps/odd:odd"), l, "odd", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, Retry: transfer.RetryOptions{Attempts: 1}})
	t.Log(err)
	if !errors.Is(err, transfer.ErrUnsupportedGraph) || !strings.Contains(err.Error(), "application/vnd.example.unknown+json") {
		t.Errorf("pull: err = %v, want ErrUnsupportedGraph naming the media type", err)
	}
	if tags, _ := l.Tags(ctx); len(tags) != 1 || tags[0].Tag != "keep" {
		t.Errorf("tags = %+v, want only keep", tags)
	}
	rep, err := l.Check(ctx, layout.CheckOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("check after the refused pull: %v, %+v", err, rep)
	}
	// The pull holds l for writing until it is closed.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = layout.Open(ctx, l.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.GC(ctx, layout.GCOptions{}); err != nil {
		t.Fatalf("gc: %v", err)
	}
	if rep, err := l.Check(ctx, layout.CheckOptions{}); err != nil || !rep.Clean() {
		t.Errorf("check after gc: %v, %+v", err, rep)
	}
}

// multiPlatform stores in l an index of two image manifests (packed as
// tags a and b), tagged multi, with an SBOM of the first child and one of
// the index. It returns the index, the child and the two SBOMs.
func multiPlatform(t *testing.T, l *layout.Layout) (idx, child, childSBOM, idxSBOM ocispec.Descriptor) {
	t.Helper()
	a := packPaths(t, l, "a", "../testdata/example/hello-0.1.0.tgz").Manifest
	b := packPaths(t, l, "b", "../testdata/example/site").Manifest
	a.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	b.Platform = &ocispec.Platform{OS: "linux", Architecture: "arm64"}
	a.Annotations, b.Annotations = nil, nil
	idx = testkit.PushJSON(t, l, ocispec.MediaTypeImageIndex, ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{a, b}}, "multi")
	for _, tag := range []string{"a", "b"} {
		if err := l.Untag(t.Context(), tag); err != nil {
			t.Fatal(err)
		}
	}
	a.Platform = nil
	return idx, a, addNote(t, l, a, "of the amd64 image"), addNote(t, l, idx, "of the index")
}

// addNote stores in l an artifact whose subject is subject and whose one
// layer is text, as layout.Push stores referrers (listed untagged).
func addNote(t *testing.T, l *layout.Layout, subject ocispec.Descriptor, text string) ocispec.Descriptor {
	t.Helper()
	return testkit.PushReferrer(t, l, subject, "application/vnd.example.note.v1", "text/plain", []byte(text))
}

// assertReferrer checks that the referrers of subject listed by list are
// exactly want.
func assertReferrer(t *testing.T, where string, got []ocispec.Descriptor, err error, subject string, want ocispec.Descriptor) {
	t.Helper()
	if err != nil || len(got) != 1 || got[0].Digest != want.Digest {
		var ds []digest.Digest
		for _, d := range got {
			ds = append(ds, d.Digest)
		}
		t.Errorf("%s: referrers of the %s = %v, %v; want %s", where, subject, ds, err, want.Digest)
	}
}

// TestReferrersOfChildManifests: with Referrers, a push and a pull of an
// image index carry the referrers of its child manifests along with those
// of the index.
func TestReferrersOfChildManifests(t *testing.T) {
	ctx := testCtx(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	src := testkit.NewLayout(t)
	idx, child, childSBOM, idxSBOM := multiPlatform(t, src)
	opts := transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, Retry: transfer.RetryOptions{Attempts: 1}, Referrers: true}

	// Push.
	if _, err := transfer.Push(ctx, src, "multi", regRef(t, reg, "apps/multi:v1"), "v1", opts); err != nil {
		t.Fatalf("push --referrers: %v", err)
	}
	repo := reg.Repository(t, "apps/multi")
	rs := registryReferrers(t, ctx, repo, child)
	assertReferrer(t, "registry after push", rs, nil, "child", childSBOM)
	rs = registryReferrers(t, ctx, repo, idx)
	assertReferrer(t, "registry after push", rs, nil, "index", idxSBOM)

	// Pull, from a repository filled by oras-go itself, so that the pull
	// is tested on its own.
	other := reg.Repository(t, "apps/direct")
	if _, err := oras.Copy(ctx, src, "multi", other, "v1", oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
	for _, s := range []ocispec.Descriptor{childSBOM, idxSBOM} {
		if err := oras.CopyGraph(ctx, src, other, s, oras.DefaultCopyGraphOptions); err != nil {
			t.Fatal(err)
		}
	}
	dst := testkit.NewLayout(t)
	if _, err := transfer.Pull(ctx, regRef(t, reg, "apps/direct:v1"), dst, "v1", opts); err != nil {
		t.Fatalf("pull --referrers: %v", err)
	}
	got, err := dst.Predecessors(ctx, child)
	assertReferrer(t, "layout after pull", got, err, "child", childSBOM)
	got, err = dst.Predecessors(ctx, idx)
	assertReferrer(t, "layout after pull", got, err, "index", idxSBOM)
	if rep, err := dst.Check(ctx, layout.CheckOptions{}); err != nil || !rep.Clean() {
		t.Errorf("check of the pulled layout: %v, %+v", err, rep)
	}
}
