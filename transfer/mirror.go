package transfer

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/ocipack/ocipack/layout"
)

// ErrNothingToMirror means that a PushMirror source holds no entry named
// by a full name (see layout.IsFullName): nothing says where its entries
// came from, so nothing can be mirrored.
var ErrNothingToMirror = errors.New("no entry with a full name to mirror")

// MirrorResult is what PushMirror did with one entry of its source.
type MirrorResult struct {
	// Name is the entry's name in the source: a full name
	// (docker.io/library/nginx:1.27), or a plain tag when Skipped.
	Name string
	// Destination is where the entry went: the mirror registry, the
	// repository PREFIX/PATH, and the name's tag, or, for a name with
	// only a digest, the digest pushed.
	Destination registry.Reference
	// Skipped is true for an entry named by a plain tag: it names no
	// source repository, so it has no place in a mirror. Result is nil.
	Skipped bool
	// Result is the push's result (nil when Skipped).
	Result *Result
}

// ParseMirrorReference parses REGISTRY[/PREFIX], the destination of
// PushMirror: a registry host (with an optional port) and an optional
// repository prefix, without tag or digest. The result's Repository is the
// prefix ("" for none).
func ParseMirrorReference(s string) (registry.Reference, error) {
	host, prefix, _ := strings.Cut(s, "/")
	ref := registry.Reference{Registry: host, Repository: prefix}
	if err := ref.ValidateRegistry(); err != nil || host == "" {
		return registry.Reference{}, fmt.Errorf("%w: %q: write REGISTRY[/PREFIX], for example registry.internal:5000/mirror", ErrInvalidReference, s)
	}
	if prefix != "" {
		if err := ref.ValidateRepository(); err != nil {
			return registry.Reference{}, fmt.Errorf("%w: %q: the prefix %q is not a repository path (lowercase, without tag or digest), for example registry.internal:5000/mirror", ErrInvalidReference, s, prefix)
		}
	}
	return ref, nil
}

// MirrorDestination returns where PushMirror pushes the entry named by the
// full name name (or REPO:TAG, as a push to `ocipack serve --writable`
// names an entry: kept as it is), given the mirror dst (REGISTRY[/PREFIX], see
// ParseMirrorReference): dst's registry, the repository PREFIX/PATH (the
// source's host dropped, its path kept), and the name's tag, or its digest
// when it has no tag. docker.io/library/nginx:1.27 with
// registry.internal/mirror gives registry.internal/mirror/library/nginx:1.27.
// A name that is not a full name fails with ErrInvalidReference.
func MirrorDestination(name string, dst registry.Reference) (registry.Reference, error) {
	if layout.IsRepoName(name) {
		// REPO:TAG, as a push to `ocipack serve --writable` names an
		// entry: no host to drop, the path kept.
		i := strings.LastIndexByte(name, ':')
		out := registry.Reference{Registry: dst.Registry, Repository: name[:i], Reference: name[i+1:]}
		if dst.Repository != "" {
			out.Repository = path.Join(dst.Repository, out.Repository)
		}
		if err := out.Validate(); err != nil {
			return registry.Reference{}, fmt.Errorf("%w: %s mirrors to %s, which is not a valid reference: %v", ErrInvalidReference, name, out, err)
		}
		return out, nil
	}
	if !layout.IsFullName(name) {
		return registry.Reference{}, fmt.Errorf("%w: %q is not a full name (HOST/REPO:TAG)", ErrInvalidReference, name)
	}
	named, err := reference.ParseNamed(name)
	if err != nil {
		return registry.Reference{}, fmt.Errorf("%w: %q: %v", ErrInvalidReference, name, err)
	}
	out := registry.Reference{Registry: dst.Registry, Repository: reference.Path(named)}
	if dst.Repository != "" {
		out.Repository = path.Join(dst.Repository, out.Repository)
	}
	if t, ok := named.(reference.Tagged); ok {
		out.Reference = t.Tag()
	} else if d, ok := named.(reference.Digested); ok {
		out.Reference = d.Digest().String()
	}
	if err := out.Validate(); err != nil {
		return registry.Reference{}, fmt.Errorf("%w: %s mirrors to %s, which is not a valid reference: %v", ErrInvalidReference, name, out, err)
	}
	return out, nil
}

