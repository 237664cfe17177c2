package signing

import (
	"regexp"

	"github.com/ocipack/ocipack/layout"
)

// sigTagPattern matches the tags cosign keeps signatures and other
// attachments under: sha256-<hex>.sig, .att, .sbom, and sha256-<hex> (the
// referrers index of a registry without the referrers API).
var sigTagPattern = regexp.MustCompile(`^sha256-[0-9a-f]{64}(\.[a-z]+)?$`)

// IsSignatureTag reports whether the entry name (a tag, or a full name
// with that tag) is one under which cosign keeps signatures, attestations
// or a referrers index: such entries are signatures, not things to sign or
// to require signatures of.
func IsSignatureTag(name string) bool {
	return sigTagPattern.MatchString(layout.NameTag(name))
}
