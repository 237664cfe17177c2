package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/serve"
)

// TestHelmServeE2E checks serve against a real helm binary (Helm's
// registry client), named by the HELM_BIN environment variable (skipped
// when it is unset), over plain HTTP:
//
//  1. a chart packed by `ocipack pack --helm` and served read-only is
//     pulled by `helm pull oci://HOST/charts/hello --version 0.1.0`, byte
//     for byte;
//  2. `helm push` of the chart to `serve --writable` makes the entry
//     helmpushed/hello:0.1.0, whose layer is the chart, and helm pulls it
//     back, byte for byte.
//
// Build helm with: GOBIN=/tmp/helm-bin go install helm.sh/helm/v3/cmd/helm@v3.22.0
// then run: HELM_BIN=/tmp/helm-bin/helm go test ./internal/cli -run HelmServeE2E -v
func TestHelmServeE2E(t *testing.T) {
	run := testkit.Helm(t)
	ctx := context.Background()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	chart := filepath.Join("..", "..", "testdata", "example", "hello-0.1.0.tgz")
	chartBytes := testkit.ReadFile(t, chart)

	startServe := func(t *testing.T, opts serve.Options) string {
		t.Helper()
		srv, err := serve.New(ctx, opts)
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
		hs := httptest.NewServer(srv)
		t.Cleanup(func() { hs.Close(); srv.Close() })
		return strings.TrimPrefix(hs.URL, "http://")
	}
	pull := func(t *testing.T, ref string) []byte {
		t.Helper()
		dir := t.TempDir()
		run(t, "pull", ref, "--version", "0.1.0", "--plain-http", "-d", dir)
		got, err := filepath.Glob(filepath.Join(dir, "*.tgz"))
		if err != nil || len(got) != 1 {
			t.Fatalf("helm pull wrote %v (%v)", got, err)
		}
		return testkit.ReadFile(t, got[0])
	}

	t.Run("pull", func(t *testing.T) {
		charts := filepath.Join(t.TempDir(), "charts")
		if code, stdout, stderr := runCLI(t, "pack", charts, "--helm", chart, "-q"); code != 0 {
			t.Fatalf("pack --helm: exit %d\n%s\n%s", code, stdout, stderr)
		}
		before := testkit.Snapshot(t, charts)
		host := startServe(t, serve.Options{Path: charts, Repo: "charts/hello"})
		if b := pull(t, "oci://"+host+"/charts/hello"); !bytes.Equal(b, chartBytes) {
			t.Errorf("helm pull from serve got %d bytes, not the chart's %d", len(b), len(chartBytes))
		}
		testkit.Unchanged(t, before, charts)
	})

	t.Run("push", func(t *testing.T) {
		pushed := filepath.Join(t.TempDir(), "pushed") // does not exist yet
		host := startServe(t, serve.Options{Path: pushed, Writable: true})
		out := run(t, "push", chart, "oci://"+host+"/helmpushed", "--plain-http")
		t.Logf("%s", out)
		entry := testkit.IndexTags(t, pushed)["helmpushed/hello:0.1.0"]
		if entry == "" || !strings.Contains(out, "Digest: "+entry+"\n") {
			t.Fatalf("helm push said\n%s\nthe layout's entries: %v, want helmpushed/hello:0.1.0 at that digest", out, testkit.IndexTags(t, pushed))
		}
		l, err := layout.Open(ctx, pushed)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if rep, err := l.Check(ctx, layout.CheckOptions{}); err != nil || !rep.OK() {
			t.Fatalf("layout after helm push: %v %+v", err, rep)
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(testkit.ReadFile(t, testkit.BlobPath(pushed, entry)), &m); err != nil {
			t.Fatal(err)
		}
		if m.Config.MediaType != "application/vnd.cncf.helm.config.v1+json" || len(m.Layers) != 1 ||
			!bytes.Equal(testkit.ReadFile(t, testkit.BlobPath(pushed, m.Layers[0].Digest.String())), chartBytes) {
			t.Fatalf("helm push stored manifest %s: %+v, not the chart as its one layer", entry, m)
		}
		if b := pull(t, "oci://"+host+"/helmpushed/hello"); !bytes.Equal(b, chartBytes) {
			t.Errorf("helm pull of the pushed chart got %d bytes, not the chart's %d", len(b), len(chartBytes))
		}
	})
}