// PushMirror pushes the entries of src (a layout, or an archive read in
// place) named by the full names among names to the registry dst
// (REGISTRY[/PREFIX], see ParseMirrorReference), each to the repository
// and tag MirrorDestination gives (an entry named by a digest only is
// pushed by digest), so that the registry serves as a mirror of the
// registries they came from: a containerd configured with it as the
// mirror of docker.io asks it for library/nginx:1.27 (of PREFIX, with
// containerd's override_path). Entries named by a plain tag are skipped:
// each is called for them first, with Skipped set. When no name is a full
// name, PushMirror fails with ErrNothingToMirror before any request. Two
// full names that would land on one destination tag with different
// manifests (docker.io/app:v1 and quay.io/app:v1) fail it before any
// request too, naming both.
//
// All repositories are pushed through one client (one connection pool,
// one token cache), up to opts.Concurrency.Tags entries at once, and a
// blob shared by several entries is sent once: into the repository of the
// first entry that needs it, and mounted from there into the others (the
// registry links it; Result.Mounted counts them). opts.Referrers and
// opts.Platforms apply to every entry as Push applies them.
//
// each, when not nil, is called with each entry's result in the order of
// names, one call at a time. The first failure stops the rest and is
// returned, naming its entry; the entries pushed before it stay pushed.
func PushMirror(ctx context.Context, src oras.ReadOnlyTarget, names []string, dst registry.Reference, opts Options, each func(MirrorResult)) error {
	if dst.Reference != "" {
		return fmt.Errorf("%w: %s: a mirror is REGISTRY[/PREFIX], without tag or digest", ErrInvalidReference, dst)
	}
	var (
		full, plain []string
		dests       = map[string]registry.Reference{}
	)
	for _, n := range names {
		if !layout.IsFullName(n) && !layout.IsRepoName(n) {
			plain = append(plain, n)
			continue
		}
		d, err := MirrorDestination(n, dst)
		if err != nil {
			return err
		}
		full = append(full, n)
		dests[n] = d
	}
	if len(full) == 0 {
		if len(plain) == 0 {
			return fmt.Errorf("%s: %w: it has no entries", sourceName(asGraph(src)), ErrNothingToMirror)
		}
		return fmt.Errorf("%s: %w: its %d entries have plain tags (%s), which name no source repository; push them with push --all-tags",
			sourceName(asGraph(src)), ErrNothingToMirror, len(plain), listSome(plain))
	}
	if err := checkMirrorConflicts(ctx, src, full, dests); err != nil {
		return err
	}
	if err := requireSigned(ctx, src, full, opts); err != nil {
		return err
	}
	if each != nil {
		for _, n := range plain {
			each(MirrorResult{Name: n, Skipped: true})
		}
	}

	// One client (connection pool, token cache) for every repository.
	repos := map[string]*remote.Repository{}
	var first *remote.Repository
	defer func() {
		if first != nil {
			closeIdleConnections(first.Client)
		}
	}()
	for _, n := range full {
		r := dests[n].Repository
		if repos[r] != nil {
			continue
		}
		repo, err := NewRepository(dests[n], opts.Connection)
		if err != nil {
			return err
		}
		if first == nil {
			first = repo
		} else {
			repo.Client = first.Client
		}
		repos[r] = repo
	}
	g := asGraph(src)
	fl := newBlobFlights()
	var eachResult func(string, *Result)
	if each != nil {
		eachResult = func(n string, res *Result) {
			d := dests[n]
			if _, err := digest.Parse(d.Reference); err == nil {
				d.Reference = res.Manifest.Digest.String() // the digest pushed (a platform subset's)
			}
			each(MirrorResult{Name: n, Destination: d, Result: res})
		}
	}
	return forEachTag(ctx, full, opts.Concurrency.tags(), eachResult, func(ctx context.Context, n string) (*Result, error) {
		d := dests[n]
		srcRef, dstTag := n, d.Reference
		if _, err := digest.Parse(d.Reference); err == nil {
			// By digest: name the source by its digest, so that the
			// copy tags nothing (see copier.run), and a platform subset
			// goes by its own digest.
			srcRef, dstTag = d.Reference, ""
		}
		res, err := pushRepo(ctx, g, srcRef, repos[d.Repository], dstTag, opts, fl)
		if err != nil {
			err = fmt.Errorf("%s -> %s: %w", n, d, err)
		}
		return res, err
	})
}

// checkMirrorConflicts fails when two of names would be pushed to one
// destination tag with different manifests (the source hosts dropped,
// docker.io/app:v1 and quay.io/app:v1 meet).
func checkMirrorConflicts(ctx context.Context, src oras.ReadOnlyTarget, names []string, dests map[string]registry.Reference) error {
	byDest := map[string][]string{}
	for _, n := range names {
		k := dests[n].String()
		byDest[k] = append(byDest[k], n)
	}
	keys := make([]string, 0, len(byDest))
	for k := range byDest {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ns := byDest[k]
		if len(ns) < 2 {
			continue
		}
		first, err := src.Resolve(ctx, ns[0])
		if err != nil {
			return fmt.Errorf("%s: %w", ns[0], err)
		}
		for _, n := range ns[1:] {
			d, err := src.Resolve(ctx, n)
			if err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
			if d.Digest != first.Digest {
				return fmt.Errorf("%w: %s (%s) and %s (%s) would both be pushed to %s; push one of them on its own",
					ErrInvalidReference, ns[0], first.Digest, n, d.Digest, k)
			}
		}
	}
	return nil
}

// listSome lists up to five of names, and how many more there are.
func listSome(names []string) string {
	if len(names) <= 5 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:5], ", "), len(names)-5)
}
