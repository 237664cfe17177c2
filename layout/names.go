package layout

import (
	"fmt"
	"maps"
	"regexp"
	"strings"

	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// An entry of a layout is named by its org.opencontainers.image.ref.name
// annotation. The name is either a plain tag ("v1.2.0", what `ocipack pack`
// and `ocipack pull REF LAYOUT:TAG` write) or a full name: a reference as
// docker normalises it, with its registry and repository and a tag, a
// digest, or both:
//
//	docker.io/library/nginx:1.27
//	localhost:5000/a/b:v1
//	registry.example/app@sha256:0123…cdef
//	registry.example/app:v1@sha256:0123…cdef
//
// An entry with a full name carries it also in io.containerd.image.name,
// as `ctr export` and `docker save` write it, so that a layout may hold the
// entries of many repositories and registries, and `ctr images import` and
// `docker load` name them as they were named where they came from.

// AnnotationImageName is containerd's annotation holding an image's full
// name (docker.io/library/nginx:1.27) on an index.json entry; `ctr export`
// and `docker save` write it, and put only the tag in
// org.opencontainers.image.ref.name.
const AnnotationImageName = "io.containerd.image.name"

// IsFullName reports whether s is a full name: a reference in docker's
// normalised form (the one FullName returns), with a registry, a
// repository, and a tag or a digest. "docker.io/library/nginx:1.27" is one;
// "nginx:1.27", "docker.io/nginx:1.27" and "registry.example/app" are not.
func IsFullName(s string) bool {
	named, err := reference.ParseNamed(s)
	return err == nil && !reference.IsNameOnly(named)
}

// ValidName reports whether s may name an entry of a layout: a valid tag
// (see ValidTag) or a full name (see IsFullName). Put accepts a repository
// name (see IsRepoName) as well.
func ValidName(s string) bool { return ValidTag(s) || IsFullName(s) }

// IsRepoName reports whether s is a repository name without a registry:
// REPO:TAG, where REPO is a repository path as the distribution spec
// writes it ("a/b", "charts/app") and TAG a valid tag, and s is not a full
// name. Put accepts it as an entry's name (Tag does not): `ocipack serve
// --writable` names so a manifest pushed to REPO with
// TAG, since the server's own address is no part of its name.
func IsRepoName(s string) bool {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || !ValidTag(s[i+1:]) || IsFullName(s) {
		return false
	}
	return repoPathPattern.MatchString(s[:i])
}

// repoPathPattern is the distribution spec's grammar of a repository name.
var repoPathPattern = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)

// FullName returns the full name of the image reference s, normalised as
// docker normalises it: "nginx:1.27" is "docker.io/library/nginx:1.27",
// "localhost:5000/a/b:v1" stays as it is, and a digest stays in the name
// ("registry.example/app@sha256:…"; with a tag as well, both are kept). A
// reference with neither tag nor digest fails with ErrInvalidReference,
// as one that does not parse.
func FullName(s string) (string, error) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return "", fmt.Errorf("%w: %q is not an image reference: %v", ErrInvalidReference, s, err)
	}
	if reference.IsNameOnly(named) {
		return "", fmt.Errorf("%w: %q names no tag or digest", ErrInvalidReference, s)
	}
	return named.String(), nil
}

// EntryName returns the name of an index.json entry as a layout keeps it:
// the full name of io.containerd.image.name when the entry has one (what
// `docker save` and `ctr export` write, whose ref.name is only the tag),
// else its org.opencontainers.image.ref.name ("" when untagged).
func EntryName(d ocispec.Descriptor) string {
	if n := d.Annotations[AnnotationImageName]; IsFullName(n) {
		return n
	}
	return d.Annotations[ocispec.AnnotationRefName]
}

// WithEntryName returns d named as EntryName says, in the layout's form:
// the name in org.opencontainers.image.ref.name and, for a full name, in
// io.containerd.image.name too. d itself is not changed. An importer calls
// it on each entry of an archive's index.json before Put, so that two
// images that `docker save` tagged "1.27" under different names stay two.
func WithEntryName(d ocispec.Descriptor) ocispec.Descriptor {
	name := EntryName(d)
	if name == "" {
		return d
	}
	d.Annotations = maps.Clone(d.Annotations)
	nameAnnotations(d.Annotations, name)
	return d
}

// nameAnnotations writes name into annotations: in ref.name, and in
// io.containerd.image.name when it is a full name; a plain tag drops an
// io.containerd.image.name that named something else, so that an entry
// never carries two different names.
func nameAnnotations(annotations map[string]string, name string) {
	annotations[ocispec.AnnotationRefName] = name
	if IsFullName(name) {
		annotations[AnnotationImageName] = name
	} else {
		delete(annotations, AnnotationImageName)
	}
}

// resolveShortTag finds, for a plain tag that no entry of idx is named,
// the one entry whose full name has that tag (so that `ocipack pull
// registry.example/app:v1 ./bundle` is still found as ./bundle:v1). ok is
// false when no full name has the tag; when several have it, it fails with
// ErrInvalidReference naming them.
func resolveShortTag(idx *ocispec.Index, tag string) (m ocispec.Descriptor, ok bool, err error) {
	if !ValidTag(tag) {
		return ocispec.Descriptor{}, false, nil
	}
	var found []ocispec.Descriptor
	var names []string
	for _, d := range idx.Manifests {
		name := d.Annotations[ocispec.AnnotationRefName]
		if !IsFullName(name) {
			continue
		}
		if named, err := reference.ParseNamed(name); err == nil {
			if t, isTagged := named.(reference.Tagged); isTagged && t.Tag() == tag {
				found = append(found, d)
				names = append(names, name)
			}
		}
	}
	switch len(found) {
	case 0:
		return ocispec.Descriptor{}, false, nil
	case 1:
		return found[0], true, nil
	}
	return ocispec.Descriptor{}, false, fmt.Errorf("tag %q is ambiguous (%w): it is the tag of %s; write the full name instead", tag, ErrInvalidReference, strings.Join(names, " and of "))
}

// NameTag returns the tag a registry would know an entry named name by:
// name itself for a plain tag, the tag of a full name
// ("docker.io/library/nginx:1.27" gives "1.27"), and "" for a full name
// with only a digest, or for something that is no name.
func NameTag(name string) string {
	if ValidTag(name) {
		return name
	}
	if IsRepoName(name) {
		return name[strings.LastIndexByte(name, ':')+1:]
	}
	named, err := reference.ParseNamed(name)
	if err != nil {
		return ""
	}
	if t, ok := named.(reference.Tagged); ok {
		return t.Tag()
	}
	return ""
}
