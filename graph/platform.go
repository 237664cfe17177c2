package graph

import (
	"fmt"
	"strings"

	"github.com/containerd/platforms"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ParsePlatform parses "os/arch" or "os/arch/variant" (linux/arm64,
// linux/arm/v7) into a normalised platform (see NormalizePlatform).
func ParsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" || len(parts) == 3 && parts[2] == "" {
		return ocispec.Platform{}, fmt.Errorf("platform %q: want os/arch or os/arch/variant", s)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return NormalizePlatform(p), nil
}

// NormalizePlatform returns p as docker and containerd compare platforms,
// by containerd's own rules (github.com/containerd/platforms): OS and
// architecture lower case, an architecture's aliases named by Go's name
// (x86_64 is amd64, aarch64 is arm64, i386 is 386, armhf is arm/v7, armel
// is arm/v6), and an architecture's default variant dropped or filled in
// (amd64/v1 is amd64, arm64/v8 is arm64, arm is arm/v7). Only OS,
// architecture and variant are kept.
func NormalizePlatform(p ocispec.Platform) ocispec.Platform {
	n := platforms.Normalize(ocispec.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant})
	return ocispec.Platform{OS: n.OS, Architecture: n.Architecture, Variant: n.Variant}
}

// MatchPlatform reports whether have (an index child's platform; nil for
// a child that states none, which matches nothing) is the platform want
// names, as containerd's platforms.NewMatcher matches them after
// normalising both: linux/arm64 matches linux/arm64/v8, linux/arm matches
// linux/arm/v7, linux/amd64 matches linux/x86_64.
func MatchPlatform(have *ocispec.Platform, want ocispec.Platform) bool {
	if have == nil {
		return false
	}
	h := NormalizePlatform(*have)
	return platforms.NewMatcher(NormalizePlatform(want)).Match(h)
}

// FormatPlatform returns p as "os/arch" or "os/arch/variant".
func FormatPlatform(p ocispec.Platform) string {
	if p.Variant == "" {
		return p.OS + "/" + p.Architecture
	}
	return p.OS + "/" + p.Architecture + "/" + p.Variant
}
