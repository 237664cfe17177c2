package graph

import (
	"encoding/json"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Manifest is any manifest or index this package can read, parsed.
type Manifest struct {
	// Kind is how it refers to blobs.
	Kind Kind `json:"-"`
	// SchemaVersion is its schemaVersion (2 for images and indexes).
	SchemaVersion int `json:"schemaVersion"`
	// MediaType is the media type its content states ("" if none).
	MediaType string `json:"mediaType"`
	// ArtifactType is its artifactType.
	ArtifactType string `json:"artifactType"`
	// Config is an image manifest's config.
	Config *ocispec.Descriptor `json:"config"`
	// Layers are an image manifest's layers.
	Layers []ocispec.Descriptor `json:"layers"`
	// Blobs are an artifact manifest's blobs.
	Blobs []ocispec.Descriptor `json:"blobs"`
	// Manifests are an index's manifests.
	Manifests []ocispec.Descriptor `json:"manifests"`
	// Subject is the manifest it refers to, if it is a referrer.
	Subject *ocispec.Descriptor `json:"subject"`
	// Annotations are its annotations.
	Annotations map[string]string `json:"annotations"`
}

// Child is one child of a manifest, with where it is listed.
type Child struct {
	// Descriptor describes the child.
	Descriptor ocispec.Descriptor
	// Field says where it is listed: "config", "layer 0", "blobs[1]",
	// "manifests[2]".
	Field string
	// Manifest says the child is to be read as a manifest (an index's
	// manifests), not as a blob.
	Manifest bool
}

// ChildList returns m's children in the order they are listed (config,
// layers; or blobs; or manifests), subject excluded.
func (m *Manifest) ChildList() []Child {
	var out []Child
	switch m.Kind {
	case KindImage:
		if m.Config != nil {
			out = append(out, Child{*m.Config, "config", false})
		}
		for i, l := range m.Layers {
			out = append(out, Child{l, fmt.Sprintf("layer %d", i), false})
		}
	case KindIndex:
		for i, d := range m.Manifests {
			out = append(out, Child{d, fmt.Sprintf("manifests[%d]", i), true})
		}
	case KindArtifact:
		for i, d := range m.Blobs {
			out = append(out, Child{d, fmt.Sprintf("blobs[%d]", i), false})
		}
	}
	return out
}

// Children returns the descriptors of m's children (ChildList's), subject
// excluded.
func (m *Manifest) Children() []ocispec.Descriptor {
	cl := m.ChildList()
	out := make([]ocispec.Descriptor, len(cl))
	for i, c := range cl {
		out[i] = c.Descriptor
	}
	return out
}

// Successors returns m's subject (if any) and then its children, as
// oras-go's content.Successors orders them.
func (m *Manifest) Successors() []ocispec.Descriptor {
	var out []ocispec.Descriptor
	if m.Subject != nil {
		out = append(out, *m.Subject)
	}
	return append(out, m.Children()...)
}

// Decode parses b, the content of the manifest or index desc describes,
// and says what kind it is, without checking its children's descriptors
// (Parse does). The kind is the descriptor's media type's, or, when the
// descriptor has none, the content's (told from its fields when it states
// none either). It fails with ErrUnknownMediaType when that is not a
// manifest this package can read, and ErrInvalidManifest when b is not
// JSON, states a media type other than the descriptor's, or is an image
// manifest or index of a schemaVersion other than 2, or an image manifest
// without a config.
func Decode(desc ocispec.Descriptor, b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, invalid("not a valid manifest: %v", err)
	}
	mt := desc.MediaType
	if mt == "" {
		mt = m.MediaType
	} else if m.MediaType != "" && m.MediaType != desc.MediaType {
		return nil, invalid("its descriptor says media type %q, its content says %q", desc.MediaType, m.MediaType)
	}
	m.Kind = KindFor(mt, m.Manifests != nil, m.Config != nil)
	switch m.Kind {
	case KindUnknown:
		return nil, fmt.Errorf("%w %q: not a manifest or image index ocipack can read", ErrUnknownMediaType, mt)
	case KindImage:
		if m.SchemaVersion != 2 {
			return nil, invalid("schemaVersion %d, want 2", m.SchemaVersion)
		}
		if m.Config == nil {
			return nil, invalid("an image manifest without a config")
		}
	case KindIndex:
		if m.SchemaVersion != 2 {
			return nil, invalid("schemaVersion %d, want 2", m.SchemaVersion)
		}
	}
	return &m, nil
}

// Parse is Decode, and checks every child's and the subject's descriptor
// with CheckDescriptor: the error of the first that fails matches
// ErrInvalidDescriptor and says where it is listed.
func Parse(desc ocispec.Descriptor, b []byte) (*Manifest, error) {
	m, err := Decode(desc, b)
	if err != nil {
		return nil, err
	}
	if err := m.Check(); err != nil {
		return nil, err
	}
	return m, nil
}

// Check checks every child's and the subject's descriptor with
// CheckDescriptor.
func (m *Manifest) Check() error {
	for _, c := range m.ChildList() {
		if err := CheckDescriptor(c.Descriptor); err != nil {
			return fmt.Errorf("%s: %w", c.Field, err)
		}
	}
	if m.Subject != nil {
		if err := CheckDescriptor(*m.Subject); err != nil {
			return fmt.Errorf("subject: %w", err)
		}
	}
	return nil
}

// Describe tells a manifest's media type and artifact type from its
// content b alone, for a digest that no descriptor describes: its stated
// media type or, when it states none, an image index if it lists
// manifests and an image manifest otherwise. It fails when b is not JSON.
func Describe(b []byte) (mediaType, artifactType string, err error) {
	var probe struct {
		MediaType    string          `json:"mediaType"`
		ArtifactType string          `json:"artifactType"`
		Manifests    json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return "", "", err
	}
	mediaType = probe.MediaType
	if mediaType == "" {
		mediaType = MediaTypeOCIManifest
		if probe.Manifests != nil {
			mediaType = MediaTypeOCIIndex
		}
	}
	return mediaType, probe.ArtifactType, nil
}

// SubjectOf returns the subject of the manifest b, nil if it has none or
// b does not parse.
func SubjectOf(b []byte) *ocispec.Descriptor {
	var probe struct {
		Subject *ocispec.Descriptor `json:"subject"`
	}
	if json.Unmarshal(b, &probe) != nil {
		return nil
	}
	return probe.Subject
}

// sentinelError is an error that matches a sentinel without repeating its
// text: its message is the detail alone.
type sentinelError struct {
	sentinel error
	msg      string
}

func (e *sentinelError) Error() string { return e.msg }

func (e *sentinelError) Unwrap() error { return e.sentinel }

func invalid(format string, args ...any) error {
	return &sentinelError{ErrInvalidManifest, fmt.Sprintf(format, args...)}
}
