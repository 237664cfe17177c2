package testkit

import (
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/ocipack/ocipack/graph"
)

// PlatformImage is one platform's image of a multi-platform index built by
// PushPlatformIndex.
type PlatformImage struct {
	// Platform is as given ("linux/arm64/v8").
	Platform string
	// Manifest is the image manifest's descriptor, platform set, as the
	// index lists it.
	Manifest ocispec.Descriptor
	// Blobs are its config and its one layer.
	Blobs []ocispec.Descriptor
}

// PushPlatformIndex pushes into target (a registry repository or a layout)
// an image for each platform ("os/arch[/variant]"; its config states os,
// architecture and variant, its one layer is its own) and an OCI index
// listing them in the order given, tagged tag when not "", and returns the
// index's descriptor and the images.
func PushPlatformIndex(t testing.TB, target oras.Target, tag string, platforms ...string) (ocispec.Descriptor, []PlatformImage) {
	t.Helper()
	var imgs []PlatformImage
	var children []ocispec.Descriptor
	for _, p := range platforms {
		img := PushPlatformImage(t, target, "", p)
		imgs = append(imgs, img)
		children = append(children, img.Manifest)
	}
	idx := PushJSON(t, target, graph.MediaTypeOCIIndex, map[string]any{
		"schemaVersion": 2, "mediaType": graph.MediaTypeOCIIndex, "manifests": children,
	}, tag)
	return idx, imgs
}

// PushPlatformImage pushes into target a single image of platform p
// ("os/arch[/variant]": its config states them), tagged tag when not "".
func PushPlatformImage(t testing.TB, target oras.Target, tag, p string) PlatformImage {
	t.Helper()
	parts := strings.Split(p, "/")
	plat := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) > 2 {
		plat.Variant = parts[2]
	}
	cfg := PushJSON(t, target, ocispec.MediaTypeImageConfig, map[string]any{
		"os": plat.OS, "architecture": plat.Architecture, "variant": plat.Variant,
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{}},
	}, "")
	layer := PushJSON(t, target, ocispec.MediaTypeImageLayer, "the layer of "+p, "")
	m := PushJSON(t, target, ocispec.MediaTypeImageManifest, map[string]any{
		"schemaVersion": 2, "mediaType": ocispec.MediaTypeImageManifest, "config": cfg, "layers": []ocispec.Descriptor{layer},
	}, tag)
	m.Platform = &plat
	return PlatformImage{Platform: p, Manifest: m, Blobs: []ocispec.Descriptor{cfg, layer}}
}
