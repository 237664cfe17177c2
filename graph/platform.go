package graph

import (
	"fmt"
	"strings"

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

// NormalizePlatform returns p as docker and containerd compare platforms:
// OS and architecture lower case, common aliases of an architecture named
// by Go's name (x86_64 is amd64, aarch64 is arm64, i386 is 386, armhf is
// arm/v7, armel is arm/v6), a variant given as a bare number prefixed "v",
// and the default variant of an architecture dropped or filled in: amd64
// has none (v1 is dropped), arm64's v8 is its default and dropped, arm
// without a variant is arm/v7. Only OS, architecture and variant are
// kept.
func NormalizePlatform(p ocispec.Platform) ocispec.Platform {
	os := strings.ToLower(p.OS)
	if os == "macos" {
		os = "darwin"
	}
	arch, variant := strings.ToLower(p.Architecture), strings.ToLower(p.Variant)
	switch arch {
	case "i386", "x86", "i686":
		arch, variant = "386", ""
	case "x86_64", "x86-64", "amd64":
		arch = "amd64"
		if variant == "v1" || variant == "1" {
			variant = ""
		}
	case "aarch64", "arm64":
		arch = "arm64"
		switch variant {
		case "8", "v8", "v8.0":
			variant = ""
		}
	case "armhf":
		arch, variant = "arm", "v7"
	case "armel":
		arch, variant = "arm", "v6"
	case "arm":
		switch variant {
		case "", "7":
			variant = "v7"
		case "5", "6", "8":
			variant = "v" + variant
		}
	}
	return ocispec.Platform{OS: os, Architecture: arch, Variant: variant}
}

// MatchPlatform reports whether have (an index child's platform; nil for
// a child that states none, which matches nothing) is the platform want
// names, both normalised: linux/arm64 matches linux/arm64/v8, linux/arm
// matches linux/arm/v7, linux/amd64 matches linux/x86_64.
func MatchPlatform(have *ocispec.Platform, want ocispec.Platform) bool {
	if have == nil {
		return false
	}
	h, w := NormalizePlatform(*have), NormalizePlatform(want)
	return h.OS == w.OS && h.Architecture == w.Architecture && h.Variant == w.Variant
}

// FormatPlatform returns p as "os/arch" or "os/arch/variant".
func FormatPlatform(p ocispec.Platform) string {
	if p.Variant == "" {
		return p.OS + "/" + p.Architecture
	}
	return p.OS + "/" + p.Architecture + "/" + p.Variant
}
