package serve

import (
	"regexp"

	"github.com/opencontainers/go-digest"
)

// The distribution spec's grammar.
var (
	namePattern = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagPattern  = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// maxNameLen bounds a repository name (the spec lets registries limit it).
const maxNameLen = 255

func validRepo(s string) bool { return len(s) <= maxNameLen && namePattern.MatchString(s) }

func validTag(s string) bool { return tagPattern.MatchString(s) }

// parseDigest parses a digest of an algorithm the server can verify.
func parseDigest(s string) (digest.Digest, bool) {
	d, err := digest.Parse(s)
	if err != nil || !d.Algorithm().Available() {
		return "", false
	}
	return d, true
}
