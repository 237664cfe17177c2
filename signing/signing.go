// Package signing signs the entries of an OCI image layout and verifies
// their signatures offline, in the formats cosign v3 writes and reads.
//
// A signature is a referrer of the signed manifest: an image manifest with
// the empty config whose one layer is a Sigstore bundle
// (application/vnd.dev.sigstore.bundle.v0.3+json) holding a DSSE envelope
// over an in-toto statement whose subject is the manifest's digest and whose
// predicate type is https://sigstore.dev/cosign/sign/v1: what `cosign sign
// --key` writes with no transparency log. Verify checks such signatures with
// public keys (as `cosign verify --key --insecure-ignore-tlog`) or, for
// keyless signatures (a Fulcio certificate and a Rekor entry), with a
// Sigstore trusted_root.json and the signer's identity, offline; and older
// cosign signatures (the `sha256-<hex>.sig` tag with simple-signing
// payloads) with public keys.
//
// Keys are cosign's: GenerateKeyPair writes a private key encrypted as
// `cosign generate-key-pair` encrypts it, and LoadPrivateKey reads those
// cosign makes. The cryptography is sigstore-go's, sigstore's and
// go-securesystemslib's.
package signing

import (
	"context"
	"errors"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// Media types, annotations and payload types of cosign's signatures.
const (
	// BundleMediaType is the media type of a Sigstore bundle v0.3: the
	// layer, and the artifactType, of a signature manifest.
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// InTotoPayloadType is the DSSE payload type of an in-toto statement.
	InTotoPayloadType = "application/vnd.in-toto+json"
	// InTotoStatementType is the _type of an in-toto v1 statement.
	InTotoStatementType = "https://in-toto.io/Statement/v1"
	// SignPredicateType is the predicate type of a cosign signature
	// statement (others are attestations, not signatures).
	SignPredicateType = "https://sigstore.dev/cosign/sign/v1"
	// AnnotationBundleContent is set to "dsse-envelope" on a signature
	// manifest.
	AnnotationBundleContent = "dev.sigstore.bundle.content"
	// AnnotationBundlePredicateType holds the statement's predicate type on
	// a signature manifest.
	AnnotationBundlePredicateType = "dev.sigstore.bundle.predicateType"
	// SimpleSigningMediaType is the layer media type of an older cosign
	// signature (the sha256-<hex>.sig tag).
	SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// AnnotationLegacySignature holds the base64 signature of a
	// simple-signing layer.
	AnnotationLegacySignature = "dev.cosignproject.cosign/signature"
)

// MaxBundleSize is the largest bundle or simple-signing payload read:
// larger ones are refused before they are read.
const MaxBundleSize = 1 << 20

// Errors a caller tells apart with errors.Is.
var (
	// ErrUnsigned: the entry carries no signature at all (none that
	// Verify could check).
	ErrUnsigned = errors.New("not signed")
	// ErrBadSignature: the entry carries signatures, but none valid under
	// the policy (wrong key, another digest, untrusted or expired
	// certificate, malformed or oversized bundle, tampered manifest).
	ErrBadSignature = errors.New("no valid signature")
	// ErrBadKey: a key file is not a key in a format cosign writes.
	ErrBadKey = errors.New("not a usable key")
	// ErrWrongPassword: the private key does not open with the password.
	ErrWrongPassword = errors.New("wrong password")
	// ErrNoPolicy: a Policy names neither keys nor a trusted root.
	ErrNoPolicy = errors.New("no keys or trusted root to verify with")
)

// Target is what Verify reads: blobs, referrers (Predecessors) and tags.
// A layout.Layout, a source.Source and an oras-go remote.Repository are
// Targets.
type Target interface {
	content.ReadOnlyGraphStorage
	content.Resolver
}

// indexer is a Target that lists its index.json (a source.Source, a
// layout.Layout): referrers are also looked up there, since an archive read
// in place answers Predecessors with nothing.
type indexer interface {
	Index(ctx context.Context) (*ocispec.Index, error)
}
