package pack_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
)

const (
	helloChart  = "../testdata/example/hello-0.1.0.tgz"
	fullChart   = "../testdata/helm/full-1.2.3-rc.1+build.7.tgz"
	legacyChart = "../testdata/helm/legacy-0.3.0.tgz"
)

// The config blobs `helm push` writes for the test charts. Ground truth: the
// output of json.Marshal(ch.Metadata) after loader.Load(chart) with
// helm.sh/helm/v3 v3.22.0, which is what pkg/registry Client.Push stores
// (extractChartMeta, then json.Marshal(meta)); for hello it was also
// checked against a real `helm push` (see helm_e2e_test.go).
const (
	helloConfigJSON = `{"name":"hello","version":"0.1.0","description":"A small example chart that ocipack's tests and README pack.","apiVersion":"v2","appVersion":"1.16.0","type":"application"}`
	// Description: newlines and tab sanitized to spaces, <, > and &
	// escaped by encoding/json. appVersion: the unquoted YAML float 2.10
	// becomes "2.1", as in Helm. Unknown fields dropped.
	fullConfigJSON = `{"name":"full","home":"https://example.com/full","sources":["https://github.com/example/full","https://mirror.example.com/full"],"version":"1.2.3-rc.1+build.7","description":"A chart with every field set, \u003cb\u003e\u0026\u003c/b\u003e \"quotes\". ","keywords":["demo","tab here"],"maintainers":[{"name":"Ada Lovelace","email":"ada@example.com","url":"https://example.com/ada"},{"name":"Bob"},{"email":"nobody@example.com"}],"icon":"https://example.com/icon.png","apiVersion":"v2","condition":"full.enabled","tags":"frontend","appVersion":"2.1","deprecated":true,"annotations":{"category":"Demo","licenses":"Apache-2.0","org.opencontainers.image.title":"ignored","org.opencontainers.image.url":"https://example.com/override"},"kubeVersion":"\u003e=1.22.0-0","dependencies":[{"name":"redis","version":"~17.0","repository":"https://charts.example.com","condition":"redis.enabled","tags":["cache"],"import-values":[{"child":"default.data","parent":"myimports"},"data"],"alias":"cache-1"},{"name":"common","repository":"file://../common"}],"type":"application"}`
	// No apiVersion: v1. requirements.yaml merged into the dependencies.
	legacyConfigJSON = `{"name":"legacy","version":"0.3.0","description":"A Helm 2 style chart without apiVersion.","apiVersion":"v1","dependencies":[{"name":"mysql","version":"1.6.9","repository":"https://charts.helm.sh/stable"}]}`

	// The manifest digests `helm push` (v3.22.0) gives the test charts when
	// their mtime is 2024-01-01T00:00:00Z and TZ=UTC (helm writes the
	// chart file's mtime as created), found by TestHelmE2E with a real
	// helm binary, which compares the manifests byte for byte.
	helloManifestDigest  = "sha256:29693ed2a6792ca9a2f19be496de964e5f7156d8a336626d34a68ac71b9b0488"
	fullManifestDigest   = "sha256:5b1a6fb1f79c93cde89f7b426ba18e2513fc80a4c2b762d64b9b2dfff0dae9ca"
	legacyManifestDigest = "sha256:92b77ffa5b4b4662d447882963259697700f57893ec9ca2ae495275929f66c58"
)

var epoch2024 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func blob(t *testing.T, l *layout.Layout, d ocispec.Descriptor) []byte {
	t.Helper()
	b := testkit.FetchBytes(t, l, d)
	if got := digest.FromBytes(b); got != d.Digest {
		t.Fatalf("blob %s hashes to %s", d.Digest, got)
	}
	return b
}

// packedManifest returns the manifest res describes, parsed, and as raw JSON
// fields.
func packedManifest(t *testing.T, l *layout.Layout, res *pack.Result) (ocispec.Manifest, map[string]json.RawMessage) {
	t.Helper()
	b := blob(t, l, res.Manifest)
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	return m, raw
}

