package signing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	intotov1 "github.com/in-toto/attestation/go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/ocipack/ocipack/graph"
	"github.com/ocipack/ocipack/layout"
)

// SignOptions controls Sign.
type SignOptions struct {
	// Recursive signs each manifest of an image index too (one level, as
	// `cosign sign --recursive`).
	Recursive bool
	// Created is the org.opencontainers.image.created annotation of the
	// signature manifests (cosign sets the time of signing); zero means now.
	Created time.Time
}

// Signed is one manifest Sign signed.
type Signed struct {
	// Name is the entry's name, or "NAME manifests[I]" for a child of an
	// index signed with Recursive.
	Name string `json:"name"`
	// Subject describes the signed manifest.
	Subject ocispec.Descriptor `json:"subject"`
	// Signature describes the signature manifest, a referrer of Subject.
	Signature ocispec.Descriptor `json:"signature"`
	// Existing is set when Subject already carried a valid signature by the
	// same key, which Sign kept and did not duplicate.
	Existing bool `json:"existing"`
}

// Sign signs the manifest subject (an entry of l named name) with s and
// stores the signature in l as a referrer of it, in the form cosign v3
// writes with a key and no transparency log (see the package doc). When
// the manifest already carries a valid signature by s's key, Sign adds
// none. With opts.Recursive, each manifest of an index is signed too. The
// manifests are read verified against their digests.
func Sign(ctx context.Context, l *layout.Layout, subject ocispec.Descriptor, name string, s *Signer, opts SignOptions) ([]Signed, error) {
	if opts.Created.IsZero() {
		opts.Created = time.Now()
	}
	m, err := graph.Read(ctx, l, subject)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", name, err)
	}
	one, err := signOne(ctx, l, subject, name, s, opts)
	if err != nil {
		return nil, err
	}
	out := []Signed{one}
	if opts.Recursive && m.Kind == graph.KindIndex {
		for i, c := range m.Manifests {
			sub, err := signOne(ctx, l, c, fmt.Sprintf("%s manifests[%d]", name, i), s, opts)
			if err != nil {
				return nil, err
			}
			out = append(out, sub)
		}
	}
	return out, nil
}

func signOne(ctx context.Context, l *layout.Layout, subject ocispec.Descriptor, name string, s *Signer, opts SignOptions) (Signed, error) {
	res := Signed{Name: name, Subject: subjectOf(subject)}
	if _, err := graph.Read(ctx, l, subject); err != nil {
		return res, fmt.Errorf("sign %s: %w", name, err)
	}
	// Signing twice adds nothing: an ECDSA signature differs each time, so
	// look for a valid one by the same key rather than for equal bytes.
	pol := &Policy{Keys: []*PublicKey{s.PublicKey()}}
	if sigs, err := referrers(ctx, l, subject); err == nil {
		for _, d := range sigs {
			r := verifyReferrer(ctx, l, subject, d, pol)
			if r.ok {
				res.Signature, res.Existing = d, true
				return res, nil
			}
		}
	}
	bundleJSON, err := NewBundle(ctx, subject.Digest, s)
	if err != nil {
		return res, fmt.Errorf("sign %s: %w", name, err)
	}
	desc, err := AttachBundle(ctx, l, subject, bundleJSON, opts.Created)
	if err != nil {
		return res, fmt.Errorf("sign %s: %w", name, err)
	}
	res.Signature = desc
	return res, nil
}

// Statement returns the in-toto statement cosign v3 signs for the manifest
// digest d: subject d (no name, empty annotations), predicate type
// SignPredicateType, an empty predicate; JSON as protojson writes it.
func Statement(d digest.Digest) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("statement for %q: %w", d, err)
	}
	ann, _ := structpb.NewStruct(nil)
	st := &intotov1.Statement{
		Type: intotov1.StatementTypeUri,
		Subject: []*intotov1.ResourceDescriptor{{
			Digest:      map[string]string{d.Algorithm().String(): d.Encoded()},
			Annotations: ann,
		}},
		PredicateType: SignPredicateType,
		Predicate:     &structpb.Struct{},
	}
	return protojson.Marshal(st)
}

