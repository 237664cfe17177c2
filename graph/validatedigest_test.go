package graph_test

import (
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/ocipack/ocipack/graph"
)

// TestValidateDigestAsGoDigest checks that ValidateDigest's fast path
// accepts and refuses exactly what go-digest's Validate does.
func TestValidateDigestAsGoDigest(t *testing.T) {
	hex64 := strings.Repeat("0123456789abcdef", 4)
	cases := []string{
		"sha256:" + hex64,
		"sha256:" + strings.ToUpper(hex64),
		"sha256:" + hex64[:63],
		"sha256:" + hex64 + "0",
		"sha256:" + hex64[:63] + "g",
		"sha256:" + hex64[:63] + "/",
		"sha256:" + hex64[:63] + ":",
		"sha256:" + hex64[:63] + "`",
		"SHA256:" + hex64,
		"sha256" + hex64 + "0",
		"sha512:" + hex64 + hex64,
		"sha384:" + hex64,
		"md5:" + hex64[:32],
		"",
		":",
		"sha256:",
		string(digest.FromString("x")),
	}
	for _, c := range cases {
		want := digest.Digest(c).Validate()
		got := graph.ValidateDigest(digest.Digest(c))
		if (got == nil) != (want == nil) {
			t.Errorf("ValidateDigest(%q) = %v, go-digest says %v", c, got, want)
		}
	}
}