func TestPackHelmHello(t *testing.T) {
	ctx := context.Background()
	l := testkit.NewLayout(t)
	res, err := pack.PackHelm(ctx, l, "0.1.0", helloChart, pack.Options{SourceDateEpoch: &epoch2024})
	if err != nil {
		t.Fatal(err)
	}

	// The layer: the .tgz verbatim, Helm's media type, no annotations.
	chartBytes := testkit.ReadFile(t, helloChart)
	if len(res.Layers) != 1 {
		t.Fatalf("got %d layers, want 1", len(res.Layers))
	}
	layer := res.Layers[0]
	if layer.MediaType != pack.HelmChartMediaType || layer.Annotations != nil {
		t.Errorf("layer = %+v, want media type %s and no annotations", layer, pack.HelmChartMediaType)
	}
	if got := blob(t, l, layer); !bytes.Equal(got, chartBytes) {
		t.Errorf("the layer's %d bytes differ from the chart file's %d", len(got), len(chartBytes))
	}

	m, raw := packedManifest(t, l, res)
	if _, ok := raw["mediaType"]; ok {
		t.Errorf("the manifest has a mediaType field; Helm writes none")
	}
	if _, ok := raw["artifactType"]; ok || m.ArtifactType != "" || res.Manifest.ArtifactType != "" {
		t.Errorf("the manifest has an artifactType; Helm sets none")
	}
	if m.SchemaVersion != 2 || m.Config.MediaType != pack.HelmConfigMediaType {
		t.Errorf("schemaVersion %d, config media type %q", m.SchemaVersion, m.Config.MediaType)
	}
	if !slices.EqualFunc(m.Layers, res.Layers, func(a, b ocispec.Descriptor) bool {
		return a.Digest == b.Digest && a.MediaType == b.MediaType && a.Size == b.Size
	}) {
		t.Errorf("manifest layers %v, result layers %v", m.Layers, res.Layers)
	}
	if got := string(blob(t, l, m.Config)); got != helloConfigJSON {
		t.Errorf("config blob\n got %s\nwant %s", got, helloConfigJSON)
	}
	var meta map[string]any
	if err := json.Unmarshal(blob(t, l, m.Config), &meta); err != nil {
		t.Fatal(err)
	}
	if meta["name"] != "hello" || meta["version"] != "0.1.0" || meta["appVersion"] != "1.16.0" || meta["apiVersion"] != "v2" {
		t.Errorf("config %v", meta)
	}
	wantAnn := map[string]string{
		ocispec.AnnotationTitle:       "hello",
		ocispec.AnnotationVersion:     "0.1.0",
		ocispec.AnnotationDescription: "A small example chart that ocipack's tests and README pack.",
		ocispec.AnnotationCreated:     "2024-01-01T00:00:00Z",
	}
	if !maps.Equal(m.Annotations, wantAnn) {
		t.Errorf("annotations\n got %v\nwant %v", m.Annotations, wantAnn)
	}

	// The whole manifest, byte for byte as Helm marshals it.
	wantManifest := fmt.Sprintf(`{"schemaVersion":2,"config":{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.cncf.helm.chart.content.v1.tar+gzip","digest":"%s","size":%d}],"annotations":{"org.opencontainers.image.created":"2024-01-01T00:00:00Z","org.opencontainers.image.description":"A small example chart that ocipack's tests and README pack.","org.opencontainers.image.title":"hello","org.opencontainers.image.version":"0.1.0"}}`,
		digest.FromString(helloConfigJSON), len(helloConfigJSON), digest.FromBytes(chartBytes), len(chartBytes))
	if got := string(blob(t, l, res.Manifest)); got != wantManifest {
		t.Errorf("manifest\n got %s\nwant %s", got, wantManifest)
	}
	if res.Manifest.Digest.String() != helloManifestDigest {
		t.Errorf("manifest digest %s, want %s (helm push's)", res.Manifest.Digest, helloManifestDigest)
	}

	// The tag.
	desc, err := l.Resolve(ctx, "0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != res.Manifest.Digest || desc.MediaType != ocispec.MediaTypeImageManifest || desc.Size != res.Manifest.Size {
		t.Errorf("tag 0.1.0 -> %+v, want %+v", desc, res.Manifest)
	}
	tags, err := l.Tags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != 1 || tags[0].Tag != "0.1.0" {
		t.Errorf("tags %v, want just 0.1.0", tags)
	}
}

