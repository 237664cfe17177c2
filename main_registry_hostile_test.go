package main

// Command-line tests against registries that misbehave: a tag list that
// never ends (an httptest server on 127.0.0.1), a layer of negative size
// and an index listing a manifest of an unknown media type (real
// Distribution); and referrers of the child manifests of an index, pushed
// and pulled with --referrers. Every identifier here starts with
// "hostileReg" so as not to clash with the other test files.

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
	"github.com/ocipack/ocipack/transfer"
)

// hostileRegRead reads a file or fails the test.
func hostileRegRead(t *testing.T, p string) []byte {
	t.Helper()
	b := testkit.ReadFile(t, p)
	return b
}

// TestHostileRegAllTagsEndless: pull --all-tags against a registry whose
// tag list always links to a next page stops after MaxTagPages pages with
// one line that says so, and tags nothing.
func TestHostileRegAllTagsEndless(t *testing.T) {
	var reqs atomic.Int64
	stop := int64(transfer.MaxTagPages + 200) // so that an unbounded client ends too
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/":
			w.Write([]byte("{}"))
		case "/v2/apps/endless/tags/list":
			n := reqs.Add(1)
			if n < stop {
				w.Header().Set("Link", fmt.Sprintf(`</v2/apps/endless/tags/list?last=t%d>; rel="next"`, n))
			}
			w.Write([]byte(`{"name":"apps/endless","tags":[]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	dir := filepath.Join(t.TempDir(), "layout")
	r := registryRun(t, nil, "", "pull", "--all-tags", "--plain-http", host+"/apps/endless", dir)
	registryWantFailure(t, r, 1, host, "keeps returning more tag pages", "refusing")
	if n := reqs.Load(); n > transfer.MaxTagPages+3 {
		t.Errorf("%d tag list requests, want at most %d", n, transfer.MaxTagPages+3)
	}
}

// TestHostileRegNegativeSize: pull of a manifest whose layer says size -1
// fails on one line naming the layer; the layout is as it was and verifies.
func TestHostileRegNegativeSize(t *testing.T) {
	ctx := t.Context()
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	repo := registryRepo(t, reg, "apps/neg")
	data := []byte("a layer that says it has no size")
	layer := content.NewDescriptorFromBytes("application/octet-stream", data)
	for _, d := range []struct {
		desc ocispec.Descriptor
		b    []byte
	}{{layer, data}, {ocispec.DescriptorEmptyJSON, ocispec.DescriptorEmptyJSON.Data}} {
		if err := repo.Push(ctx, d.desc, bytes.NewReader(d.b)); err != nil {
			t.Fatal(err)
		}
	}
	bad := layer
	bad.Size = -1
	testkit.PushJSON(t, repo, ocispec.MediaTypeImageManifest, ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest, Config: ocispec.DescriptorEmptyJSON, Layers: []ocispec.Descriptor{bad}}, "v1")

	dir := helloLayout(t, "keep")
	before := hostileRegRead(t, filepath.Join(dir, "index.json"))
	r := registryRun(t, nil, "", "pull", "--plain-http", reg.Ref("apps/neg:v1"), dir+":v1")
	registryWantFailure(t, r, 1, layer.Digest.String(), "negative size")
	if after := hostileRegRead(t, filepath.Join(dir, "index.json")); !bytes.Equal(after, before) {
		t.Errorf("index.json changed:\n%s\nwas\n%s", after, before)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", layer.Digest.Encoded())); err == nil {
		t.Error("the layer was stored")
	}
	registryMustRun(t, nil, "", "verify", dir)
}

// TestHostileRegUnknownMediaType: pull of an index that lists a manifest of
// an unknown media type fails on one line and tags nothing; verify passes
// and gc collects what the pull stored.
func TestHostileRegUnknownMediaType(t *testing.T) {
	ctx := t.Context()
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	src := helloLayout(t, "keep")
	registryMustRun(t, nil, "", "push", "--plain-http", src+":keep", reg.Ref("apps/odd:base"))
	repo := registryRepo(t, reg, "apps/odd")
	base, mb, err := oras.FetchBytes(ctx, repo, "base", oras.DefaultFetchBytesOptions)
	if err != nil {
		t.Fatal(err)
	}
	odd := ocispec.Descriptor{MediaType: "application/vnd.example.unknown+json", Digest: base.Digest, Size: base.Size}
	if err := repo.Blobs().Push(ctx, odd, bytes.NewReader(mb)); err != nil {
		t.Fatal(err)
	}
	testkit.PushJSON(t, repo, ocispec.MediaTypeImageIndex, ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{odd}}, "odd")

	dir := filepath.Join(t.TempDir(), "layout")
	r := registryRun(t, nil, "", "pull", "-q", "--plain-http", reg.Ref("apps/odd:odd"), dir+":odd")
	registryWantFailure(t, r, 1, "application/vnd.example.unknown+json", "nothing was tagged")
	registryMustRun(t, nil, "", "verify", dir)
	registryMustRun(t, nil, "", "gc", dir)
	if out := registryMustRun(t, nil, "", "ls", dir).stdout; strings.Contains(out, "odd") {
		t.Errorf("ls after the refused pull: %s", out)
	}
}

// TestHostileRegReferrersOfChild: push --referrers and pull --referrers of
// a multi-platform index carry the referrer of a child manifest along with
// the referrer of the index.
func TestHostileRegReferrersOfChild(t *testing.T) {
	ctx := t.Context()
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	src := filepath.Join(t.TempDir(), "src")
	l, err := layout.OpenOrCreate(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	var kids []ocispec.Descriptor
	for i, p := range []string{"testdata/example/hello-0.1.0.tgz", "testdata/example/site"} {
		res, err := pack.Pack(ctx, l, fmt.Sprint("k", i), []pack.Input{{Path: p}}, pack.Options{})
		if err != nil {
			t.Fatal(err)
		}
		d := res.Manifest
		d.Annotations = nil
		d.Platform = &ocispec.Platform{OS: "linux", Architecture: []string{"amd64", "arm64"}[i]}
		kids = append(kids, d)
	}
	idx := testkit.PushJSON(t, l, ocispec.MediaTypeImageIndex, ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex, Manifests: kids}, "multi")
	note := func(subject ocispec.Descriptor, text string) ocispec.Descriptor {
		return testkit.PushReferrer(t, l, subject, "application/vnd.example.note.v1", "text/plain", []byte(text))
	}
	child := kids[0]
	child.Platform = nil
	childNote, idxNote := note(child, "a note on the amd64 image"), note(idx, "a note on the index")
	for _, tag := range []string{"k0", "k1"} {
		if err := l.Untag(ctx, tag); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()

	registryMustRun(t, nil, "", "push", "--referrers", "--plain-http", src+":multi", reg.Ref("apps/multi:v1"))
	repo := registryRepo(t, reg, "apps/multi")
	for _, c := range []struct {
		name          string
		subject, want ocispec.Descriptor
	}{{"child", child, childNote}, {"index", idx, idxNote}} {
		var got []string
		err := repo.Referrers(ctx, c.subject, "", func(rs []ocispec.Descriptor) error {
			for _, r := range rs {
				got = append(got, r.Digest.String())
			}
			return nil
		})
		if err != nil || len(got) != 1 || got[0] != c.want.Digest.String() {
			t.Errorf("registry referrers of the %s = %v, %v; want %s", c.name, got, err, c.want.Digest)
		}
	}

	dst := filepath.Join(t.TempDir(), "dst")
	registryMustRun(t, nil, "", "pull", "--referrers", "--plain-http", reg.Ref("apps/multi:v1"), dst)
	registryMustRun(t, nil, "", "verify", dst)
	pl, err := layout.Open(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	for _, c := range []struct {
		name          string
		subject, want ocispec.Descriptor
	}{{"child", child, childNote}, {"index", idx, idxNote}} {
		got, err := pl.Predecessors(ctx, c.subject)
		if err != nil || len(got) != 1 || got[0].Digest != c.want.Digest {
			t.Errorf("pulled layout's referrers of the %s = %v, %v; want %s", c.name, got, err, c.want.Digest)
		}
	}
}
