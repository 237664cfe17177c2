package signing

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/ocipack/ocipack/graph"
	"github.com/ocipack/ocipack/layout"
)

// Identity is a keyless signer's identity, as cosign's
// --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]
// name it: each of subject and issuer is given exactly or as a regular
// expression.
type Identity struct {
	// Subject is the certificate's subject alternative name (an e-mail, a
	// workflow URI), exactly.
	Subject string `json:"subject,omitempty"`
	// SubjectRegexp matches the subject alternative name instead.
	SubjectRegexp string `json:"subjectRegexp,omitempty"`
	// Issuer is the OIDC issuer, exactly.
	Issuer string `json:"issuer,omitempty"`
	// IssuerRegexp matches the OIDC issuer instead.
	IssuerRegexp string `json:"issuerRegexp,omitempty"`
}

// Policy is what makes a signature valid: made by one of Keys, or,
// keyless, by a certificate of TrustedRoot's Fulcio for one of Identities,
// logged in its Rekor. Nothing is fetched from the network.
type Policy struct {
	// Keys are the public keys a signature may be made with. No
	// transparency log entry or timestamp is required of a keyed signature
	// (as cosign verify --insecure-ignore-tlog).
	Keys []*PublicKey
	// TrustedRoot is Sigstore's trusted root (see LoadTrustedRoot), for
	// keyless signatures.
	TrustedRoot root.TrustedMaterial
	// Identities are the keyless signers accepted; one is needed with
	// TrustedRoot.
	Identities []Identity
	// IgnoreSCT accepts a keyless certificate without a signed certificate
	// timestamp (cosign's --insecure-ignore-sct).
	IgnoreSCT bool
}

// Empty reports whether p names no keys and no trusted root: nothing to
// verify with.
func (p *Policy) Empty() bool { return p == nil || len(p.Keys) == 0 && p.TrustedRoot == nil }

// LoadTrustedRoot reads a Sigstore trusted_root.json (as `cosign
// trusted-root create` writes it or Sigstore's TUF repository serves it).
func LoadTrustedRoot(path string) (*root.TrustedRoot, error) {
	b, err := readSmallFile(path)
	if err != nil {
		return nil, err
	}
	tr, err := root.NewTrustedRootFromJSON(b)
	if err != nil {
		return nil, fmt.Errorf("%s: not a Sigstore trusted_root.json: %v", path, err)
	}
	return tr, nil
}

// compiled is a Policy made into sigstore-go verifiers.
type compiled struct {
	keys    []keyVerifier
	keyless *verify.Verifier
	ids     []verify.PolicyOption
}

type keyVerifier struct {
	name string
	v    *verify.Verifier
	key  *PublicKey
}

func (p *Policy) compile() (*compiled, error) {
	if p.Empty() {
		return nil, ErrNoPolicy
	}
	c := &compiled{}
	for _, k := range p.Keys {
		if k == nil || k.verifier == nil {
			return nil, fmt.Errorf("%w: a key not loaded with LoadPublicKey", ErrBadKey)
		}
		ek := root.NewExpiringKey(k.verifier, time.Time{}, time.Time{})
		tm := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return ek, nil })
		v, err := verify.NewVerifier(tm, verify.WithNoObserverTimestamps())
		if err != nil {
			return nil, err
		}
		c.keys = append(c.keys, keyVerifier{name: k.Name, v: v, key: k})
	}
	if p.TrustedRoot != nil {
		if len(p.Identities) == 0 {
			return nil, errors.New("a trusted root needs the signer's identity: give --certificate-identity (or -regexp) and --certificate-oidc-issuer (or -regexp)")
		}
		opts := []verify.VerifierOption{verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1)}
		if !p.IgnoreSCT {
			opts = append(opts, verify.WithSignedCertificateTimestamps(1))
		}
		v, err := verify.NewVerifier(p.TrustedRoot, opts...)
		if err != nil {
			return nil, fmt.Errorf("trusted root: %w", err)
		}
		c.keyless = v
		for _, id := range p.Identities {
			if id.Subject == "" && id.SubjectRegexp == "" || id.Issuer == "" && id.IssuerRegexp == "" {
				return nil, errors.New("a keyless identity needs both a subject (--certificate-identity or -regexp) and an issuer (--certificate-oidc-issuer or -regexp)")
			}
			ci, err := verify.NewShortCertificateIdentity(id.Issuer, id.IssuerRegexp, id.Subject, id.SubjectRegexp)
			if err != nil {
				return nil, fmt.Errorf("identity: %w", err)
			}
			c.ids = append(c.ids, verify.WithCertificateIdentity(ci))
		}
	}
	return c, nil
}

