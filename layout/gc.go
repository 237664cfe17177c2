package layout

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/graph"
)

// GCOptions controls GC.
type GCOptions struct {
	// DryRun reports what GC would remove and removes nothing.
	DryRun bool
}

// Removed is one blob GC removed (or, in a dry run, would remove).
type Removed struct {
	// Digest is the blob's digest.
	Digest digest.Digest `json:"digest"`
	// Path is the blob's file, relative to the layout directory with forward
	// slashes.
	Path string `json:"path"`
	// Size is the file's size.
	Size int64 `json:"size"`
}

// GCReport is what GC removed.
type GCReport struct {
	// Removed are the blobs removed, sorted by path.
	Removed []Removed `json:"removed"`
	// IndexEntries are the index.json entries removed: untagged referrers
	// whose subject nothing keeps.
	IndexEntries []ocispec.Descriptor `json:"indexEntries,omitempty"`
	// BytesFreed is the size of the blobs and temporary files removed.
	BytesFreed int64 `json:"bytesFreed"`
	// TempFiles is how many temporary files were removed.
	TempFiles int `json:"tempFiles"`
	// DryRun is set when nothing was actually removed.
	DryRun bool `json:"dryRun"`
}

// GC removes from the layout what nothing keeps, the way `git gc` does.
//
// What is kept: every manifest index.json lists with a tag; every untagged
// entry of index.json that has no subject (other tools list manifests so);
// every untagged entry that is a referrer (it has a subject) whose subject
// is kept; and, recursively, everything those reference: the manifests of
// image indexes, configs, layers, and subjects.
//
// What is removed: every other blob in blobs/<algorithm>/ (the manifests and
// layers left behind by `ocipack rm`, a tag moved by a new pack, an
// interrupted copy); the index.json entries of referrers whose subject is
// not kept (a signature or SBOM of an artifact that was removed), with their
// blobs; and every temporary file in .ocipack/tmp/ and beside index.json.
// Files in blobs/ that are not named as blobs are left alone (Check reports
// them).
//
// GC runs inside exclusive, so it waits (until ctx is done, then fails with
// ErrBusy) while any other Layout, in this or another process, is writing:
// a pack that has stored blobs but not yet tagged them holds the layout
// until it closes, so GC never removes them. l itself must not be writing
// (Close it first). It also holds index.json's lock, so that no tag moves
// while it runs.
//
// GC never guesses: when index.json or oci-layout is missing or broken, or a
// manifest it must read to know what is kept is missing, damaged or of an
// unknown media type, it removes nothing and fails with an error matching
// ErrCorrupt that names it. Removals are made durable by syncing the
// directories. With opts.DryRun it reports the same and removes nothing.
func (l *Layout) GC(ctx context.Context, opts GCOptions) (*GCReport, error) {
	var rep *GCReport
	err := l.exclusive(ctx, func() error {
		return l.withLock(ctx, func() error {
			var err error
			rep, err = l.gcLocked(ctx, opts)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	return rep, nil
}

// gcLocked is GC, with the layout held exclusively.
func (l *Layout) gcLocked(ctx context.Context, opts GCOptions) (*GCReport, error) {
	// Open checks, among the rest, that blobs/, .ocipack/ and what is in
	// them are no links (checkOwn): GC must never list or remove files
	// outside the layout.
	if _, err := Open(ctx, l.root); err != nil {
		return nil, fmt.Errorf("refusing to collect anything: %w", err)
	}
	if fi, err := os.Lstat(filepath.Join(l.root, ocispec.ImageIndexFile)); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w: refusing to collect anything: %s is missing or not a regular file", l.root, ErrCorrupt, ocispec.ImageIndexFile)
	}
	idx, err := l.Index(ctx)
	if err != nil {
		return nil, fmt.Errorf("refusing to collect anything: %w", err)
	}
	g := newGraph(l)
	if err := g.walk(ctx, idx); err != nil {
		return nil, err
	}
	if len(g.blockers) > 0 {
		msg := g.blockers
		more := ""
		if len(msg) > 5 {
			more = fmt.Sprintf("; and %d more", len(msg)-5)
			msg = msg[:5]
		}
		return nil, fmt.Errorf("%s: %w: refusing to collect anything, since what is kept cannot be known: %s%s (`ocipack verify` lists every problem)",
			l.root, ErrCorrupt, strings.Join(msg, "; "), more)
	}
	live, orphans := g.live(idx)

	rep := &GCReport{DryRun: opts.DryRun, Removed: []Removed{}, IndexEntries: orphans}
	blobs := filepath.Join(l.root, ocispec.ImageBlobsDir)
	algs, err := os.ReadDir(blobs)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", blobs, err)
	}
	for _, a := range algs {
		alg := digest.Algorithm(a.Name())
		if !a.IsDir() || !alg.Available() {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(blobs, a.Name()))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", filepath.Join(blobs, a.Name()), err)
		}
		for _, e := range entries {
			d := digest.NewDigestFromEncoded(alg, e.Name())
			if e.IsDir() || graph.ValidateDigest(d) != nil || live[d] {
				continue
			}
			r := Removed{Digest: d, Path: blobRel(d), Size: entrySize(e)}
			rep.Removed = append(rep.Removed, r)
			rep.BytesFreed += r.Size
		}
	}
	slices.SortFunc(rep.Removed, func(a, b Removed) int { return strings.Compare(a.Path, b.Path) })
	temps := l.tempFiles()
	rep.TempFiles = len(temps)
	for _, t := range temps {
		rep.BytesFreed += t.size
	}
	if opts.DryRun {
		return rep, nil
	}

	// index.json first, so that it never lists a removed manifest, even if
	// GC is interrupted.
	if len(orphans) > 0 {
		drop := map[digest.Digest]bool{}
		for _, o := range orphans {
			drop[o.Digest] = true
		}
		idx.Manifests = slices.DeleteFunc(idx.Manifests, func(d ocispec.Descriptor) bool {
			return d.Annotations[ocispec.AnnotationRefName] == "" && drop[d.Digest]
		})
		if err := l.writeIndex(idx); err != nil {
			return nil, fmt.Errorf("update %s index.json: %w", l.root, err)
		}
	}
	dirs := map[string]bool{}
	for _, r := range rep.Removed {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := l.blobPath(r.Digest)
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove %s: %w", p, err)
		}
		dirs[filepath.Dir(p)] = true
	}
	for _, t := range temps {
		p := filepath.Join(l.root, filepath.FromSlash(t.rel))
		if err := os.RemoveAll(p); err != nil {
			return nil, fmt.Errorf("remove %s: %w", p, err)
		}
		dirs[filepath.Dir(p)] = true
	}
	for _, d := range slices.Sorted(maps.Keys(dirs)) {
		if err := syncDir(d); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// reachGraph is what is reachable from index.json, with the problems found on
// the way. Check and GC share it, so that what Check reports as
// unreferenced is exactly what GC removes.
type reachGraph struct {
	l     *Layout
	nodes map[digest.Digest]*gnode
	// problems and warnings are Check's.
	problems, warnings []Problem
	// blockers say why GC cannot know what is kept: a manifest that could
	// not be read, a media type that cannot be followed.
	blockers []string
}

// gnode is one blob reachable from index.json.
type gnode struct {
	d        digest.Digest
	size     int64  // from the first descriptor that reached it
	via      origin // what first referenced it
	manifest bool   // reached as a manifest or image index
	stored   bool   // present, a regular file, of the right size
	children []digest.Digest
	subject  digest.Digest // the manifest's subject, if it has one
}

func newGraph(l *Layout) *reachGraph {
	return &reachGraph{l: l, nodes: map[digest.Digest]*gnode{}}
}

// problem records a problem; blocks says that GC cannot know what is kept.
func (g *reachGraph) problem(kind ProblemKind, d digest.Digest, rel, detail string, blocks bool) {
	g.problems = append(g.problems, Problem{Digest: d, Path: rel, Kind: kind, Detail: detail})
	if blocks {
		what := rel
		if d != "" {
			what = d.String()
		}
		g.blockers = append(g.blockers, fmt.Sprintf("%s: %s: %s", what, kind, detail))
	}
}

func (g *reachGraph) warn(kind ProblemKind, d digest.Digest, rel, detail string) {
	g.warnings = append(g.warnings, Problem{Digest: d, Path: rel, Kind: kind, Detail: detail})
}

// origin says what referenced a blob: its words are built only when a
// message needs them (a check of 100,000 blobs would otherwise build as
// many strings for nothing).
type origin struct {
	what   string        // `tag "v1"`, "index.json manifests[3]", or a field such as "layers[0]"
	parent digest.Digest // the manifest or index that has the field; "" for index.json
	index  bool          // parent is an image index
}

// String is the origin in words: `layers[0] of manifest sha256:…`.
func (o origin) String() string {
	if o.parent == "" {
		return o.what
	}
	if o.index {
		return o.what + " of index " + o.parent.String()
	}
	return o.what + " of manifest " + o.parent.String()
}

// role is how a descriptor is reached.
type role int

const (
	roleBlob     role = iota // a config, a layer: checked, not read
	roleManifest             // a manifest or index: read and followed
	roleSubject              // a manifest's subject: may be absent
)

// walk visits every entry of idx (whose digests are valid) and everything
// reachable from it.
func (g *reachGraph) walk(ctx context.Context, idx *ocispec.Index) error {
	for i, e := range idx.Manifests {
		via := origin{what: fmt.Sprintf("index.json manifests[%d]", i)}
		if t := e.Annotations[ocispec.AnnotationRefName]; t != "" {
			via = origin{what: fmt.Sprintf("tag %q", t)}
		}
		r := roleManifest
		if e.MediaType != "" && !graph.IsManifest(e.MediaType) {
			g.problem(ProblemUnknownMediaType, e.Digest, ocispec.ImageIndexFile,
				fmt.Sprintf("%s has media type %q, which is not a manifest or image index ocipack can read", via, e.MediaType), true)
			r = roleBlob
		}
		if err := g.visit(ctx, e, r, via, 0); err != nil {
			return err
		}
	}
	return nil
}

// visit checks the blob desc describes and, for a manifest, what it
// references. Problems are recorded; only ctx ends it early.
func (g *reachGraph) visit(ctx context.Context, desc ocispec.Descriptor, r role, via origin, depth int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	asManifest := r != roleBlob
	p := g.l.blobPath(desc.Digest)
	n := g.nodes[desc.Digest]
	if n != nil {
		if desc.Size != n.size {
			g.problem(ProblemSize, desc.Digest, blobRel(desc.Digest),
				fmt.Sprintf("%s says it has %d bytes, %s says %d", via, desc.Size, n.via, n.size), asManifest)
			return nil
		}
		if !asManifest || n.manifest {
			return nil
		}
		// Reached as a blob first, and now as a manifest: read it.
		n.manifest = true
		if !n.stored {
			g.blockers = append(g.blockers, fmt.Sprintf("%s: %s references it as a manifest, and it is not stored intact", desc.Digest, via))
			return nil
		}
		return g.readManifest(ctx, n, desc, via, depth)
	}
	n = &gnode{d: desc.Digest, size: desc.Size, via: via, manifest: asManifest}
	g.nodes[desc.Digest] = n
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		switch {
		case r == roleSubject:
			delete(g.nodes, desc.Digest) // not a blob of the layout
			g.warn(ProblemMissingSubject, desc.Digest, blobRel(desc.Digest), fmt.Sprintf("the subject of %s is not stored", via))
		case r == roleBlob && len(desc.URLs) > 0:
			// A non-distributable layer, fetched from its URLs.
		default:
			g.problem(ProblemMissing, desc.Digest, blobRel(desc.Digest), "referenced by "+via.String(), asManifest)
		}
		return nil
	case err != nil:
		g.problem(ProblemUnreadable, desc.Digest, blobRel(desc.Digest), err.Error(), asManifest)
		return nil
	case !fi.Mode().IsRegular():
		g.problem(ProblemNotRegular, desc.Digest, blobRel(desc.Digest), fmt.Sprintf("a %v, not a regular file (referenced by %s)", fi.Mode().Type(), via), asManifest)
		return nil
	case fi.Size() != desc.Size:
		g.problem(ProblemSize, desc.Digest, blobRel(desc.Digest), fmt.Sprintf("stored file has %d bytes, %s says %d", fi.Size(), via, desc.Size), asManifest)
		return nil
	}
	n.stored = true
	if !asManifest {
		return nil
	}
	return g.readManifest(ctx, n, desc, via, depth)
}

// readManifest reads, verifies and parses the stored manifest n, and visits
// what it references.
func (g *reachGraph) readManifest(ctx context.Context, n *gnode, desc ocispec.Descriptor, via origin, depth int) error {
	rel := blobRel(desc.Digest)
	p := g.l.blobPath(desc.Digest)
	if desc.Size > MaxManifestSize {
		g.problem(ProblemCorruptManifest, desc.Digest, rel, fmt.Sprintf("%d bytes, more than the %d a manifest may have (referenced by %s)", desc.Size, MaxManifestSize, via), true)
		return nil
	}
	b, err := openAndReadLimited(p, MaxManifestSize) // a regular file, as visit saw
	if err == nil && int64(len(b)) != desc.Size {
		err = fmt.Errorf("%s changed while being checked", p)
	}
	if err != nil {
		g.problem(ProblemUnreadable, desc.Digest, rel, err.Error(), true)
		return nil
	}
	if got := desc.Digest.Algorithm().FromBytes(b); got != desc.Digest {
		g.problem(ProblemDigest, desc.Digest, rel, fmt.Sprintf("content hashes to %s (referenced by %s)", got, via), true)
		return nil
	}
	doc, err := graph.Decode(desc, b)
	if errors.Is(err, graph.ErrUnknownMediaType) {
		g.problem(ProblemUnknownMediaType, desc.Digest, rel, fmt.Sprintf("%v (referenced by %s)", err, via), true)
		return nil
	}
	if err != nil {
		g.problem(ProblemCorruptManifest, desc.Digest, rel, fmt.Sprintf("%v (referenced by %s)", err, via), true)
		return nil
	}
	if depth >= maxDepth && (doc.Kind == graph.KindIndex || doc.Subject != nil) {
		g.problem(ProblemCorruptManifest, desc.Digest, rel, fmt.Sprintf("nested more than %d deep below index.json", maxDepth), true)
		return nil
	}

	type child struct {
		d    ocispec.Descriptor
		r    role
		what string
	}
	var kids []child
	for _, c := range doc.ChildList() {
		r := roleBlob
		if c.Manifest {
			r = roleManifest
		}
		kids = append(kids, child{c.Descriptor, r, c.Field})
	}
	if doc.Subject != nil {
		kids = append(kids, child{*doc.Subject, roleSubject, "subject"})
		n.subject = doc.Subject.Digest
	}
	for _, k := range kids {
		kvia := origin{what: k.what, parent: desc.Digest, index: doc.Kind == graph.KindIndex}
		if err := checkDescriptor(k.d); err != nil {
			g.problem(ProblemCorruptManifest, desc.Digest, rel, fmt.Sprintf("%s: %v", k.what, err), true)
			continue
		}
		n.children = append(n.children, k.d.Digest)
		if k.r == roleManifest && k.d.MediaType != "" && !graph.IsManifest(k.d.MediaType) {
			g.problem(ProblemUnknownMediaType, k.d.Digest, blobRel(k.d.Digest),
				fmt.Sprintf("%s has media type %q, which is not a manifest or image index ocipack can read", kvia, k.d.MediaType), true)
			k.r = roleBlob
		}
		if err := g.visit(ctx, k.d, k.r, kvia, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// live returns the digests that GC keeps, and the index.json entries it
// drops: untagged referrers whose subject is not kept.
func (g *reachGraph) live(idx *ocispec.Index) (map[digest.Digest]bool, []ocispec.Descriptor) {
	live := map[digest.Digest]bool{}
	var mark func(d digest.Digest)
	mark = func(d digest.Digest) {
		if live[d] {
			return
		}
		live[d] = true
		if n := g.nodes[d]; n != nil {
			for _, c := range n.children {
				mark(c)
			}
		}
	}
	var pending []ocispec.Descriptor // untagged referrers
	for _, e := range idx.Manifests {
		n := g.nodes[e.Digest]
		if e.Annotations[ocispec.AnnotationRefName] == "" && n != nil && n.subject != "" {
			pending = append(pending, e)
			continue
		}
		mark(e.Digest)
	}
	// A referrer of a referrer (the signature of an SBOM) is kept once the
	// referrer is: repeat until nothing changes.
	for changed := true; changed; {
		changed = false
		rest := pending[:0]
		for _, e := range pending {
			if live[e.Digest] || live[g.nodes[e.Digest].subject] {
				mark(e.Digest)
				changed = true
				continue
			}
			rest = append(rest, e)
		}
		pending = rest
	}
	var orphans []ocispec.Descriptor
	seen := map[digest.Digest]bool{}
	for _, e := range pending {
		if !seen[e.Digest] {
			seen[e.Digest] = true
			orphans = append(orphans, e)
		}
	}
	return live, orphans
}
