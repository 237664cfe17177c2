package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// The annotations of an index that SelectPlatforms made from another: a
// platform subset records where it came from, so that a reader can fetch
// the source index and check that every child listed is one of its own.
// They share the prefix AnnotationSubsetPrefix.
const (
	// AnnotationSubsetPrefix begins the names of the annotations of a
	// platform subset.
	AnnotationSubsetPrefix = "io.ocipack.platform-subset."
	// AnnotationSubsetSourceDigest is the digest of the index the subset
	// was made from.
	AnnotationSubsetSourceDigest = AnnotationSubsetPrefix + "source.digest"
	// AnnotationSubsetSourceRef is the reference the source index was
	// read by (a registry reference such as registry.example/app:v1, or a
	// layout entry's name).
	AnnotationSubsetSourceRef = AnnotationSubsetPrefix + "source.ref"
	// AnnotationSubsetPlatforms lists the platforms asked for, comma
	// separated, as given (normalised).
	AnnotationSubsetPlatforms = AnnotationSubsetPrefix + "platforms"
)

// Docker's annotations of an attestation manifest (buildx's SBOM and
// provenance): an index child of platform unknown/unknown that belongs to
// the image manifest it names.
const (
	annotationDockerRefType   = "vnd.docker.reference.type"
	annotationDockerRefDigest = "vnd.docker.reference.digest"
	dockerAttestation         = "attestation-manifest"
)

// Sentinel errors of SelectPlatforms.
var (
	// ErrNoMatchingPlatform means no child of an index, or not the image
	// itself, is of a platform asked for. The error is a
	// *NoMatchingPlatformError, which lists the platforms there are.
	ErrNoMatchingPlatform = errors.New("no matching platform")
	// ErrNestedIndex means an index to be subset by platform lists another
	// index: ocipack does not subset nested indexes (it would have to make
	// a new index at every level); copy it whole, without a platform.
	ErrNestedIndex = errors.New("nested index")
)

// NoMatchingPlatformError says that an image or index has none of the
// platforms asked for, and which it has. It matches ErrNoMatchingPlatform.
type NoMatchingPlatformError struct {
	// Digest is the image's or index's.
	Digest digest.Digest
	// Want are the platforms asked for.
	Want []ocispec.Platform
	// Available are the platforms it has, in its order, formatted as
	// FormatPlatform does ("unknown" for a child that states none).
	Available []string
}

func (e *NoMatchingPlatformError) Error() string {
	want := make([]string, len(e.Want))
	for i, p := range e.Want {
		want[i] = FormatPlatform(p)
	}
	avail := "none"
	if len(e.Available) > 0 {
		avail = strings.Join(e.Available, ", ")
	}
	return fmt.Sprintf("%s: %s has no platform %s; available: %s", ErrNoMatchingPlatform, e.Digest, strings.Join(want, ", "), avail)
}

// Unwrap returns ErrNoMatchingPlatform.
func (e *NoMatchingPlatformError) Unwrap() error { return ErrNoMatchingPlatform }

// MatchAnyPlatform reports whether have matches one of want (MatchPlatform).
func MatchAnyPlatform(have *ocispec.Platform, want []ocispec.Platform) bool {
	for _, w := range want {
		if MatchPlatform(have, w) {
			return true
		}
	}
	return false
}