// Result is what Verify found for one entry.
type Result struct {
	// Name is the entry's name (its digest when it has none).
	Name string `json:"name"`
	// Digest is the manifest's digest.
	Digest digest.Digest `json:"digest"`
	// SignedBy names who made each valid signature: "key PATH" or
	// "SUBJECT (issuer ISSUER)".
	SignedBy []string `json:"signedBy,omitempty"`
	// Signatures are the digests of the manifests holding the valid
	// signatures.
	Signatures []digest.Digest `json:"signatures,omitempty"`
	// Problems say why each signature found was refused, when none was
	// valid (the entry is refused).
	Problems []string `json:"problems,omitempty"`
	// Unverified, when the entry carries a valid signature, say why each
	// of its other signatures is not valid under the policy (made by a
	// key the policy does not name, say): they are no problem, since one
	// valid signature is enough.
	Unverified []string `json:"unverified,omitempty"`
	// Err is nil when the entry carries a valid signature, else an error
	// wrapping ErrUnsigned or ErrBadSignature that names the entry.
	Err error `json:"-"`
}

// OK reports whether the entry carries a valid signature.
func (r *Result) OK() bool { return r.Err == nil }

// MarshalJSON adds the error, as text.
func (r *Result) MarshalJSON() ([]byte, error) {
	type plain Result
	var e string
	if r.Err != nil {
		e = r.Err.Error()
	}
	return json.Marshal(struct {
		*plain
		Error string `json:"error,omitempty"`
	}{(*plain)(r), e})
}

// Verify checks that the manifest desc (an entry of t named name) carries
// a valid signature under p: a Sigstore bundle referrer (see the package
// doc) or an older cosign signature under the sha256-<hex>.sig tag. The
// manifest is read first and must match its digest (a manifest changed in
// place is refused). The entry's verdict is in Result.Err; Verify's own
// error is for what stopped it (p is empty or unusable, t unreadable, ctx
// done).
func Verify(ctx context.Context, t Target, desc ocispec.Descriptor, name string, p *Policy) (*Result, error) {
	c, err := p.compile()
	if err != nil {
		return nil, err
	}
	return c.verify(ctx, t, desc, name)
}

func (c *compiled) verify(ctx context.Context, t Target, desc ocispec.Descriptor, name string) (*Result, error) {
	if name == "" {
		name = desc.Digest.String()
	}
	r := &Result{Name: name, Digest: desc.Digest}
	if _, err := layout.ReadBlob(ctx, t, desc, graph.MaxManifestSize); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r.Err = fmt.Errorf("%s (%s): %w: its manifest cannot be read intact, so no signature can vouch for it: %v", name, desc.Digest, ErrBadSignature, err)
		return r, nil
	}
	found := 0
	sigs, err := referrers(ctx, t, desc)
	if err != nil {
		return nil, fmt.Errorf("%s: find signatures: %w", name, err)
	}
	for _, d := range sigs {
		v := c.verifyReferrer(ctx, t, desc, d)
		if !v.signature {
			continue
		}
		found++
		if v.ok {
			r.SignedBy = append(r.SignedBy, v.by)
			r.Signatures = append(r.Signatures, d.Digest)
		} else {
			r.Problems = append(r.Problems, v.problem)
		}
	}
	lf, err := c.verifyLegacy(ctx, t, desc, name, r)
	if err != nil {
		return nil, err
	}
	found += lf
	switch {
	case len(r.SignedBy) > 0:
		// One valid signature is enough: the others are not problems
		// (another signer's, say).
		r.Unverified, r.Problems = r.Problems, nil
	case found == 0:
		r.Err = fmt.Errorf("%s (%s): %w: no signature refers to it (sign it with 'ocipack sign', or bring its signatures along with --referrers)", name, desc.Digest, ErrUnsigned)
	default:
		r.Err = fmt.Errorf("%s (%s): %w: %s (give the key it was signed with, or sign it with 'ocipack sign')", name, desc.Digest, ErrBadSignature, strings.Join(r.Problems, "; "))
	}
	return r, nil
}

