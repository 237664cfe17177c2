package layout_test

import (
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

// emptyIndex is the index a new layout has.
var emptyIndex = ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}

// twoManifests is a new layout holding two untagged manifests: m1 of
// artifact type application/x.one, m2 of application/x.two.
func twoManifests(t *testing.T) (l *layout.Layout, m1, m2 ocispec.Descriptor) {
	t.Helper()
	l = testkit.NewLayout(t)
	return l, testkit.StoreManifest(t, l, "application/x.one", "one"), testkit.StoreManifest(t, l, "application/x.two", "two")
}
