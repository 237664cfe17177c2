package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/crypto/bcrypt"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/serve"
)

// start serves opts on a loopback httptest server and returns its
// host:port.
func start(t *testing.T, opts serve.Options) (string, *serve.Server) {
	t.Helper()
	srv, err := serve.New(context.Background(), opts)
	if err != nil {
		t.Fatalf("serve.New: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return strings.TrimPrefix(hs.URL, "http://"), srv
}

func repo(t *testing.T, host, name string) *remote.Repository {
	t.Helper()
	r, err := remote.NewRepository(host + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	return r
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url string, body []byte, header ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

// errorCode is the code of the first error of an error body.
func errorCode(t *testing.T, b []byte) string {
	t.Helper()
	var e struct {
		Errors []struct{ Code, Message string }
	}
	if err := json.Unmarshal(b, &e); err != nil || len(e.Errors) == 0 {
		t.Fatalf("not an error body: %q", b)
	}
	return e.Errors[0].Code
}

// TestOrasRoundTrip copies a multi-platform index with a referrer from a
// layout into `serve --writable` with oras-go and back into another layout.
func TestOrasRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := testkit.NewLayout(t)
	idx, _ := testkit.PushPlatformIndex(t, src, "v1", "linux/amd64", "linux/arm64")
	ref := testkit.PushReferrer(t, src, idx, "application/vnd.example.sbom", "text/plain", []byte("sbom"))
	if err := src.Put(ctx, ref); err != nil {
		t.Fatal(err)
	}
	served := testkit.NewLayout(t)
	host, _ := start(t, serve.Options{Path: served.Path(), Writable: true})
	r := repo(t, host, "apps/demo")
	got, err := oras.ExtendedCopy(ctx, src, "v1", r, "v1", oras.DefaultExtendedCopyOptions)
	if err != nil {
		t.Fatalf("copy to serve: %v", err)
	}
	if got.Digest != idx.Digest {
		t.Fatalf("pushed %s, want %s", got.Digest, idx.Digest)
	}
	if tags := testkit.IndexTags(t, served.Path()); tags["apps/demo:v1"] != idx.Digest.String() {
		t.Fatalf("served layout's entries %v: want apps/demo:v1 -> %s", tags, idx.Digest)
	}
	dst := testkit.NewLayout(t)
	back, err := oras.ExtendedCopy(ctx, repo(t, host, "apps/demo"), "v1", dst, "v1", oras.DefaultExtendedCopyOptions)
	if err != nil {
		t.Fatalf("copy back: %v", err)
	}
	if back.Digest != idx.Digest {
		t.Fatalf("pulled %s, want %s", back.Digest, idx.Digest)
	}
	if ok, err := dst.Exists(ctx, ref); err != nil || !ok {
		t.Fatalf("the referrer did not come back: %v %v", ok, err)
	}
	rep, err := served.Check(ctx, layout.CheckOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("served layout after the push: %v %+v", err, rep)
	}
	rep, err = dst.Check(ctx, layout.CheckOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("layout pulled back: %v %+v", err, rep)
	}
}

// TestReadAPI: ranges, errors, tags pagination, referrers with a filter,
// the catalog.
func TestReadAPI(t *testing.T) {
	ctx := context.Background()
	l := testkit.NewLayout(t)
	m := testkit.StoreManifest(t, l, "application/x.one", "hello, range")
	testkit.Tag(t, l, m, "a", "b", "c", "d", "e")
	r1 := testkit.PushReferrer(t, l, m, "application/vnd.sig", "text/plain", []byte("sig"))
	r2 := testkit.PushReferrer(t, l, m, "application/vnd.sbom", "text/plain", []byte("sbom"))
	if err := l.Put(ctx, r1, r2); err != nil {
		t.Fatal(err)
	}
	host, _ := start(t, serve.Options{Path: l.Path(), Repo: "bundle"})
	base := "http://" + host + "/v2/bundle"
	_, man := testkit.Manifest(t, l, "a")
	layer := man.Layers[0]

	got := do(t, "GET", base+"/manifests/a", nil)
	if got.status != 200 || got.header.Get("Content-Type") != ocispec.MediaTypeImageManifest || got.header.Get("Docker-Content-Digest") != m.Digest.String() || digest.FromBytes(got.body) != m.Digest || got.header.Get("Content-Length") != fmt.Sprint(m.Size) {
		t.Errorf("GET manifest: %d %v", got.status, got.header)
	}
	if got := do(t, "HEAD", base+"/manifests/"+m.Digest.String(), nil); got.status != 200 || len(got.body) != 0 || got.header.Get("Content-Length") != fmt.Sprint(m.Size) {
		t.Errorf("HEAD manifest by digest: %d %v", got.status, got.header)
	}
	got = do(t, "GET", base+"/blobs/"+layer.Digest.String(), nil, "Range", "bytes=7-11")
	if got.status != 206 || string(got.body) != "range" || got.header.Get("Content-Range") != "bytes 7-11/12" {
		t.Errorf("range: %d %q %v", got.status, got.body, got.header)
	}
	got = do(t, "GET", base+"/blobs/"+layer.Digest.String(), nil, "Range", "bytes=12-")
	if got.status != 416 || got.header.Get("Content-Range") != "bytes */12" {
		t.Errorf("unsatisfiable range: %d %v", got.status, got.header)
	}
	if got := do(t, "GET", base+"/blobs/"+layer.Digest.String(), nil); got.status != 200 || string(got.body) != "hello, range" {
		t.Errorf("whole blob: %d %q", got.status, got.body)
	}
	for _, c := range []struct{ url, code string }{
		{"http://" + host + "/v2/nope/manifests/a", "NAME_UNKNOWN"},
		{base + "/manifests/zzz", "MANIFEST_UNKNOWN"},
		{base + "/blobs/sha256:" + strings.Repeat("0", 64), "BLOB_UNKNOWN"},
		{base + "/blobs/sha256:abc", "DIGEST_INVALID"},
		{"http://" + host + "/v2/Bad/manifests/a", "NAME_INVALID"},
		{"http://" + host + "/v2/a/../../etc/manifests/a", "NAME_INVALID"},
		{base + "/manifests/-bad", "TAG_INVALID"},
	} {
		if got := do(t, "GET", c.url, nil); errorCode(t, got.body) != c.code {
			t.Errorf("GET %s: %d %s, want %s", c.url, got.status, got.body, c.code)
		}
	}

	got = do(t, "GET", base+"/tags/list?n=2", nil)
	if string(got.body) != `{"name":"bundle","tags":["a","b"]}` || got.header.Get("Link") != `</v2/bundle/tags/list?last=b&n=2>; rel="next"` {
		t.Errorf("tags page 1: %s %q", got.body, got.header.Get("Link"))
	}
	got = do(t, "GET", base+"/tags/list?n=2&last=d", nil)
	if string(got.body) != `{"name":"bundle","tags":["e"]}` || got.header.Get("Link") != "" {
		t.Errorf("tags last page: %s %q", got.body, got.header.Get("Link"))
	}

	var ix ocispec.Index
	got = do(t, "GET", base+"/referrers/"+m.Digest.String(), nil)
	if err := json.Unmarshal(got.body, &ix); err != nil || got.header.Get("Content-Type") != ocispec.MediaTypeImageIndex || len(ix.Manifests) != 2 {
		t.Fatalf("referrers: %s %v", got.body, err)
	}
	got = do(t, "GET", base+"/referrers/"+m.Digest.String()+"?artifactType=application/vnd.sbom", nil)
	ix = ocispec.Index{}
	if err := json.Unmarshal(got.body, &ix); err != nil || len(ix.Manifests) != 1 || ix.Manifests[0].Digest != r2.Digest || ix.Manifests[0].ArtifactType != "application/vnd.sbom" || got.header.Get("OCI-Filters-Applied") != "artifactType" {
		t.Errorf("filtered referrers: %s %v", got.body, got.header)
	}
	if got := do(t, "GET", "http://"+host+"/v2/_catalog", nil); string(got.body) != `{"repositories":["bundle"]}` {
		t.Errorf("catalog: %s", got.body)
	}
}

// TestFullNames: HOST/REPO:TAG entries are served as REPO:TAG, ns=HOST
// picks the registry.
func TestFullNames(t *testing.T) {
	l := testkit.NewLayout(t)
	hub := testkit.StoreManifest(t, l, "application/x.hub", "from docker hub")
	ghcr := testkit.StoreManifest(t, l, "application/x.ghcr", "from ghcr")
	plain := testkit.StoreManifest(t, l, "application/x.plain", "plain")
	testkit.Tag(t, l, hub, "docker.io/library/nginx:1.27")
	testkit.Tag(t, l, ghcr, "ghcr.io/library/nginx:1.27")
	testkit.Tag(t, l, plain, "v1")
	host, _ := start(t, serve.Options{Path: l.Path()})
	base := "http://" + host + "/v2/"
	for _, c := range []struct {
		path string
		want digest.Digest
	}{
		{"library/nginx/manifests/1.27?ns=docker.io", hub.Digest},
		{"library/nginx/manifests/1.27?ns=ghcr.io", ghcr.Digest},
		{"layout/manifests/v1", plain.Digest},
		{"layout/manifests/v1?ns=docker.io", plain.Digest},
	} {
		if got := do(t, "GET", base+c.path, nil); got.status != 200 || got.header.Get("Docker-Content-Digest") != c.want.String() {
			t.Errorf("%s: %d %s, want %s", c.path, got.status, got.header.Get("Docker-Content-Digest"), c.want)
		}
	}
	if got := do(t, "GET", base+"library/nginx/manifests/1.27?ns=quay.io", nil); got.status != 404 {
		t.Errorf("ns of a registry the layout has nothing of: %d", got.status)
	}
	if got := do(t, "GET", base+"layout/manifests/"+hub.Digest.String(), nil); got.status != 404 {
		t.Errorf("a manifest of another repository by digest: %d, want 404", got.status)
	}
	if got := do(t, "GET", base+"_catalog", nil); string(got.body) != `{"repositories":["layout","library/nginx"]}` {
		t.Errorf("catalog: %s", got.body)
	}
}

// TestLayoutChanged: a tag added and removed by another writer is seen on
// the next request.
func TestLayoutChanged(t *testing.T) {
	ctx := context.Background()
	l := testkit.NewLayout(t)
	m := testkit.StoreManifest(t, l, "application/x.one", "one")
	testkit.Tag(t, l, m, "v1")
	host, _ := start(t, serve.Options{Path: l.Path(), Repo: "r"})
	if got := do(t, "GET", "http://"+host+"/v2/r/tags/list", nil); string(got.body) != `{"name":"r","tags":["v1"]}` {
		t.Fatalf("before: %s", got.body)
	}
	other, err := layout.Open(ctx, l.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	m2 := testkit.StoreManifest(t, other, "application/x.two", "two")
	testkit.Tag(t, other, m2, "v2")
	if err := other.Untag(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	if got := do(t, "GET", "http://"+host+"/v2/r/tags/list", nil); string(got.body) != `{"name":"r","tags":["v2"]}` {
		t.Fatalf("after: %s", got.body)
	}
	if got := do(t, "GET", "http://"+host+"/v2/r/manifests/v2", nil); got.header.Get("Docker-Content-Digest") != m2.Digest.String() {
		t.Fatalf("new tag: %d %v", got.status, got.header)
	}
}

// TestHtpasswd: every request needs credentials.
func TestHtpasswd(t *testing.T) {
	l := testkit.NewLayout(t)
	m := testkit.StoreManifest(t, l, "application/x.one", "one")
	testkit.Tag(t, l, m, "v1")
	h, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	pw := testkit.WriteFile(t, filepath.Join(t.TempDir(), "htpasswd"), "alice:"+string(h)+"\n")
	host, _ := start(t, serve.Options{Path: l.Path(), Repo: "r", Htpasswd: pw})
	for _, p := range []string{"/v2/", "/v2/r/manifests/v1"} {
		got := do(t, "GET", "http://"+host+p, nil)
		if got.status != 401 || got.header.Get("WWW-Authenticate") != `Basic realm="ocipack"` || errorCode(t, got.body) != "UNAUTHORIZED" {
			t.Errorf("%s without credentials: %d %v", p, got.status, got.header)
		}
	}
	req, _ := http.NewRequest("GET", "http://"+host+"/v2/r/manifests/v1", nil)
	req.SetBasicAuth("alice", "wrong")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("wrong password: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	r := repo(t, host, "r")
	r.Client = &auth.Client{Credential: auth.StaticCredential(host, auth.Credential{Username: "alice", Password: "s3cret"})}
	d, err := r.Resolve(context.Background(), "v1")
	if err != nil || d.Digest != m.Digest {
		t.Errorf("oras with credentials: %v %v", d.Digest, err)
	}
}

// TestReadOnly: writes are refused and change nothing.
func TestReadOnly(t *testing.T) {
	l := testkit.NewLayout(t)
	m := testkit.StoreManifest(t, l, "application/x.one", "one")
	testkit.Tag(t, l, m, "v1")
	before := testkit.Snapshot(t, l.Path())
	host, _ := start(t, serve.Options{Path: l.Path(), Repo: "r"})
	base := "http://" + host + "/v2/r"
	body := []byte("blob")
	for _, c := range []struct{ method, url string }{
		{"POST", base + "/blobs/uploads/"},
		{"POST", base + "/blobs/uploads/?digest=" + digest.FromBytes(body).String()},
		{"PUT", base + "/manifests/v2"},
		{"DELETE", base + "/manifests/v1"},
		{"DELETE", base + "/manifests/" + m.Digest.String()},
		{"DELETE", base + "/blobs/" + m.Digest.String()},
	} {
		if got := do(t, c.method, c.url, body); got.status != 405 || errorCode(t, got.body) != "UNSUPPORTED" {
			t.Errorf("%s %s: %d %s", c.method, c.url, got.status, got.body)
		}
	}
	testkit.Unchanged(t, before, l.Path())
}

// TestWritable: chunked uploads, wrong offsets, deletes, OCI-Subject.
func TestWritable(t *testing.T) {
	ctx := context.Background()
	l := testkit.NewLayout(t)
	host, _ := start(t, serve.Options{Path: l.Path(), Writable: true, MaxUpload: 1 << 20})
	base := "http://" + host + "/v2/w"
	data := testkit.RandomBytes(1, 3000)
	d := digest.FromBytes(data)
	got := do(t, "POST", base+"/blobs/uploads/", nil)
	if got.status != 202 {
		t.Fatalf("POST: %d %s", got.status, got.body)
	}
	loc := "http://" + host + got.header.Get("Location")
	if got := do(t, "PATCH", loc, data[:1000], "Content-Range", "0-999"); got.status != 202 || got.header.Get("Range") != "0-999" {
		t.Fatalf("PATCH 1: %d %v", got.status, got.header)
	}
	if got := do(t, "PATCH", loc, data[2000:], "Content-Range", "2000-2999"); got.status != 416 {
		t.Fatalf("PATCH at a wrong offset: %d", got.status)
	}
	if got := do(t, "GET", loc, nil); got.status != 204 || got.header.Get("Range") != "0-999" {
		t.Fatalf("upload status: %d %v", got.status, got.header)
	}
	if len(testkit.TmpFiles(t, l.Path())) != 1 {
		t.Errorf("the upload in progress is not in the layout's temporary area: %v", testkit.TmpFiles(t, l.Path()))
	}
	if got := do(t, "PUT", loc+"?digest="+digest.FromString("other").String(), data[1000:], "Content-Range", "1000-2999"); got.status != 400 || errorCode(t, got.body) != "DIGEST_INVALID" {
		t.Fatalf("PUT of the wrong digest: %d %s", got.status, got.body)
	}
	if ok, _ := l.Exists(ctx, ocispec.Descriptor{Digest: d, Size: int64(len(data))}); ok {
		t.Fatal("a blob of the wrong digest was stored")
	}
	// Again, right.
	got = do(t, "POST", base+"/blobs/uploads/", nil)
	loc = "http://" + host + got.header.Get("Location")
	do(t, "PATCH", loc, data[:1000])
	if got := do(t, "PUT", loc+"?digest="+d.String(), data[1000:]); got.status != 201 || got.header.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("PUT: %d %s", got.status, got.body)
	}
	if len(testkit.TmpFiles(t, l.Path())) != 0 {
		t.Errorf("temporary files left: %v", testkit.TmpFiles(t, l.Path()))
	}
	if got := do(t, "GET", base+"/blobs/"+d.String(), nil); !bytes.Equal(got.body, data) {
		t.Fatalf("blob: %d", got.status)
	}
	// Too large.
	if got := do(t, "POST", base+"/blobs/uploads/?digest="+digest.FromBytes(make([]byte, 2<<20)).String(), make([]byte, 2<<20)); got.status != 413 {
		t.Errorf("upload over --max-upload: %d %s", got.status, got.body)
	}
	// A manifest naming a missing blob.
	cfg := ocispec.DescriptorEmptyJSON
	mk := func(layers []ocispec.Descriptor, subject *ocispec.Descriptor) []byte {
		return testkit.MustJSON(t, ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: layers, Subject: subject})
	}
	do(t, "POST", base+"/blobs/uploads/?digest="+cfg.Digest.String(), cfg.Data)
	missing := ocispec.Descriptor{MediaType: "text/plain", Digest: digest.FromString("nope"), Size: 4}
	if got := do(t, "PUT", base+"/manifests/v1", mk([]ocispec.Descriptor{missing}, nil), "Content-Type", ocispec.MediaTypeImageManifest); errorCode(t, got.body) != "MANIFEST_BLOB_UNKNOWN" {
		t.Errorf("manifest with a missing blob: %d %s", got.status, got.body)
	}
	layerDesc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: d, Size: int64(len(data))}
	mb := mk([]ocispec.Descriptor{layerDesc}, nil)
	if got := do(t, "PUT", base+"/manifests/v1", mb, "Content-Type", ocispec.MediaTypeImageManifest); got.status != 201 {
		t.Fatalf("PUT manifest: %d %s", got.status, got.body)
	}
	md := digest.FromBytes(mb)
	sb := mk([]ocispec.Descriptor{layerDesc}, &ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: md, Size: int64(len(mb))})
	got = do(t, "PUT", base+"/manifests/"+digest.FromBytes(sb).String(), sb, "Content-Type", ocispec.MediaTypeImageManifest)
	if got.status != 201 || got.header.Get("OCI-Subject") != md.String() {
		t.Fatalf("PUT referrer: %d %v %s", got.status, got.header, got.body)
	}
	var ix ocispec.Index
	json.Unmarshal(do(t, "GET", base+"/referrers/"+md.String(), nil).body, &ix)
	if len(ix.Manifests) != 1 || ix.Manifests[0].Digest != digest.FromBytes(sb) {
		t.Errorf("referrers after the push: %+v", ix)
	}
	if tags := testkit.IndexTags(t, l.Path()); tags["w:v1"] != md.String() {
		t.Errorf("entries: %v", tags)
	}
	// The layer is referenced: refused. The tag goes, then the referrer, then the layer may go.
	if got := do(t, "DELETE", base+"/blobs/"+d.String(), nil); got.status != 405 {
		t.Errorf("DELETE of a referenced blob: %d", got.status)
	}
	if got := do(t, "DELETE", base+"/manifests/v1", nil); got.status != 202 {
		t.Errorf("DELETE tag: %d %s", got.status, got.body)
	}
	if got := do(t, "DELETE", base+"/manifests/"+digest.FromBytes(sb).String(), nil); got.status != 202 {
		t.Errorf("DELETE manifest: %d %s", got.status, got.body)
	}
	if got := do(t, "DELETE", base+"/blobs/"+d.String(), nil); got.status != 202 {
		t.Errorf("DELETE blob: %d %s", got.status, got.body)
	}
	if got := do(t, "HEAD", base+"/blobs/"+d.String(), nil); got.status != 404 {
		t.Errorf("HEAD after DELETE: %d", got.status)
	}
	if ix := testkit.ReadIndex(t, l.Path()); len(ix.Manifests) != 0 {
		t.Errorf("index.json after the deletes: %+v", ix.Manifests)
	}
}

// TestConcurrentPulls: 64 clients pull one blob at once while others go
// away mid-blob.
func TestConcurrentPulls(t *testing.T) {
	ctx := context.Background()
	l := testkit.NewLayout(t)
	data := testkit.RandomBytes(7, 4<<20)
	blob, err := l.Ingest(ctx, "application/octet-stream", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	m := testkit.TagBlobAsManifest(t, l, "v1", testkit.MustJSON(t, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: ocispec.DescriptorEmptyJSON, Layers: []ocispec.Descriptor{blob},
	}))
	_ = m
	testkit.Ingest(t, l, ocispec.MediaTypeEmptyJSON, ocispec.DescriptorEmptyJSON.Data)
	host, _ := start(t, serve.Options{Path: l.Path(), Repo: "r"})
	url := "http://" + host + "/v2/r/blobs/" + blob.Digest.String()
	var wg sync.WaitGroup
	errs := make(chan error, 80)
	for i := range 8 { // clients that go away after a few bytes
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", host, 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			fmt.Fprintf(c, "GET /v2/r/blobs/%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", blob.Digest, host)
			b := make([]byte, 1000*(i+1))
			if _, err := io.ReadFull(c, b); err != nil || !bytes.HasPrefix(b, []byte("HTTP/1.1 200 OK")) {
				errs <- fmt.Errorf("a client going away got %q, %v", b[:min(len(b), 200)], err)
			}
		}()
	}
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 64}, Timeout: time.Minute}
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(url)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			h := digest.SHA256.Digester()
			n, err := io.Copy(h.Hash(), resp.Body)
			if err != nil || n != int64(len(data)) || h.Digest() != blob.Digest {
				errs <- fmt.Errorf("pulled %d bytes, %s, %v", n, h.Digest(), err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := do(t, "GET", url, nil); !bytes.Equal(got.body, data) {
		t.Error("after the storm: wrong bytes")
	}
}

// TestArchive: an archive is served in place, read-only.
func TestArchive(t *testing.T) {
	l := testkit.NewLayout(t)
	m := testkit.StoreManifest(t, l, "application/x.one", "in an archive")
	testkit.Tag(t, l, m, "v1")
	tarPath := filepath.Join(t.TempDir(), "b.tar")
	if err := exportTar(l, tarPath); err != nil {
		t.Fatal(err)
	}
	if _, err := serve.New(context.Background(), serve.Options{Path: tarPath, Writable: true}); err == nil {
		t.Error("a writable archive was accepted")
	}
	host, _ := start(t, serve.Options{Path: tarPath})
	d, err := repo(t, host, "b.tar").Resolve(context.Background(), "v1")
	if err != nil || d.Digest != m.Digest {
		t.Fatalf("resolve in the archive: %v %v", d.Digest, err)
	}
	_, man := testkit.Manifest(t, l, "v1")
	if got := do(t, "GET", "http://"+host+"/v2/b.tar/blobs/"+man.Layers[0].Digest.String(), nil, "Range", "bytes=3-4"); got.status != 206 || string(got.body) != "an" {
		t.Errorf("range in an archive: %d %q", got.status, got.body)
	}
	if got := do(t, "POST", "http://"+host+"/v2/b.tar/blobs/uploads/", nil); got.status != 405 {
		t.Errorf("write to an archive: %d", got.status)
	}
	_ = os.Remove
}