// referrers returns the referrers of desc that t lists; for a target with
// an index.json that lists none through Predecessors (an archive read in
// place), those its index.json lists.
func referrers(ctx context.Context, t Target, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	out, err := t.Predecessors(ctx, desc)
	ix, ok := t.(indexer)
	if err != nil && !ok || len(out) > 0 {
		return out, err
	}
	if !ok {
		return nil, nil
	}
	// Also when Predecessors failed: a layout's fails on any manifest of
	// index.json it cannot read (another entry's, damaged), which is no
	// reason to refuse this one; the scan below skips such manifests.
	idx, err := ix.Index(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[digest.Digest]bool{}
	for _, d := range idx.Manifests {
		if seen[d.Digest] || d.MediaType != ocispec.MediaTypeImageManifest || d.Size > graph.MaxManifestSize {
			continue
		}
		seen[d.Digest] = true
		b, err := layout.ReadBlob(ctx, t, d, graph.MaxManifestSize)
		if err != nil {
			continue // Check reports what cannot be read
		}
		if s := graph.SubjectOf(b); s != nil && s.Digest == desc.Digest {
			out = append(out, subjectOf(d))
		}
	}
	return out, nil
}

// verdict is what one referrer turned out to be.
type verdict struct {
	signature bool   // it is a cosign signature (else: ignored)
	ok        bool   // valid
	by        string // who signed, when ok
	problem   string // why not, when !ok
}

func verifyReferrer(ctx context.Context, t Target, subject, d ocispec.Descriptor, p *Policy) verdict {
	c, err := p.compile()
	if err != nil {
		return verdict{}
	}
	return c.verifyReferrer(ctx, t, subject, d)
}

// verifyReferrer checks the referrer d of subject.
func (c *compiled) verifyReferrer(ctx context.Context, t Target, subject, d ocispec.Descriptor) verdict {
	if d.MediaType != ocispec.MediaTypeImageManifest && d.MediaType != "" {
		return verdict{}
	}
	sigName := "signature " + d.Digest.String()
	bad := func(format string, args ...any) verdict {
		return verdict{signature: true, problem: sigName + ": " + fmt.Sprintf(format, args...)}
	}
	m, err := layout.ReadManifest(ctx, t, d)
	if err != nil {
		if isBundleType(d.ArtifactType) {
			return bad("unreadable manifest: %v", err)
		}
		return verdict{}
	}
	if !isBundleType(m.ArtifactType) && !isBundleType(d.ArtifactType) && (len(m.Layers) == 0 || !isBundleType(m.Layers[0].MediaType)) {
		return verdict{} // an SBOM or another referrer: not a signature
	}
	if pt, ok := m.Annotations[AnnotationBundlePredicateType]; ok && pt != SignPredicateType {
		return verdict{} // an attestation, not a signature
	}
	if len(m.Layers) != 1 || !isBundleType(m.Layers[0].MediaType) {
		return bad("malformed: a signature manifest has exactly one layer, a Sigstore bundle")
	}
	ld := m.Layers[0]
	if ld.Size > MaxBundleSize {
		return bad("bundle of %d bytes: more than the %d a bundle may have; refused unread", ld.Size, MaxBundleSize)
	}
	raw, err := layout.ReadBlob(ctx, t, ld, MaxBundleSize)
	if err != nil {
		return bad("bundle %s unreadable: %v", ld.Digest, err)
	}
	var pb protobundle.Bundle
	if err := protojson.Unmarshal(raw, &pb); err != nil {
		return bad("malformed bundle: %v", oneLine(err))
	}
	b, err := bundle.NewBundle(&pb)
	if err != nil {
		return bad("malformed bundle: %v", oneLine(err))
	}
	if b.GetDsseEnvelope() == nil {
		return bad("the bundle holds a bare message signature, not a DSSE envelope over an in-toto statement (cosign v3 accepts nothing else)")
	}
	var why []string
	check := func(res *verify.VerificationResult, by string) (verdict, bool) {
		if res.Statement == nil {
			return bad("signed by %s, but holds no in-toto statement", by), false
		}
		if res.Statement.GetPredicateType() != SignPredicateType {
			return bad("signed by %s, but its predicate type is %q, not %q", by, res.Statement.GetPredicateType(), SignPredicateType), false
		}
		var over []string
		for _, s := range res.Statement.GetSubject() {
			for alg, hex := range s.GetDigest() {
				if alg == subject.Digest.Algorithm().String() && hex == subject.Digest.Encoded() {
					return verdict{signature: true, ok: true, by: by}, true
				}
				over = append(over, alg+":"+hex)
			}
		}
		return bad("signed by %s, but over another digest (%s), not this manifest's", by, strings.Join(over, ", ")), false
	}
	var firstBad *verdict
	if b.VerificationMaterial.GetPublicKey() != nil {
		for _, k := range c.keys {
			res, err := k.v.Verify(b, verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithKey()))
			if err != nil {
				continue
			}
			v, ok := check(res, "key "+k.name)
			if ok {
				return v
			}
			if firstBad == nil {
				firstBad = &v
			}
		}
		if firstBad != nil {
			return *firstBad
		}
		if len(c.keys) == 0 {
			return bad("made with a key, and no --key was given")
		}
		return bad("not made by %s", keyNames(c.keys))
	}
	if c.keyless == nil {
		return bad("keyless (a certificate), and no --trusted-root was given")
	}
	for _, id := range c.ids {
		res, err := c.keyless.Verify(b, verify.NewPolicy(verify.WithoutArtifactUnsafe(), id))
		if err != nil {
			why = append(why, oneLine(err))
			continue
		}
		by := "keyless signer"
		if res.Signature != nil && res.Signature.Certificate != nil {
			by = fmt.Sprintf("%s (issuer %s)", res.Signature.Certificate.SubjectAlternativeName, res.Signature.Certificate.Issuer)
		}
		v, ok := check(res, by)
		if ok {
			return v
		}
		if firstBad == nil {
			firstBad = &v
		}
	}
	if firstBad != nil {
		return *firstBad
	}
	return bad("keyless signature refused: %s", strings.Join(dedupe(why), "; "))
}

