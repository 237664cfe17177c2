package transfer_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/ocipack/ocipack/transfer"
)

// TestHTTPClientHostCredentials: the client sync downloads with sends a
// host the credential stored for that host, and no other: not to a second
// host it is redirected to, and not over plain HTTP unless asked.
func TestHTTPClientHostCredentials(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]string{} // server -> the Authorization header it saw last
	record := func(name string, h http.Handler) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[name] = r.Header.Get("Authorization")
			mu.Unlock()
			h.ServeHTTP(w, r)
		}))
	}
	other := record("other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("other")) }))
	defer other.Close()
	repo := record("repo", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "robot" || p != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/away" {
			http.Redirect(w, r, other.URL+"/file", http.StatusFound)
			return
		}
		w.Write([]byte("index"))
	}))
	defer repo.Close()

	store, err := credentials.NewStore(filepath.Join(t.TempDir(), "config.json"), credentials.StoreOptions{AllowPlaintextPut: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	host := strings.TrimPrefix(repo.URL, "http://")
	if err := store.Put(ctx, host, auth.Credential{Username: "robot", Password: "s3cret"}); err != nil {
		t.Fatal(err)
	}
	get := func(hc *http.Client, url string) (int, string) {
		t.Helper()
		resp, err := hc.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 64)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		return resp.StatusCode, b.String()
	}

	// Plain HTTP allowed: the stored credential goes to its host.
	hc, err := transfer.ConnectionOptions{PlainHTTP: true, Credentials: store}.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(hc, repo.URL+"/index.yaml"); code != 200 || body != "index" {
		t.Errorf("GET with the stored credential: %d %q", code, body)
	}
	// Redirected to another host: that host gets no credential.
	if code, body := get(hc, repo.URL+"/away"); code != 200 || body != "other" {
		t.Errorf("GET redirected: %d %q", code, body)
	}
	mu.Lock()
	if seen["other"] != "" {
		t.Errorf("the other host received %q", seen["other"])
	}
	mu.Unlock()

	// Without PlainHTTP, no credential is sent over plain HTTP.
	hc, err = transfer.ConnectionOptions{Credentials: store}.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := get(hc, repo.URL+"/index.yaml"); code != http.StatusUnauthorized {
		t.Errorf("plain HTTP without --plain-http: %d, want 401 (no credential sent)", code)
	}
	mu.Lock()
	if seen["repo"] != "" {
		t.Errorf("a credential went over plain HTTP: %q", seen["repo"])
	}
	mu.Unlock()
}