func TestPackHelmReproducible(t *testing.T) {
	ctx := context.Background()
	// A copy of the chart with another mtime: with SourceDateEpoch, the
	// file's mtime does not matter.
	cp := filepath.Join(t.TempDir(), "hello-0.1.0.tgz")
	testkit.WriteFile(t, cp, testkit.ReadFile(t, helloChart))
	digests := map[string]bool{}
	for _, p := range []string{helloChart, cp} {
		res, err := pack.PackHelm(ctx, testkit.NewLayout(t), "0.1.0", p, pack.Options{SourceDateEpoch: &epoch2024})
		if err != nil {
			t.Fatal(err)
		}
		digests[res.Manifest.Digest.String()] = true
	}
	if len(digests) != 1 {
		t.Errorf("two packs with one SourceDateEpoch gave %d manifest digests: %v", len(digests), digests)
	}
	later := epoch2024.Add(time.Hour)
	res, err := pack.PackHelm(ctx, testkit.NewLayout(t), "0.1.0", cp, pack.Options{SourceDateEpoch: &later})
	if err != nil {
		t.Fatal(err)
	}
	if digests[res.Manifest.Digest.String()] {
		t.Errorf("another SourceDateEpoch gave the same manifest digest")
	}
}

func TestPackHelmCreatedIsFileMtime(t *testing.T) {
	// Without SourceDateEpoch, created is the chart file's modification
	// time, as `helm push` writes it (in UTC).
	cp := filepath.Join(t.TempDir(), "hello-0.1.0.tgz")
	testkit.WriteFile(t, cp, testkit.ReadFile(t, helloChart))
	mtime := time.Date(2023, 5, 6, 7, 8, 9, 500_000_000, time.FixedZone("CEST", 2*3600))
	if err := os.Chtimes(cp, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	l := testkit.NewLayout(t)
	res, err := pack.PackHelm(context.Background(), l, "", cp, pack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := packedManifest(t, l, res)
	if got, want := m.Annotations[ocispec.AnnotationCreated], "2023-05-06T05:08:09Z"; got != want {
		t.Errorf("created %q, want %q", got, want)
	}
}

func TestPackHelmFullAndLegacyMatchHelm(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		path, tag, config, manifest string
		annotations                 map[string]string
	}{
		{
			path:     fullChart,
			tag:      "1.2.3-rc.1_build.7",
			config:   fullConfigJSON,
			manifest: fullManifestDigest,
			annotations: map[string]string{
				ocispec.AnnotationTitle:       "full", // not the chart's "ignored"
				ocispec.AnnotationVersion:     "1.2.3-rc.1+build.7",
				ocispec.AnnotationDescription: `A chart with every field set, <b>&</b> "quotes". `,
				ocispec.AnnotationURL:         "https://example.com/override", // the chart's annotation wins over home
				ocispec.AnnotationSource:      "https://github.com/example/full",
				ocispec.AnnotationAuthors:     "Ada Lovelace (ada@example.com), Bob,  (nobody@example.com)",
				ocispec.AnnotationCreated:     "2024-01-01T00:00:00Z",
				"category":                    "Demo",
				"licenses":                    "Apache-2.0",
			},
		},
		{
			path:     legacyChart,
			tag:      "0.3.0",
			config:   legacyConfigJSON,
			manifest: legacyManifestDigest,
			annotations: map[string]string{
				ocispec.AnnotationTitle:       "legacy",
				ocispec.AnnotationVersion:     "0.3.0",
				ocispec.AnnotationDescription: "A Helm 2 style chart without apiVersion.",
				ocispec.AnnotationCreated:     "2024-01-01T00:00:00Z",
			},
		},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			l := testkit.NewLayout(t)
			// No tag: the chart's version, '+' replaced by '_'.
			res, err := pack.PackHelm(ctx, l, "", tc.path, pack.Options{SourceDateEpoch: &epoch2024})
			if err != nil {
				t.Fatal(err)
			}
			m, _ := packedManifest(t, l, res)
			if got := string(blob(t, l, m.Config)); got != tc.config {
				t.Errorf("config blob\n got %s\nwant %s", got, tc.config)
			}
			if !maps.Equal(m.Annotations, tc.annotations) {
				t.Errorf("annotations\n got %v\nwant %v", m.Annotations, tc.annotations)
			}
			if got := blob(t, l, res.Layers[0]); !bytes.Equal(got, testkit.ReadFile(t, tc.path)) {
				t.Errorf("the layer differs from the chart file")
			}
			if res.Manifest.Digest.String() != tc.manifest {
				t.Errorf("manifest digest %s, want %s (helm push's)", res.Manifest.Digest, tc.manifest)
			}
			if d, err := l.Resolve(ctx, tc.tag); err != nil || d.Digest != res.Manifest.Digest {
				t.Errorf("tag %s: %v, %v", tc.tag, d.Digest, err)
			}
			meta, err := pack.HelmChartMetadata(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := json.Marshal(meta); string(b) != tc.config {
				t.Errorf("HelmChartMetadata JSON\n got %s\nwant %s", b, tc.config)
			}
		})
	}
}