func keyNames(ks []keyVerifier) string {
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = k.name
	}
	if len(names) == 1 {
		return "the key " + names[0]
	}
	return "any of the keys " + strings.Join(names, ", ")
}

func isBundleType(mt string) bool {
	return strings.HasPrefix(mt, "application/vnd.dev.sigstore.bundle")
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

func dedupe(ss []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// LegacyTag is the tag under which older cosign versions store the
// signatures of the manifest d: sha256-<hex>.sig.
func LegacyTag(d digest.Digest) string {
	return d.Algorithm().String() + "-" + d.Encoded() + ".sig"
}

// simpleSigning is the part of a simple-signing payload checked.
type simpleSigning struct {
	Critical struct {
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
}

// verifyLegacy checks the signatures under the sha256-<hex>.sig tag of
// desc, adding what it finds to r; it returns how many it found.
func (c *compiled) verifyLegacy(ctx context.Context, t Target, desc ocispec.Descriptor, name string, r *Result) (int, error) {
	tag := LegacyTag(desc.Digest)
	refs := []string{tag}
	if i := strings.LastIndexByte(name, ':'); i > 0 && layout.IsFullName(name) {
		// Of a full-named entry, the .sig tag of the same repository.
		if at := strings.IndexByte(name, '@'); at < 0 || at > i {
			refs = append([]string{name[:i+1] + tag}, refs...)
		}
	}
	var sd ocispec.Descriptor
	var err error
	for _, ref := range refs {
		if sd, err = t.Resolve(ctx, ref); err == nil {
			break
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, nil
	}
	sigName := "signature " + tag
	m, err := layout.ReadManifest(ctx, t, sd)
	if err != nil {
		r.Problems = append(r.Problems, fmt.Sprintf("%s: unreadable manifest: %v", sigName, err))
		return 1, nil
	}
	found := 0
	for i, l := range m.Layers {
		if l.MediaType != SimpleSigningMediaType {
			continue
		}
		found++
		bad := func(format string, args ...any) {
			r.Problems = append(r.Problems, fmt.Sprintf("%s layer %d: ", sigName, i)+fmt.Sprintf(format, args...))
		}
		sig, err := base64.StdEncoding.DecodeString(l.Annotations[AnnotationLegacySignature])
		if err != nil || len(sig) == 0 {
			bad("no base64 signature in annotation %s", AnnotationLegacySignature)
			continue
		}
		if l.Size > MaxBundleSize {
			bad("payload of %d bytes: more than the %d allowed; refused unread", l.Size, MaxBundleSize)
			continue
		}
		payload, err := layout.ReadBlob(ctx, t, l, MaxBundleSize)
		if err != nil {
			bad("payload unreadable: %v", err)
			continue
		}
		var by string
		for _, k := range c.keys {
			if k.key.verifier.VerifySignature(bytes.NewReader(sig), bytes.NewReader(payload)) == nil {
				by = "key " + k.name
				break
			}
		}
		if by == "" {
			if len(c.keys) == 0 {
				bad("an older cosign signature, which only --key verifies here")
			} else {
				bad("not made by %s", keyNames(c.keys))
			}
			continue
		}
		var ss simpleSigning
		if err := json.Unmarshal(payload, &ss); err != nil {
			bad("signed by %s, but the payload is not simple-signing JSON: %v", by, err)
			continue
		}
		if got := ss.Critical.Image.DockerManifestDigest; got != desc.Digest.String() {
			bad("signed by %s, but over another digest (%s), not this manifest's", by, got)
			continue
		}
		r.SignedBy = append(r.SignedBy, by+" (older cosign signature)")
		r.Signatures = append(r.Signatures, sd.Digest)
	}
	if found == 0 {
		r.Problems = append(r.Problems, sigName+": holds no simple-signing layer")
		found = 1
	}
	return found, nil
}

// RequireSignedNames is RequireSigned for the entries names (tags, full
// names or digests) resolves to in t: each must carry a valid signature
// under p. A name t does not resolve fails it, naming the name.
func RequireSignedNames(ctx context.Context, t Target, names []string, p *Policy) error {
	c, err := p.compile()
	if err != nil {
		return err
	}
	entries := make([]ocispec.Descriptor, len(names))
	for i, n := range names {
		if entries[i], err = t.Resolve(ctx, n); err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
	}
	return c.require(ctx, t, entries, names)
}

// FailedError is RequireSigned's error: the entries without a valid
// signature. errors.Is finds ErrUnsigned and ErrBadSignature in it.
type FailedError struct {
	// Failed are the results of the entries refused.
	Failed []*Result
}

func (e *FailedError) Error() string {
	parts := make([]string, len(e.Failed))
	for i, r := range e.Failed {
		parts[i] = r.Err.Error()
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return fmt.Sprintf("%d entries without a valid signature: %s", len(parts), strings.Join(parts, "; "))
}

// Unwrap returns each refused entry's error.
func (e *FailedError) Unwrap() []error {
	out := make([]error, len(e.Failed))
	for i, r := range e.Failed {
		out[i] = r.Err
	}
	return out
}

// RequireSigned verifies each of entries (index.json entries of t, named
// by layout.EntryName, else by digest) under p and returns nil when every
// one carries a valid signature, else a *FailedError naming each that does
// not and why. It is what a command calls before it writes or serves
// anything of entries.
func RequireSigned(ctx context.Context, t Target, entries []ocispec.Descriptor, p *Policy) error {
	c, err := p.compile()
	if err != nil {
		return err
	}
	return c.require(ctx, t, entries, nil)
}

// require verifies each of entries, named by names[i] when names is given,
// else by layout.EntryName, and returns a *FailedError naming each that
// carries no valid signature.
func (c *compiled) require(ctx context.Context, t Target, entries []ocispec.Descriptor, names []string) error {
	var failed []*Result
	for i, d := range entries {
		name := layout.EntryName(d)
		if names != nil {
			name = names[i]
		}
		r, err := c.verify(ctx, t, d, name)
		if err != nil {
			return err
		}
		if !r.OK() {
			failed = append(failed, r)
		}
	}
	if len(failed) > 0 {
		return &FailedError{Failed: failed}
	}
	return nil
}
