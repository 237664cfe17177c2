package serve_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/serve"
)

// blobLayout makes a layout whose tag v1 is a manifest with one layer of
// data; it returns the layout and the layer.
func blobLayout(t *testing.T, data []byte) (*layout.Layout, ocispec.Descriptor) {
	t.Helper()
	l := testkit.NewLayout(t)
	blob, err := l.Ingest(context.Background(), "application/octet-stream", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Ingest(t, l, ocispec.MediaTypeEmptyJSON, ocispec.DescriptorEmptyJSON.Data)
	testkit.TagBlobAsManifest(t, l, "v1", testkit.MustJSON(t, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: ocispec.DescriptorEmptyJSON, Layers: []ocispec.Descriptor{blob},
	}))
	return l, blob
}

// raw sends head (a request line and header fields, each ending in CRLF,
// without the blank line that ends the header) then body on a new
// connection to host, and reads the reply. The connection has a deadline,
// so that a server that never answers fails the test instead of hanging it.
func raw(t *testing.T, host, head string, body []byte) (reply, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", host, 10*time.Second)
	if err != nil {
		return reply{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.WriteString(c, head+"\r\n"); err != nil {
		return reply{}, err
	}
	c.Write(body)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return reply{resp.StatusCode, resp.Header, b}, err
}

// openFDs counts the open file descriptors of the process; ok is false
// where /proc/self/fd does not exist.
func openFDs() (n int, ok bool) {
	if runtime.GOOS != "linux" {
		return 0, false
	}
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, false
	}
	return len(es), true
}

// TestRobustLoad: while 16 clients pull a 4 MiB blob (twice each) and check
// its digest, other clients send bad ranges, huge declared bodies, an
// endless chunked body and half a header. Every good client gets the right
// bytes, every bad one the answer written below; afterwards goroutines and
// file descriptors return to their count before the server started.
//
// Ranges: a Range the server does not serve is refused with 416 and
// Content-Range: bytes */SIZE, multi-range requests (bytes=0-1,4-5)
// included: the server serves one range or the whole blob without a Range,
// and answering a request for two pieces with the whole body would let a
// careless client take the whole blob for its pieces.
func TestRobustLoad(t *testing.T) {
	goBefore := runtime.NumGoroutine()
	fdBefore, haveFDs := openFDs()

	const maxUpload = 1 << 20
	data := testkit.RandomBytes(16, 4<<20)
	l, blob := blobLayout(t, data)
	srv, err := serve.New(context.Background(), serve.Options{Path: l.Path(), Repo: "r", Writable: true, MaxUpload: maxUpload})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv)
	// The server `ocipack serve` runs, with a shorter header timeout so
	// that the half-header client is cut off while the test runs.
	hs.Config = serve.NewHTTPServer(srv)
	if hs.Config.ReadHeaderTimeout <= 0 || hs.Config.IdleTimeout <= 0 {
		t.Errorf("the CLI's http.Server has no header or idle timeout: %+v", hs.Config)
	}
	hs.Config.ReadHeaderTimeout = 300 * time.Millisecond
	hs.Start()
	closed := false
	stop := func() {
		if !closed {
			closed = true
			hs.Close()
			srv.Close()
		}
	}
	defer stop()
	host := strings.TrimPrefix(hs.URL, "http://")
	base := hs.URL + "/v2/r/"
	blobURL := base + "blobs/" + blob.Digest.String()
	size := fmt.Sprint(len(data))

	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 32}, Timeout: 2 * time.Minute}
	get := func(url string, header ...string) (reply, error) {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			return reply{}, err
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			return reply{}, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return reply{resp.StatusCode, resp.Header, b}, err
	}
	startUpload := func() (string, error) {
		resp, err := client.Post(base+"blobs/uploads/", "", nil)
		if err != nil {
			return "", err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return "", fmt.Errorf("POST upload: %s", resp.Status)
		}
		return resp.Header.Get("Location"), nil
	}

	var wg sync.WaitGroup
	errs := make(chan error, 256)
	fail := func(format string, a ...any) { errs <- fmt.Errorf(format, a...) }
	for range 16 { // good clients
		wg.Go(func() {
			for range 2 {
				resp, err := client.Get(blobURL)
				if err != nil {
					fail("good client: %v", err)
					return
				}
				h := digest.SHA256.Digester()
				n, err := io.Copy(h.Hash(), resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || n != int64(len(data)) || h.Digest() != blob.Digest {
					fail("good client: %s, %d bytes, %s, %v", resp.Status, n, h.Digest(), err)
				}
			}
		})
	}
	wg.Go(func() { // bad and good ranges
		for _, rg := range []string{"bytes=abc", "bytes=5-2", "bytes=" + size + "-", "bytes=" + size + "-" + size + "0", "bytes=-0", "bytes=0-1,4-5", "bytes=--1"} {
			got, err := get(blobURL, "Range", rg)
			if err != nil {
				fail("Range %s: %v", rg, err)
				continue
			}
			if got.status != http.StatusRequestedRangeNotSatisfiable || got.header.Get("Content-Range") != "bytes */"+size {
				fail("Range %s: %d, Content-Range %q, want 416 and bytes */%s", rg, got.status, got.header.Get("Content-Range"), size)
			}
			if bytes.Contains(got.body, data[:64]) {
				fail("Range %s: the refusal carries blob bytes", rg)
			}
		}
		// A range unit the server does not know is ignored (RFC 9110).
		if got, err := get(blobURL, "Range", "items=0-1"); err != nil || got.status != http.StatusOK || !bytes.Equal(got.body, data) {
			fail("Range items=0-1: %d, %d bytes, %v, want 200 and the whole blob", got.status, len(got.body), err)
		}
		for _, c := range []struct {
			rg         string
			start, end int
		}{{"bytes=5-9", 5, 10}, {"bytes=4194000-", 4194000, len(data)}, {"bytes=-7", len(data) - 7, len(data)}, {"bytes=10-99999999", 10, len(data)}} {
			got, err := get(blobURL, "Range", c.rg)
			if err != nil || got.status != http.StatusPartialContent || !bytes.Equal(got.body, data[c.start:c.end]) ||
				got.header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%s", c.start, c.end-1, size) {
				fail("Range %s: %d, Content-Range %q, %d bytes, %v", c.rg, got.status, got.header.Get("Content-Range"), len(got.body), err)
			}
		}
	})
	wg.Go(func() { // huge declared bodies, refused before they are sent
		loc, err := startUpload()
		if err != nil {
			fail("%v", err)
			return
		}
		d := digest.FromString("never sent")
		for _, head := range []string{
			"PATCH " + loc + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/octet-stream\r\nContent-Length: 1099511627776\r\n",
			"POST /v2/r/blobs/uploads/?digest=" + d.String() + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 1099511627776\r\n",
			"PUT /v2/r/manifests/big HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: " + ocispec.MediaTypeImageManifest + "\r\nContent-Length: 1099511627776\r\n",
		} {
			got, err := raw(t, host, head, []byte("only a few bytes"))
			if err != nil {
				fail("%s: no answer before the body: %v", strings.SplitN(head, " ", 2)[0], err)
				continue
			}
			if got.status != http.StatusRequestEntityTooLarge || !strings.Contains(string(got.body), serve.CodeSizeInvalid) {
				fail("%s with a huge Content-Length: %d %s, want 413 SIZE_INVALID", strings.SplitN(head, " ", 2)[0], got.status, got.body)
			}
		}
		// The upload refused is dropped rather than kept on disk.
		if got, err := get(hs.URL + loc); err != nil || got.status != http.StatusNotFound {
			fail("the upload refused for its size is still there: %d, %v", got.status, err)
		}
		// A PUT that ends an upload with a huge body.
		loc, err = startUpload()
		if err != nil {
			fail("%v", err)
			return
		}
		sep := "?"
		if strings.Contains(loc, "?") {
			sep = "&"
		}
		got, err := raw(t, host, "PUT "+loc+sep+"digest="+d.String()+" HTTP/1.1\r\nHost: "+host+"\r\nContent-Length: 1099511627776\r\n", nil)
		if err != nil || got.status != http.StatusRequestEntityTooLarge {
			fail("PUT with a huge Content-Length: %d %s, %v, want 413", got.status, got.body, err)
		}
	})
	wg.Go(func() { // an endless chunked body, stopped at MaxUpload
		loc, err := startUpload()
		if err != nil {
			fail("%v", err)
			return
		}
		c, err := net.DialTimeout("tcp", host, 10*time.Second)
		if err != nil {
			fail("%v", err)
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		io.WriteString(c, "PATCH "+loc+" HTTP/1.1\r\nHost: "+host+"\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
		var sent int64
		writing := make(chan struct{})
		go func() { // endless, but for the bound: 64 times MaxUpload
			defer close(writing)
			chunk := append(fmt.Appendf(nil, "%x\r\n", 64<<10), append(bytes.Repeat([]byte{'x'}, 64<<10), "\r\n"...)...)
			for sent < 64*maxUpload {
				if _, err := c.Write(chunk); err != nil {
					return
				}
				sent += 64 << 10
			}
		}()
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			fail("endless body: no answer: %v", err)
			c.Close()
			<-writing
			return
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		c.Close()
		<-writing
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), serve.CodeSizeInvalid) {
			fail("endless body: %s %s, want 413 SIZE_INVALID", resp.Status, b)
		}
		if sent >= 64*maxUpload {
			fail("endless body: the server read %d bytes, 64 times --max-upload, without stopping", sent)
		}
	})
	wg.Go(func() { // half a header, then nothing: cut off by ReadHeaderTimeout
		c, err := net.DialTimeout("tcp", host, 10*time.Second)
		if err != nil {
			fail("%v", err)
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		io.WriteString(c, "GET /v2/r/blobs/"+blob.Digest.String()+" HTTP/1.1\r\nHost: "+host+"\r\nUser-Agent: slo")
		b, err := io.ReadAll(c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			fail("half a header: the server kept the connection open: %v", err)
		}
		if bytes.Contains(b, data[:64]) {
			fail("half a header got blob bytes")
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, err := get(blobURL); err != nil || !bytes.Equal(got.body, data) {
		t.Errorf("after the load: %d bytes, %v", len(got.body), err)
	}
	if tmp := testkit.TmpFiles(t, l.Path()); len(tmp) != 0 {
		t.Errorf("uploads refused for their size left temporary files: %v", tmp)
	}

	client.CloseIdleConnections()
	http.DefaultClient.CloseIdleConnections()
	stop()
	l.Close()
	var goAfter, fdAfter int
	for range 100 { // at most 10s for goroutines and connections to end
		goAfter = runtime.NumGoroutine()
		fdAfter, _ = openFDs()
		if goAfter <= goBefore+2 && (!haveFDs || fdAfter <= fdBefore) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if goAfter > goBefore+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %d before, %d after the load\n%s", goBefore, goAfter, buf[:runtime.Stack(buf, true)])
	}
	if !haveFDs {
		t.Logf("open file descriptors not counted: no /proc/self/fd on %s", runtime.GOOS)
	} else if fdAfter > fdBefore {
		t.Errorf("open file descriptors: %d before, %d after the load", fdBefore, fdAfter)
	}
}

// TestRobustSymlinkBlob: a blob file (or the blobs/sha256 directory) that
// is replaced by a symbolic link to a file outside the layout is not served
// through the link: the layout's Lstat check refuses it (500 or 404), and
// no byte of the outside file is sent, with or without a Range, for a
// layer or for the manifest itself.
func TestRobustSymlinkBlob(t *testing.T) {
	outside := testkit.Outside(t)
	// An outside file of the blob's size (a size check alone does not
	// refuse it).
	inside := []byte("inside the layout: 32 bytes long")
	secret := bytes.Repeat([]byte("OUTSIDE!"), len(inside)/8)
	testkit.WriteFile(t, filepath.Join(outside, "same-size"), secret)
	check := func(t *testing.T, host string, paths ...string) {
		t.Helper()
		for _, p := range paths {
			for _, rg := range []string{"", "bytes=0-3"} {
				for _, m := range []string{"GET", "HEAD"} {
					got := do(t, m, "http://"+host+p, nil, "Range", rg)
					if bytes.Contains(got.body, secret[:8]) {
						t.Errorf("%s %s (Range %q): outside bytes served: %q", m, p, rg, got.body)
					}
					if m == "GET" && got.status != http.StatusNotFound && got.status != http.StatusInternalServerError {
						t.Errorf("%s %s (Range %q): %d, want 404 or 500", m, p, rg, got.status)
					}
				}
			}
		}
	}
	t.Run("layer", func(t *testing.T) {
		l, blob := blobLayout(t, inside)
		host, _ := start(t, serve.Options{Path: l.Path(), Repo: "r"})
		url := "/v2/r/blobs/" + blob.Digest.String()
		if got := do(t, "GET", "http://"+host+url, nil); !bytes.Equal(got.body, inside) {
			t.Fatalf("before the link: %d %q", got.status, got.body)
		}
		testkit.ReplaceWithSymlink(t, testkit.BlobPath(l.Path(), blob.Digest.String()), filepath.Join(outside, "same-size"))
		check(t, host, url)
	})
	t.Run("manifest", func(t *testing.T) {
		l, _ := blobLayout(t, inside)
		m, _ := testkit.Manifest(t, l, "v1")
		testkit.ReplaceWithSymlink(t, testkit.BlobPath(l.Path(), m.Digest.String()), filepath.Join(outside, "precious.txt"))
		host, _ := start(t, serve.Options{Path: l.Path(), Repo: "r"})
		check(t, host, "/v2/r/manifests/v1", "/v2/r/manifests/"+m.Digest.String(), "/v2/r/blobs/"+m.Digest.String())
	})
	t.Run("dir", func(t *testing.T) {
		l, blob := blobLayout(t, inside)
		// A directory outside holding copies of the layout's blobs, the
		// layer's file with other bytes of its size.
		p := filepath.Join(l.Path(), "blobs", "sha256")
		dir := filepath.Join(t.TempDir(), "elsewhere")
		for _, n := range testkit.DirNames(t, p) {
			testkit.WriteFile(t, filepath.Join(dir, n), testkit.ReadFile(t, filepath.Join(p, n)))
		}
		testkit.WriteFile(t, filepath.Join(dir, blob.Digest.Encoded()), secret)
		// serve.New refuses a layout whose blobs/sha256 is a link; the
		// link made while it serves is refused request by request.
		host, _ := start(t, serve.Options{Path: l.Path(), Repo: "r"})
		url := "/v2/r/blobs/" + blob.Digest.String()
		if got := do(t, "GET", "http://"+host+url, nil); !bytes.Equal(got.body, inside) {
			t.Fatalf("before the link: %d %q", got.status, got.body)
		}
		testkit.ReplaceWithSymlink(t, p, dir)
		check(t, host, url, "/v2/r/manifests/v1")
		if _, err := serve.New(context.Background(), serve.Options{Path: l.Path(), Repo: "r"}); err == nil {
			t.Error("serve.New opened a layout whose blobs/sha256 is a link out of it")
		}
	})
	if got := testkit.ReadFile(t, filepath.Join(outside, "same-size")); !bytes.Equal(got, secret) {
		t.Errorf("the outside file changed: %q", got)
	}
}

// TestRobustTraversal: repository names, tags, digests and upload ids that
// try to leave the layout (.., %2e%2e, encoded slashes, overlong) are
// refused with the spec's codes by a writable server, and the layout and
// the directory beside it are left exactly as they were.
func TestRobustTraversal(t *testing.T) {
	l, blob := blobLayout(t, []byte("traversal"))
	outside := testkit.Outside(t)
	host, _ := start(t, serve.Options{Path: l.Path(), Repo: "r", Writable: true})
	before := testkit.Snapshot(t, l.Path())
	beforeOut := testkit.Snapshot(t, outside)
	d := blob.Digest.String()
	long := strings.Repeat("a/", 150) + "a"
	cases := []struct {
		method, target string
		status         int
		code           string
	}{
		{"GET", "/v2/../../etc/manifests/v1", 400, serve.CodeNameInvalid},
		{"GET", "/v2/%2e%2e/manifests/v1", 400, serve.CodeNameInvalid},
		{"GET", "/v2/%2E%2E%2F%2E%2E/blobs/" + d, 400, serve.CodeNameInvalid},
		{"GET", "/v2/r%2f..%2f..%2fx/tags/list", 400, serve.CodeNameInvalid},
		{"GET", "/v2/r/../r/manifests/v1", 400, serve.CodeNameInvalid},
		{"GET", "/v2/R/manifests/v1", 400, serve.CodeNameInvalid},
		{"GET", "/v2/" + long + "/manifests/v1", 400, serve.CodeNameInvalid},
		{"PUT", "/v2/%2e%2e/manifests/v1", 400, serve.CodeNameInvalid},
		{"POST", "/v2/..%2f..%2fx/blobs/uploads/", 400, serve.CodeNameInvalid},
		{"DELETE", "/v2/%2e%2e/blobs/" + d, 400, serve.CodeNameInvalid},
		{"GET", "/v2/r/manifests/..%2f..%2findex.json", 400, serve.CodeTagInvalid},
		{"GET", "/v2/r/manifests/%2e%2e", 400, serve.CodeTagInvalid},
		{"GET", "/v2/r/manifests/" + strings.Repeat("t", 129), 400, serve.CodeTagInvalid},
		{"PUT", "/v2/r/manifests/..%2f..%2fx", 400, serve.CodeTagInvalid},
		{"DELETE", "/v2/r/manifests/%2e%2e", 400, serve.CodeTagInvalid},
		{"GET", "/v2/r/blobs/sha256:..%2f..%2findex.json", 400, serve.CodeDigestInvalid},
		{"GET", "/v2/r/blobs/sha256%3a%2e%2e", 400, serve.CodeDigestInvalid},
		{"GET", "/v2/r/blobs/" + d + "%2f..", 400, serve.CodeDigestInvalid},
		{"GET", "/v2/r/blobs/" + d + strings.Repeat("0", 300), 400, serve.CodeDigestInvalid},
		{"GET", "/v2/r/manifests/sha256:../../x", 400, serve.CodeDigestInvalid},
		{"DELETE", "/v2/r/blobs/..%2f..%2findex.json", 400, serve.CodeDigestInvalid},
		{"GET", "/v2/r/referrers/..%2f..", 400, serve.CodeDigestInvalid},
		{"POST", "/v2/r/blobs/uploads/?digest=sha256:..%2f..%2fx", 400, serve.CodeDigestInvalid},
		{"PATCH", "/v2/r/blobs/uploads/..%2f..%2fx", 404, serve.CodeBlobUploadUnknown},
		{"PUT", "/v2/r/blobs/uploads/%2e%2e?digest=" + d, 404, serve.CodeBlobUploadUnknown},
		{"DELETE", "/v2/r/blobs/uploads/..", 404, serve.CodeBlobUploadUnknown},
	}
	for _, c := range cases {
		got, err := raw(t, host, c.method+" "+c.target+" HTTP/1.1\r\nHost: "+host+"\r\nContent-Length: 9\r\n", []byte("traversal"))
		if err != nil {
			t.Errorf("%s %s: %v", c.method, c.target, err)
			continue
		}
		if got.status != c.status || errorCode(t, got.body) != c.code {
			t.Errorf("%s %s: %d %s, want %d %s", c.method, c.target, got.status, got.body, c.status, c.code)
		}
	}
	testkit.Unchanged(t, before, l.Path())
	testkit.Unchanged(t, beforeOut, outside)
	if tmp := testkit.TmpFiles(t, l.Path()); len(tmp) != 0 {
		t.Errorf("temporary files: %v", tmp)
	}
}