// NewBundle signs the statement for the manifest digest d with s and
// returns the Sigstore bundle (v0.3, a DSSE envelope, the key's hint as
// verification material, no transparency log entry) as JSON, as cosign
// stores it.
func NewBundle(ctx context.Context, d digest.Digest, s *Signer) ([]byte, error) {
	payload, err := Statement(d)
	if err != nil {
		return nil, err
	}
	b, err := sign.Bundle(&sign.DSSEData{Data: payload, PayloadType: InTotoPayloadType}, s, sign.BundleOptions{Context: ctx})
	if err != nil {
		return nil, fmt.Errorf("make bundle: %w", err)
	}
	return protojson.Marshal(b)
}

// manifestJSON is a signature manifest, its fields in the order cosign
// (go-containerregistry) writes them.
type manifestJSON struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Config        descJSON          `json:"config"`
	Layers        []descJSON        `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
	Subject       *descJSON         `json:"subject,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
}

type descJSON struct {
	MediaType    string        `json:"mediaType"`
	Size         int64         `json:"size"`
	Digest       digest.Digest `json:"digest"`
	ArtifactType string        `json:"artifactType,omitempty"`
}

// AttachBundle stores bundleJSON, a Sigstore bundle over subject, in l as
// cosign v3 stores one: a referrer manifest of subject with the empty
// config, the bundle as its one layer, artifactType BundleMediaType and
// cosign's annotations (created is org.opencontainers.image.created). It
// returns the referrer's descriptor. Bundles larger than MaxBundleSize are
// refused.
func AttachBundle(ctx context.Context, l *layout.Layout, subject ocispec.Descriptor, bundleJSON []byte, created time.Time) (ocispec.Descriptor, error) {
	if len(bundleJSON) > MaxBundleSize {
		return ocispec.Descriptor{}, fmt.Errorf("bundle of %d bytes: more than the %d a bundle may have", len(bundleJSON), MaxBundleSize)
	}
	if err := pushBlob(ctx, l, ocispec.DescriptorEmptyJSON, ocispec.DescriptorEmptyJSON.Data); err != nil {
		return ocispec.Descriptor{}, err
	}
	layer := ocispec.Descriptor{MediaType: BundleMediaType, Digest: digest.FromBytes(bundleJSON), Size: int64(len(bundleJSON))}
	if err := pushBlob(ctx, l, layer, bundleJSON); err != nil {
		return ocispec.Descriptor{}, err
	}
	if created.IsZero() {
		created = time.Now()
	}
	m := manifestJSON{
		SchemaVersion: 2,
		MediaType:     ocispec.MediaTypeImageManifest,
		Config: descJSON{MediaType: ocispec.MediaTypeEmptyJSON, Size: ocispec.DescriptorEmptyJSON.Size,
			Digest: ocispec.DescriptorEmptyJSON.Digest, ArtifactType: BundleMediaType},
		Layers: []descJSON{{MediaType: layer.MediaType, Size: layer.Size, Digest: layer.Digest}},
		Annotations: map[string]string{
			ocispec.AnnotationCreated:     created.UTC().Format(time.RFC3339),
			AnnotationBundleContent:       "dsse-envelope",
			AnnotationBundlePredicateType: SignPredicateType,
		},
		Subject:      &descJSON{MediaType: subject.MediaType, Size: subject.Size, Digest: subject.Digest},
		ArtifactType: BundleMediaType,
	}
	b, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(b), Size: int64(len(b)), ArtifactType: BundleMediaType}
	if err := pushBlob(ctx, l, desc, b); err != nil {
		return ocispec.Descriptor{}, err
	}
	// Listed untagged in index.json, as every referrer of a layout is, so
	// that gc keeps it while its subject is kept.
	if err := l.Put(ctx, desc); err != nil {
		return ocispec.Descriptor{}, err
	}
	return desc, nil
}

func pushBlob(ctx context.Context, l *layout.Layout, desc ocispec.Descriptor, b []byte) error {
	err := l.Push(ctx, desc, bytes.NewReader(b))
	if err != nil && !errors.Is(err, layout.ErrAlreadyExists) {
		return err
	}
	return nil
}

// subjectOf is desc with only media type, digest and size.
func subjectOf(desc ocispec.Descriptor) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}
}
