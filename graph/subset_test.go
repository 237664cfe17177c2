package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/memory"

	"github.com/ocipack/ocipack/graph"
)

// platformImage stores an image manifest whose config states p
// ("os/arch[/variant]") and returns its descriptor, platform set.
func platformImage(t *testing.T, s *memory.Store, p string) ocispec.Descriptor {
	t.Helper()
	raw := strings.Split(p, "/")
	cfg := map[string]any{"os": raw[0], "architecture": raw[1], "rootfs": map[string]any{"type": "layers"}}
	if len(raw) > 2 {
		cfg["variant"] = raw[2]
	}
	c := storeJSON(t, s, ocispec.MediaTypeImageConfig, cfg)
	layer := store(t, s, ocispec.MediaTypeImageLayer, []byte("layer of "+p))
	m := storeJSON(t, s, ocispec.MediaTypeImageManifest, ocispec.Manifest{Versioned: specsV2, MediaType: ocispec.MediaTypeImageManifest, Config: c, Layers: []ocispec.Descriptor{layer}})
	m.Platform = &ocispec.Platform{OS: raw[0], Architecture: raw[1]}
	if len(raw) > 2 {
		m.Platform.Variant = raw[2]
	}
	return m
}

func TestSelectPlatforms(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	amd := platformImage(t, s, "linux/amd64")
	arm64 := platformImage(t, s, "linux/arm64/v8")
	arm := platformImage(t, s, "linux/arm/v7")
	att := storeJSON(t, s, ocispec.MediaTypeImageManifest, ocispec.Manifest{Versioned: specsV2, MediaType: ocispec.MediaTypeImageManifest,
		Config: store(t, s, "application/vnd.oci.empty.v1+json", []byte("{}"))})
	att.Platform = &ocispec.Platform{OS: "unknown", Architecture: "unknown"}
	att.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": arm64.Digest.String()}
	children := []ocispec.Descriptor{amd, arm64, arm, att}
	root := storeJSON(t, s, ocispec.MediaTypeImageIndex, ocispec.Index{Versioned: specsV2, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: children, Annotations: map[string]string{"org.example": "kept"}})

	for _, tc := range []struct {
		want     string
		children []ocispec.Descriptor
	}{
		{"linux/arm64", []ocispec.Descriptor{arm64, att}},
		{"linux/aarch64/v8", []ocispec.Descriptor{arm64, att}},
		{"linux/arm", []ocispec.Descriptor{arm}},
		{"linux/arm/v7,linux/x86_64", []ocispec.Descriptor{amd, arm}}, // source order, not the order asked
		{"linux/amd64/v1", []ocispec.Descriptor{amd}},
		{"linux/amd64,linux/arm64,linux/arm", nil}, // all: unchanged
		{"", nil}, // no filter: unchanged
	} {
		var want []ocispec.Platform
		if tc.want != "" {
			var err error
			if want, err = graph.ParsePlatforms([]string{tc.want}); err != nil {
				t.Fatal(err)
			}
		}
		sub, err := graph.SelectPlatforms(ctx, s, root, want, "registry.example/app:v1")
		if err != nil {
			t.Fatalf("%s: %v", tc.want, err)
		}
		if tc.children == nil {
			if sub.Changed() || sub.Descriptor.Digest != root.Digest {
				t.Errorf("%s: made a new index %s; want the source unchanged", tc.want, sub.Descriptor.Digest)
			}
			continue
		}
		if !sub.Changed() || sub.Descriptor.Digest != digest.FromBytes(sub.Content) || sub.Descriptor.Size != int64(len(sub.Content)) || sub.Descriptor.MediaType != ocispec.MediaTypeImageIndex {
			t.Fatalf("%s: descriptor %+v does not describe the new index", tc.want, sub.Descriptor)
		}
		var idx ocispec.Index
		if err := json.Unmarshal(sub.Content, &idx); err != nil {
			t.Fatal(err)
		}
		got := make([]digest.Digest, len(idx.Manifests))
		for i, d := range idx.Manifests {
			got[i] = d.Digest
		}
		wantD := make([]digest.Digest, len(tc.children))
		for i, d := range tc.children {
			wantD[i] = d.Digest
		}
		if !slices.Equal(got, wantD) {
			t.Errorf("%s: children %v, want %v", tc.want, got, wantD)
		}
		if idx.Annotations[graph.AnnotationSubsetSourceDigest] != root.Digest.String() ||
			idx.Annotations[graph.AnnotationSubsetSourceRef] != "registry.example/app:v1" || idx.Annotations["org.example"] != "kept" ||
			idx.MediaType != ocispec.MediaTypeImageIndex || idx.SchemaVersion != 2 {
			t.Errorf("%s: index %s", tc.want, sub.Content)
		}
		if _, err := graph.Parse(sub.Descriptor, sub.Content); err != nil {
			t.Errorf("%s: the new index does not parse: %v", tc.want, err)
		}
	}

	// No match: the error lists what there is.
	_, err := graph.SelectPlatforms(ctx, s, root, []ocispec.Platform{{OS: "linux", Architecture: "s390x"}}, "x")
	var npe *graph.NoMatchingPlatformError
	if !errors.Is(err, graph.ErrNoMatchingPlatform) || !errors.As(err, &npe) ||
		!slices.Equal(npe.Available, []string{"linux/amd64", "linux/arm64/v8", "linux/arm/v7"}) ||
		!strings.Contains(err.Error(), "linux/amd64, linux/arm64/v8, linux/arm/v7") || !strings.Contains(err.Error(), "linux/s390x") {
		t.Errorf("no match: %v", err)
	}

	// A single image: its config's platform decides.
	if sub, err := graph.SelectPlatforms(ctx, s, arm64, []ocispec.Platform{{OS: "linux", Architecture: "arm64"}}, "x"); err != nil || sub.Changed() || sub.Descriptor.Digest != arm64.Digest {
		t.Errorf("single image of the platform: %+v, %v", sub, err)
	}
	_, err = graph.SelectPlatforms(ctx, s, arm64, []ocispec.Platform{{OS: "linux", Architecture: "amd64"}}, "x")
	if !errors.Is(err, graph.ErrNoMatchingPlatform) || !strings.Contains(err.Error(), "available: linux/arm64/v8") {
		t.Errorf("single image of another platform: %v", err)
	}
	// An artifact has no platform: it passes.
	if sub, err := graph.SelectPlatforms(ctx, s, att, []ocispec.Platform{{OS: "linux", Architecture: "amd64"}}, "x"); err != nil || sub.Changed() {
		t.Errorf("artifact: %+v, %v", sub, err)
	}

	// Nested indexes are refused, clearly.
	nested := storeJSON(t, s, ocispec.MediaTypeImageIndex, ocispec.Index{Versioned: specsV2, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{root}})
	if _, err := graph.SelectPlatforms(ctx, s, nested, []ocispec.Platform{{OS: "linux", Architecture: "amd64"}}, "x"); !errors.Is(err, graph.ErrNestedIndex) {
		t.Errorf("nested: %v", err)
	}
}

func TestParsePlatforms(t *testing.T) {
	got, err := graph.ParsePlatforms([]string{"linux/amd64,linux/arm64/v8", "linux/aarch64", " linux/arm "})
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, p := range got {
		s = append(s, graph.FormatPlatform(p))
	}
	if !slices.Equal(s, []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}) {
		t.Errorf("ParsePlatforms = %v", s)
	}
	for _, bad := range [][]string{{"linux/amd64,"}, {"linux"}, {""}} {
		if _, err := graph.ParsePlatforms(bad); err == nil {
			t.Errorf("ParsePlatforms(%q) accepted", bad)
		}
	}
}
