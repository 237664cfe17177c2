package serve_test

import (
	"context"
	"io"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/regclient/regclient"
	"github.com/regclient/regclient/config"
	"github.com/regclient/regclient/types/manifest"
	"github.com/regclient/regclient/types/ref"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/serve"
)

// TestRegclient: regclient pulls an index, a manifest and a blob from
// serve, and copies an image from an OCI layout (its ocidir://) into serve
// --writable, over plain HTTP, over TLS, and over TLS with htpasswd (where
// a wrong password gets nothing).
func TestRegclient(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"plain", "tls", "tls+htpasswd"} {
		t.Run(mode, func(t *testing.T) {
			l := testkit.NewLayout(t)
			idx, imgs := testkit.PushPlatformIndex(t, l, "v1", "linux/amd64", "linux/arm64")
			opts := serve.Options{Path: l.Path(), Repo: "r", Writable: true}
			host := config.Host{TLS: config.TLSDisabled}
			if mode == "plain" {
				host.Name, _ = start(t, opts)
			} else {
				if mode == "tls+htpasswd" {
					opts.Htpasswd = writeHtpasswd(t, "alice", "s3cret")
					host.User, host.Pass = "alice", "s3cret"
				}
				s := startTLS(t, opts)
				host.Name, host.TLS, host.RegCert = s.host, config.TLSEnabled, s.caPEM
			}
			newClient := func(h config.Host) *regclient.RegClient {
				return regclient.New(regclient.WithConfigHost(h), regclient.WithRetryLimit(1))
			}
			rc := newClient(host)
			parse := func(s string) ref.Ref {
				r, err := ref.New(s)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}

			if mode == "tls+htpasswd" {
				bad := host
				bad.Pass = "nope"
				if _, err := newClient(bad).ManifestGet(ctx, parse(host.Name+"/r:v1")); err == nil {
					t.Fatal("regclient with a wrong password got the manifest")
				}
			}

			// Pull: the index by tag, a platform's manifest by digest, its layer.
			m, err := rc.ManifestGet(ctx, parse(host.Name+"/r:v1"))
			if err != nil {
				t.Fatalf("ManifestGet r:v1: %v", err)
			}
			if d := m.GetDescriptor().Digest; d != idx.Digest {
				t.Fatalf("index %s, want %s", d, idx.Digest)
			}
			img := imgs[1]
			m, err = rc.ManifestGet(ctx, parse(host.Name+"/r@"+img.Manifest.Digest.String()))
			if err != nil {
				t.Fatalf("ManifestGet by digest: %v", err)
			}
			layers, err := m.(manifest.Imager).GetLayers()
			if err != nil || len(layers) != 1 || layers[0].Digest != img.Blobs[1].Digest {
				t.Fatalf("layers %v (%v), want %s", layers, err, img.Blobs[1].Digest)
			}
			br, err := rc.BlobGet(ctx, parse(host.Name+"/r"), layers[0])
			if err != nil {
				t.Fatalf("BlobGet: %v", err)
			}
			b, err := io.ReadAll(br)
			br.Close()
			if err != nil || digest.FromBytes(b) != img.Blobs[1].Digest {
				t.Fatalf("blob: %d bytes, %v", len(b), err)
			}

			// Push: copy an image from an OCI layout into serve.
			src := testkit.NewLayout(t)
			pushed := testkit.StoreManifest(t, src, "application/x.regclient", "from regclient "+mode)
			testkit.Tag(t, src, pushed, "v2")
			if err := rc.ImageCopy(ctx, parse("ocidir://"+src.Path()+":v2"), parse(host.Name+"/rc/pushed:v2")); err != nil {
				t.Fatalf("ImageCopy into serve: %v", err)
			}
			if got := testkit.IndexTags(t, l.Path())["rc/pushed:v2"]; got != pushed.Digest.String() {
				t.Fatalf("entry rc/pushed:v2 = %q, want %s", got, pushed.Digest)
			}
			tags, err := rc.TagList(ctx, parse(host.Name+"/rc/pushed"))
			if err != nil || len(tags.Tags) != 1 || tags.Tags[0] != "v2" {
				t.Fatalf("tags of rc/pushed: %v %v", tags, err)
			}
			if rep, err := l.Check(ctx, layout.CheckOptions{}); err != nil || !rep.OK() {
				t.Fatalf("served layout after the push: %v %+v", err, rep)
			}
		})
	}
}