// ParsePlatforms parses platforms given as repeated or comma-separated
// values ("linux/amd64,linux/arm64" and "linux/arm/v7"), each with
// ParsePlatform, dropping repeats. Empty items are errors.
func ParsePlatforms(values []string) ([]ocispec.Platform, error) {
	var out []ocispec.Platform
	seen := map[string]bool{}
	for _, v := range values {
		for s := range strings.SplitSeq(v, ",") {
			p, err := ParsePlatform(strings.TrimSpace(s))
			if err != nil {
				return nil, err
			}
			if k := FormatPlatform(p); !seen[k] {
				seen[k] = true
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// Subset is what SelectPlatforms chose.
type Subset struct {
	// Source is the root asked about.
	Source ocispec.Descriptor
	// Descriptor is the root to copy: Source itself when every child
	// matched (or the root is a single image of a platform asked for, or
	// no platform was asked for), else the new index.
	Descriptor ocispec.Descriptor
	// Content is the new index's bytes; nil when Descriptor is Source.
	Content []byte
	// Platforms are the platforms of the children kept (of the image, for
	// a single image; empty for an artifact without a platform).
	Platforms []string
}

// Changed reports whether the subset is a new index.
func (s *Subset) Changed() bool { return s.Content != nil }

// SelectPlatforms chooses, of the graph root in f, what a copy limited to
// the platforms want carries:
//
//   - No platform asked for: root, unchanged.
//   - An index (OCI or Docker's manifest list): a new index of the same
//     media type and fields that lists exactly the children whose
//     platform matches one of want (MatchPlatform), in the source's order,
//     and the Docker attestation manifests (vnd.docker.reference.type
//     attestation-manifest) of the children kept, with the annotations
//     AnnotationSubsetSourceDigest (root's digest),
//     AnnotationSubsetSourceRef (sourceRef) and AnnotationSubsetPlatforms
//     added to the source's own. When every child is kept, root itself,
//     unchanged (its digest stays). An index that lists another index
//     fails with ErrNestedIndex.
//   - An image manifest whose config states an os and architecture: root,
//     when that platform matches one of want.
//   - A manifest without a platform (an artifact, an image whose config is
//     no image config or states no os): root, unchanged; a filter
//     concerns images.
//
// No match fails with a *NoMatchingPlatformError (ErrNoMatchingPlatform)
// that lists the platforms available. Only root and, for a single image,
// its config are read, each at most MaxManifestSize bytes.
func SelectPlatforms(ctx context.Context, f content.Fetcher, root ocispec.Descriptor, want []ocispec.Platform, sourceRef string) (*Subset, error) {
	s := &Subset{Source: root, Descriptor: root}
	if len(want) == 0 {
		return s, nil
	}
	m, err := Read(ctx, f, root)
	if err != nil {
		return nil, err
	}
	switch m.Kind {
	case KindIndex:
		return selectIndex(ctx, f, root, m, want, sourceRef)
	case KindImage:
		p, err := imagePlatform(ctx, f, *m.Config)
		if err != nil || p == nil {
			return s, err
		}
		if !MatchAnyPlatform(p, want) {
			return nil, &NoMatchingPlatformError{Digest: root.Digest, Want: want, Available: []string{FormatPlatform(*p)}}
		}
		s.Platforms = []string{FormatPlatform(NormalizePlatform(*p))}
	}
	return s, nil
}

func selectIndex(ctx context.Context, f content.Fetcher, root ocispec.Descriptor, m *Manifest, want []ocispec.Platform, sourceRef string) (*Subset, error) {
	s := &Subset{Source: root, Descriptor: root}
	var avail []string
	keep := make([]bool, len(m.Manifests))
	kept := map[digest.Digest]bool{}
	for i, d := range m.Manifests {
		if IsIndex(d.MediaType) {
			return nil, fmt.Errorf("index %s: %w: manifests[%d] (%s) is an index; --platform cannot subset nested indexes: copy it without --platform",
				root.Digest, ErrNestedIndex, i, d.Digest)
		}
		if d.Annotations[annotationDockerRefType] == dockerAttestation {
			continue
		}
		if d.Platform == nil {
			avail = append(avail, "unknown")
			continue
		}
		avail = append(avail, FormatPlatform(*d.Platform))
		if MatchAnyPlatform(d.Platform, want) {
			keep[i] = true
			kept[d.Digest] = true
			s.Platforms = append(s.Platforms, FormatPlatform(NormalizePlatform(*d.Platform)))
		}
	}
	if len(kept) == 0 {
		return nil, &NoMatchingPlatformError{Digest: root.Digest, Want: want, Available: avail}
	}
	var children []ocispec.Descriptor
	for i, d := range m.Manifests {
		if keep[i] || d.Annotations[annotationDockerRefType] == dockerAttestation && kept[digest.Digest(d.Annotations[annotationDockerRefDigest])] {
			children = append(children, d)
		}
	}
	if len(children) == len(m.Manifests) {
		return s, nil
	}
	wantS := make([]string, len(want))
	for i, p := range want {
		wantS[i] = FormatPlatform(NormalizePlatform(p))
	}
	ann := maps.Clone(m.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationSubsetSourceDigest] = root.Digest.String()
	ann[AnnotationSubsetSourceRef] = sourceRef
	ann[AnnotationSubsetPlatforms] = strings.Join(wantS, ",")
	idx := struct {
		SchemaVersion int                  `json:"schemaVersion"`
		MediaType     string               `json:"mediaType,omitempty"`
		ArtifactType  string               `json:"artifactType,omitempty"`
		Manifests     []ocispec.Descriptor `json:"manifests"`
		Subject       *ocispec.Descriptor  `json:"subject,omitempty"`
		Annotations   map[string]string    `json:"annotations,omitempty"`
	}{2, m.MediaType, m.ArtifactType, children, m.Subject, ann}
	if idx.MediaType == "" {
		idx.MediaType = root.MediaType
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return nil, err
	}
	s.Content = b
	s.Descriptor = ocispec.Descriptor{MediaType: root.MediaType, ArtifactType: root.ArtifactType, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if s.Descriptor.MediaType == "" {
		s.Descriptor.MediaType = idx.MediaType
	}
	return s, nil
}

// The media types of image configs, whose os and architecture say an
// image's platform.
const mediaTypeDockerConfig = "application/vnd.docker.container.image.v1+json"

// imagePlatform reads the platform an image's config states: nil when the
// config is no image config or states no os or architecture.
func imagePlatform(ctx context.Context, f content.Fetcher, config ocispec.Descriptor) (*ocispec.Platform, error) {
	if config.MediaType != ocispec.MediaTypeImageConfig && config.MediaType != mediaTypeDockerConfig {
		return nil, nil
	}
	if config.Size > MaxManifestSize {
		return nil, fmt.Errorf("config %s: %w: %d bytes is more than the %d allowed", config.Digest, ErrManifestTooLarge, config.Size, MaxManifestSize)
	}
	if err := CheckDescriptor(config); err != nil {
		return nil, err
	}
	rc, err := f.Fetch(ctx, config)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := content.ReadAll(rc, config)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", config.Digest, err)
	}
	var img ocispec.Image
	if err := json.Unmarshal(b, &img); err != nil {
		return nil, fmt.Errorf("config %s: %w: %v", config.Digest, ErrInvalidManifest, err)
	}
	if img.OS == "" || img.Architecture == "" {
		return nil, nil
	}
	p := img.Platform
	return &ocispec.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}, nil
}