func TestHelmChartMetadata(t *testing.T) {
	meta, err := pack.HelmChartMetadata(helloChart)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Name != "hello" || meta.Version != "0.1.0" || meta.AppVersion != "1.16.0" || meta.APIVersion != "v2" || meta.Type != "application" {
		t.Errorf("metadata %+v", meta)
	}
	if got := pack.HelmTag("1.2.3+build.7"); got != "1.2.3_build.7" {
		t.Errorf("HelmTag = %q", got)
	}
}

func TestPackHelmTagMismatch(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ chart, tag, want string }{
		{helloChart, "v0.1.0", `use tag "0.1.0"`},
		{helloChart, "latest", `use tag "0.1.0"`},
		{fullChart, "1.2.3-rc.1", `use tag "1.2.3-rc.1_build.7"`},
		{fullChart, "1.2.3-rc.1+build.7", `use tag "1.2.3-rc.1_build.7"`},
	} {
		l := testkit.NewLayout(t)
		_, err := pack.PackHelm(ctx, l, tc.tag, tc.chart, pack.Options{})
		if !errors.Is(err, pack.ErrHelmTagMismatch) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s tagged %s: err = %v, want ErrHelmTagMismatch saying %s", tc.chart, tc.tag, err, tc.want)
		}
		assertNothingStored(t, l)
	}
}

func TestPackHelmOptions(t *testing.T) {
	ctx := context.Background()
	if _, err := pack.PackHelm(ctx, testkit.NewLayout(t), "", helloChart, pack.Options{ArtifactType: "application/x-foo"}); err == nil {
		t.Error("an artifact type was accepted")
	}
	if _, err := pack.PackHelm(ctx, testkit.NewLayout(t), "", helloChart, pack.Options{Config: &pack.Input{Path: helloChart}}); err == nil {
		t.Error("a config was accepted")
	}
	l := testkit.NewLayout(t)
	_, err := pack.PackHelm(ctx, l, "", helloChart, pack.Options{Annotations: map[string]string{ocispec.AnnotationTitle: "other"}})
	if err == nil || !strings.Contains(err.Error(), ocispec.AnnotationTitle) {
		t.Errorf("changing the title: err = %v", err)
	}
	assertNothingStored(t, l)

	var calls int
	var last, total int64
	res, err := pack.PackHelm(ctx, l, "", helloChart, pack.Options{
		SourceDateEpoch: &epoch2024,
		Annotations:     map[string]string{"com.example.team": "platform", ocispec.AnnotationTitle: "hello"},
		Progress:        func(done, tot int64) { calls++; last, total = done, tot },
	})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := packedManifest(t, l, res)
	if m.Annotations["com.example.team"] != "platform" || m.Annotations[ocispec.AnnotationTitle] != "hello" {
		t.Errorf("annotations %v", m.Annotations)
	}
	size := int64(len(testkit.ReadFile(t, helloChart)))
	if calls == 0 || last != size || total != size {
		t.Errorf("progress: %d calls, last (%d, %d), want (%d, %d)", calls, last, total, size, size)
	}
}

