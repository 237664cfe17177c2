package cli

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/serve"
)

// TestServePushedNamesTravel: `serve --writable` starts on a new
// directory; a push to it of team/app:1.0 becomes the entry team/app:1.0,
// which inspect, export (and ls of the archive), push --mirror and rm then
// address as LAYOUT:team/app:1.0 and give back under that name.
func TestServePushedNamesTravel(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	dir := t.TempDir()
	served := filepath.Join(dir, "served") // does not exist yet
	srv, err := serve.New(context.Background(), serve.Options{Path: served, Writable: true})
	if err != nil {
		t.Fatalf("serve --writable of a new directory: %v", err)
	}
	hs := httptest.NewServer(srv)
	defer func() { hs.Close(); srv.Close() }()
	host := strings.TrimPrefix(hs.URL, "http://")

	in := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(in, []byte("served content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	must := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("ocipack %s: exit %d\n%s\n%s", strings.Join(args, " "), code, stdout, stderr)
		}
		return stdout
	}
	packed := must("pack", filepath.Join(dir, "src")+":v1", in, "-q")
	must("push", filepath.Join(dir, "src")+":v1", host+"/team/app:1.0", "--plain-http", "-q")
	digest := packed[strings.Index(packed, "sha256:"):][:71]

	if out := must("ls", served); !strings.Contains(out, "team/app:1.0") || !strings.Contains(out, digest) {
		t.Errorf("ls of the served layout:\n%s", out)
	}
	if out := must("inspect", served+":team/app:1.0"); !strings.Contains(out, digest) {
		t.Errorf("inspect %s:team/app:1.0:\n%s", served, out)
	}
	arc := filepath.Join(dir, "x.tar")
	must("export", served+":team/app:1.0", arc, "-q")
	if out := must("ls", arc); !strings.Contains(out, "team/app:1.0") {
		t.Errorf("ls of the exported archive:\n%s", out)
	}

	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	must("push", "--mirror", served, reg.Host+"/m", "--plain-http", "-q")
	d, err := reg.Repository(t, "m/team/app").Resolve(context.Background(), "1.0")
	if err != nil || d.Digest.String() != digest {
		t.Errorf("mirror: m/team/app:1.0 = %v, %v; want %s", d.Digest, err, digest)
	}

	must("rm", served+":team/app:1.0")
	if out := must("ls", served); strings.Contains(out, "team/app") {
		t.Errorf("rm left the entry:\n%s", out)
	}
}

// TestServeMissingLayoutHint: serving a directory that is no layout, read
// only, says how to start a new registry instead.
func TestServeMissingLayoutHint(t *testing.T) {
	code, _, stderr := runCLI(t, "serve", filepath.Join(t.TempDir(), "none"), "--addr", "127.0.0.1:0", "--quiet")
	if code != 1 || !strings.Contains(stderr, "not an OCI image layout") || !strings.Contains(stderr, "add --writable") {
		t.Errorf("serve of a missing layout: exit %d, %q", code, stderr)
	}
}
