package pack_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"oras.land/oras-go/v2/registry/remote"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/pack"
	"github.com/ocipack/ocipack/transfer"
)

// TestHelmE2E checks PackHelm against a real helm binary, named by the
// HELM_BIN environment variable (skipped when it is unset):
//
//  1. a chart packed by PackHelm and copied to a registry is pulled by
//     `helm pull oci://… --version VERSION`, byte for byte, and rendered by
//     `helm template`;
//  2. `helm push` of the same chart, its mtime set to the SourceDateEpoch
//     used by PackHelm and TZ=UTC, stores the very same manifest: same
//     bytes, same digest.
//
// Build helm with: GOBIN=/tmp/helm-bin go install helm.sh/helm/v3/cmd/helm@v3.22.0
// then run: HELM_BIN=/tmp/helm-bin/helm go test ./pack -run HelmE2E -v
func TestHelmE2E(t *testing.T) {
	run := testkit.Helm(t)
	ctx := context.Background()
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})

	t.Logf("%s", run(t, "version"))

	for _, tc := range []struct{ chart, name, version string }{
		{helloChart, "hello", "0.1.0"},
		{fullChart, "full", "1.2.3-rc.1+build.7"},
		{legacyChart, "legacy", "0.3.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chartBytes := testkit.ReadFile(t, tc.chart)
			tag := pack.HelmTag(tc.version)

			// ocipack: pack, then copy to REGISTRY/charts/NAME:TAG.
			l := testkit.NewLayout(t)
			res, err := pack.PackHelm(ctx, l, "", tc.chart, pack.Options{SourceDateEpoch: &epoch2024})
			if err != nil {
				t.Fatal(err)
			}
			// ocipack push (transfer.Push) to REGISTRY/charts/NAME:VERSION.
			dst, err := transfer.ParseReference(reg.Ref("charts/" + tc.name))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := transfer.Push(ctx, l, tag, dst, tag, transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}}); err != nil {
				t.Fatal(err)
			}

			// helm pull gets the chart back, byte for byte.
			dir := t.TempDir()
			ref := "oci://" + reg.Ref("charts/"+tc.name)
			run(t, "pull", ref, "--version", tc.version, "--plain-http", "-d", dir)
			got, err := filepath.Glob(filepath.Join(dir, "*.tgz"))
			if err != nil || len(got) != 1 {
				t.Fatalf("helm pull wrote %v (%v)", got, err)
			}
			if b := testkit.ReadFile(t, got[0]); !bytes.Equal(b, chartBytes) {
				t.Errorf("helm pull got %d bytes, not the chart's %d", len(b), len(chartBytes))
			}
			if tc.name == "hello" {
				out := run(t, "template", "demo", ref, "--version", tc.version, "--plain-http")
				if !strings.Contains(out, "kind: Deployment") {
					t.Errorf("helm template rendered no Deployment:\n%s", out)
				}
			}

			// helm push writes the same manifest.
			cp := filepath.Join(t.TempDir(), filepath.Base(tc.chart))
			testkit.WriteFile(t, cp, chartBytes)
			if err := os.Chtimes(cp, epoch2024, epoch2024); err != nil {
				t.Fatal(err)
			}
			run(t, "push", cp, "oci://"+reg.Ref("helmpushed"), "--plain-http")
			pushed, err := remote.NewRepository(reg.Ref("helmpushed/" + tc.name))
			if err != nil {
				t.Fatal(err)
			}
			pushed.PlainHTTP = true
			desc, rc, err := pushed.FetchReference(ctx, tag)
			if err != nil {
				t.Fatal(err)
			}
			helmManifest, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			ours := blob(t, l, res.Manifest)
			if desc.Digest != res.Manifest.Digest || !bytes.Equal(helmManifest, ours) {
				t.Errorf("helm push wrote manifest %s\n%s\nocipack wrote %s\n%s", desc.Digest, helmManifest, res.Manifest.Digest, ours)
			}
			t.Logf("%s: helm push and ocipack both wrote manifest %s", tc.name, desc.Digest)
		})
	}
}