func TestPackHelmProvenance(t *testing.T) {
	// `helm push` pushes CHART.tgz.prov with the chart when it exists.
	dir := t.TempDir()
	cp := filepath.Join(dir, "hello-0.1.0.tgz")
	prov := []byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nnot a real signature\n")
	testkit.WriteFile(t, cp, testkit.ReadFile(t, helloChart))
	testkit.WriteFile(t, cp+".prov", prov)
	l := testkit.NewLayout(t)
	res, err := pack.PackHelm(context.Background(), l, "", cp, pack.Options{SourceDateEpoch: &epoch2024})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := packedManifest(t, l, res)
	if len(m.Layers) != 2 || m.Layers[0].Digest >= m.Layers[1].Digest {
		t.Fatalf("layers %v: want two, sorted by digest", m.Layers)
	}
	types := map[string][]byte{}
	for _, d := range m.Layers {
		types[d.MediaType] = blob(t, l, d)
	}
	if !bytes.Equal(types[pack.HelmProvenanceMediaType], prov) || !bytes.Equal(types[pack.HelmChartMediaType], testkit.ReadFile(t, helloChart)) {
		t.Errorf("layers %v do not hold the chart and its provenance", m.Layers)
	}
}

// assertNothingStored fails unless l has no tag and no blob.
func assertNothingStored(t *testing.T, l *layout.Layout) {
	t.Helper()
	tags, err := l.Tags(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != 0 {
		t.Errorf("tags %v after a refusal", tags)
	}
	blobs, err := os.ReadDir(filepath.Join(l.Path(), "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	if len(blobs) != 0 {
		t.Errorf("%d blobs stored after a refusal", len(blobs))
	}
}

type tarEntry struct {
	name string
	body string
	dir  bool
}

func writeTar(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hd := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		if e.dir {
			hd.Typeflag, hd.Mode, hd.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(hd); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// chartTgz returns a chart archive x/Chart.yaml holding chartYAML.
func chartTgz(t *testing.T, chartYAML string) []byte {
	return gzipped(t, writeTar(t, []tarEntry{{name: "x/", dir: true}, {name: "x/Chart.yaml", body: chartYAML}, {name: "x/values.yaml", body: "{}\n"}}))
}

func TestPackHelmRefuses(t *testing.T) {
	ctx := context.Background()
	random := make([]byte, 4096)
	rand.Read(random)
	const good = "apiVersion: v2\nname: x\nversion: 1.0.0\n"
	for _, tc := range []struct {
		name    string
		content []byte // nil: the file is path
		path    string
		want    string
	}{
		{name: "plain tar", path: "../testdata/example/app-1.0.tar", want: "uncompressed tar archive"},
		{name: "random.tgz", content: random, want: "not gzip-compressed"},
		{name: "empty.tgz", content: []byte{}, want: "empty"},
		{name: "values.yaml", content: []byte("replicaCount: 1\n"), want: "YAML file"},
		{name: "gzip-not-tar.tgz", content: gzipped(t, random), want: "not a valid gzip-compressed tar"},
		{name: "truncated.tgz", content: testkit.ReadFile(t, helloChart)[:200], want: "not a valid gzip-compressed tar"},
		{name: "no-files.tgz", content: gzipped(t, writeTar(t, []tarEntry{{name: "x/", dir: true}})), want: "holds no files"},
		{name: "no-chart-yaml.tgz", content: gzipped(t, writeTar(t, []tarEntry{{name: "x/values.yaml", body: "{}"}})), want: "has no Chart.yaml"},
		{name: "top-chart-yaml.tgz", content: gzipped(t, writeTar(t, []tarEntry{{name: "Chart.yaml", body: good}})), want: "at the top of the archive"},
		{name: "deep-chart-yaml.tgz", content: gzipped(t, writeTar(t, []tarEntry{{name: "x/sub/Chart.yaml", body: good}})), want: "has no Chart.yaml"},
		{name: "two-chart-yaml.tgz", content: gzipped(t, writeTar(t, []tarEntry{{name: "x/Chart.yaml", body: good}, {name: "y/Chart.yaml", body: good}})), want: "two Chart.yaml"},
		{name: "parent.tgz", content: gzipped(t, writeTar(t, []tarEntry{{name: "x/Chart.yaml", body: good}, {name: "x/../../etc/passwd", body: "x"}})), want: "parent directory"},
		{name: "no-version.tgz", content: chartTgz(t, "apiVersion: v2\nname: x\n"), want: "x/Chart.yaml has no version"},
		{name: "no-name.tgz", content: chartTgz(t, "apiVersion: v2\nversion: 1.0.0\n"), want: "x/Chart.yaml has no name"},
		{name: "v3.tgz", content: chartTgz(t, "apiVersion: v3\nname: x\nversion: 1.0.0\n"), want: `apiVersion "v3"`},
		{name: "bad-yaml.tgz", content: chartTgz(t, "apiVersion: v2\nname: [x\n"), want: "invalid x/Chart.yaml"},
		{name: "bad-type.tgz", content: chartTgz(t, "apiVersion: v2\nname: x\nversion: 1.0.0\ntype: plugin\n"), want: `type "plugin"`},
		{name: "slash-name.tgz", content: chartTgz(t, "apiVersion: v2\nname: a/b\nversion: 1.0.0\n"), want: `name "a/b"`},
		{name: "huge-chart-yaml.tgz", content: chartTgz(t, good+"description: "+strings.Repeat("x", pack.MaxHelmChartYAMLSize)+"\n"), want: "larger than 1048576 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.path
			if p == "" {
				p = filepath.Join(t.TempDir(), tc.name)
				testkit.WriteFile(t, p, tc.content)
			}
			l := testkit.NewLayout(t)
			_, err := pack.PackHelm(ctx, l, "", p, pack.Options{})
			if !errors.Is(err, pack.ErrNotHelmChart) {
				t.Fatalf("err = %v, want ErrNotHelmChart", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, p) || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line naming %s and saying %q", msg, p, tc.want)
			}
			assertNothingStored(t, l)
			if _, err := pack.HelmChartMetadata(p); !errors.Is(err, pack.ErrNotHelmChart) {
				t.Errorf("HelmChartMetadata: err = %v, want ErrNotHelmChart", err)
			}
		})
	}

	t.Run("directory", func(t *testing.T) {
		_, err := pack.PackHelm(ctx, testkit.NewLayout(t), "", t.TempDir(), pack.Options{})
		if !errors.Is(err, pack.ErrNotHelmChart) || !strings.Contains(err.Error(), "helm package") {
			t.Errorf("err = %v, want ErrNotHelmChart suggesting helm package", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := pack.PackHelm(ctx, testkit.NewLayout(t), "", filepath.Join(t.TempDir(), "nope.tgz"), pack.Options{})
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err = %v, want not exist", err)
		}
	})
}

// TestPackHelmVersions checks the versions Helm accepts and refuses. Ground
// truth: loader.Load of a chart with each version, helm.sh/helm/v3 v3.22.0
// (Masterminds/semver/v3 v3.5.0 NewVersion).
func TestPackHelmVersions(t *testing.T) {
	ctx := context.Background()
	for _, v := range []string{"1", "1.2", "v1.2.3", "01.2.3", "1.2.3-alpha.1+meta", "1.2.3-0a", "1.2.3-rc.1+build.7"} {
		p := filepath.Join(t.TempDir(), "x.tgz")
		testkit.WriteFile(t, p, chartTgz(t, fmt.Sprintf("apiVersion: v2\nname: x\nversion: %q\n", v)))
		l := testkit.NewLayout(t)
		if _, err := pack.PackHelm(ctx, l, "", p, pack.Options{}); err != nil {
			t.Errorf("version %q: %v", v, err)
			continue
		}
		if _, err := l.Resolve(ctx, pack.HelmTag(v)); err != nil {
			t.Errorf("version %q: %v", v, err)
		}
	}
	for _, v := range []string{"1.2.3.4", "1.2.3-01", "latest", "1.2.3-", "99999999999999999999.0.0", "1.2.3+", "1.0.0+a_b"} {
		p := filepath.Join(t.TempDir(), "x.tgz")
		testkit.WriteFile(t, p, chartTgz(t, fmt.Sprintf("apiVersion: v2\nname: x\nversion: %q\n", v)))
		if _, err := pack.PackHelm(ctx, testkit.NewLayout(t), "", p, pack.Options{}); !errors.Is(err, pack.ErrNotHelmChart) || !strings.Contains(err.Error(), "not a semantic version") {
			t.Errorf("version %q: err = %v, want ErrNotHelmChart (not a semantic version)", v, err)
		}
	}
}
