package transfer

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/ocipack/ocipack/graph"
	"github.com/ocipack/ocipack/layout"
)

// EventKind says what happened to a blob.
type EventKind int

// The kinds of Event.
const (
	// BlobStarted: the blob's transfer began.
	BlobStarted EventKind = iota
	// BlobProgress: more of the blob's bytes were transferred.
	BlobProgress
	// BlobDone: the blob arrived, verified.
	BlobDone
	// BlobSkipped: the destination has the blob already.
	BlobSkipped
	// BlobPlanned: the blob (a layer or config, not a manifest) is part of
	// the graph to copy. Copy walks the source graph before it transfers
	// anything and reports each of its blobs once so, before the first
	// BlobStarted, so that a progress display knows the total from the
	// start. Blobs found only while copying (those of referrers) are not
	// planned.
	BlobPlanned
)

// Event reports one step of one blob's transfer.
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// Descriptor is the blob (or manifest) it happened to.
	Descriptor ocispec.Descriptor
	// Bytes is how many of the blob's bytes were transferred so far.
	Bytes int64
}

// Result sums up a copy.
type Result struct {
	// Manifest is the root manifest copied.
	Manifest ocispec.Descriptor
	// Copied is the number of blobs (layers and configs) transferred.
	Copied int
	// Skipped is the number of blobs the destination had already.
	Skipped int
	// Manifests is the number of manifests transferred. A registry is sent
	// the tagged manifest again even when it has it: that is how it is tagged.
	Manifests int
	// Mounted is the number of the Copied blobs that a registry mounted
	// from another of its repositories (CopyRegistry): none of their bytes
	// travelled.
	Mounted int
	// Bytes is the number of bytes transferred (sent or received).
	Bytes int64
	// Attempts is the number of times the copy was tried.
	Attempts int
}

// Add adds the counts of o (blobs copied, skipped and mounted, manifests,
// bytes and attempts) to r, for a total over several copies; r.Manifest
// is left as it is.
func (r *Result) Add(o *Result) {
	r.Copied += o.Copied
	r.Skipped += o.Skipped
	r.Manifests += o.Manifests
	r.Mounted += o.Mounted
	r.Bytes += o.Bytes
	r.Attempts += o.Attempts
}

// Push copies the artifact srcRef (a tag or digest) of the layout l (or of
// an archive read in place) to the registry repository dst, tagged dstTag
// ("" copies by digest only).
//
// Blobs go up whole, or in chunks (see ResumeOptions.ChunkSize), or in
// chunks after the registry refused one whole as too large. The sessions of
// chunked uploads are kept in opts.Resume.StateDir, or else in the
// source's own state directory when it is a StateKeeper.
func Push(ctx context.Context, l oras.ReadOnlyTarget, srcRef string, dst registry.Reference, dstTag string, opts Options) (*Result, error) {
	if dstTag == "" && len(opts.Platforms) == 0 {
		// Copy, like oras.Copy, would tag the destination with srcRef.
		// (With Platforms, the copy's root may be a new index: run tags
		// by its digest, see copyOnce.)
		desc, err := l.Resolve(ctx, srcRef)
		if err != nil {
			return nil, err
		}
		dstTag = desc.Digest.String()
	}
	if err := requireSigned(ctx, l, []string{srcRef}, opts); err != nil {
		return nil, err
	}
	repo, err := NewRepository(dst, opts.Connection)
	if err != nil {
		return nil, err
	}
	defer closeIdleConnections(repo.Client)
	return pushRepo(ctx, asGraph(l), srcRef, repo, dstTag, opts, nil)
}

// StateKeeper is a source that keeps the state of interrupted transfers:
// layout.Layout and source.Source (a layout's State, in its .ocipack/tmp,
// which gc empties). Push keeps the sessions of chunked uploads there when
// ResumeOptions.StateDir is "", so that a push run again in a new process
// continues them. oras-go's targets have no notion of such state, hence
// this interface of our own; Push checks for it once. A State of nil keeps
// the sessions in memory only (an archive source).
type StateKeeper interface {
	State() *layout.State
}

// pushRepo is Push through the client repo, sharing blobs with the other
// copies of fl (when not nil).
func pushRepo(ctx context.Context, src oras.ReadOnlyGraphTarget, srcRef string, repo *remote.Repository, dstTag string, opts Options, fl *blobFlights) (*Result, error) {
	c := newCopier(src, sourceName(src), repo, opts)
	c.refPusher = repo
	if p, ok := src.(interface{ Path() string }); ok {
		c.origin = p.Path() + refSep(srcRef) + srcRef
	}
	c.claims = fl.claim(repo.Reference.Repository)
	defer c.claims.release()
	if fl != nil {
		// A blob another copy of fl stored in another repository of the
		// registry is mounted from there (PushMirror).
		c.mount = &mounter{to: repo, done: map[digest.Digest]bool{}}
	}
	var state sessionStore
	if opts.Resume.StateDir != "" {
		state = dirState(opts.Resume.StateDir)
	} else if k, ok := src.(StateKeeper); ok && k.State() != nil {
		state = k.State()
	}
	c.up = &pusher{raw: rawRepo{repo}, chunk: opts.Resume.ChunkSize, state: state}
	res, err := c.run(ctx, srcRef, dstTag)
	if c.mount != nil {
		res.Mounted = c.mount.count()
	}
	if err != nil {
		ref := repo.Reference
		return res, fmt.Errorf("push to %s: %w", ref.Registry+"/"+ref.Repository, explainRef(err, registry.Reference{Registry: ref.Registry, Repository: ref.Repository, Reference: dstTag}))
	}
	return res, nil
}

// Pull copies the artifact src names (its tag or digest) from a registry
// into the layout l, tagged dstTag. Other tags of l are left alone.
//
// Large blobs are downloaded resumably into a layout.Writer (see
// ResumeOptions.ParallelRanges). What the pull stored is checked as import
// checks it before it is tagged.
func Pull(ctx context.Context, src registry.Reference, l *layout.Layout, dstTag string, opts Options) (*Result, error) {
	if src.Reference == "" {
		return nil, fmt.Errorf("%w: %s names no tag or digest", ErrInvalidReference, src)
	}
	repo, err := NewRepository(src, opts.Connection)
	if err != nil {
		return nil, err
	}
	defer closeIdleConnections(repo.Client)
	return pullRepo(ctx, repo, src.Reference, l, dstTag, opts, nil)
}

// pullRepo is Pull of srcRef (a tag or digest) through the client repo,
// sharing blobs with the other copies of fl (when not nil).
func pullRepo(ctx context.Context, repo *remote.Repository, srcRef string, l *layout.Layout, dstTag string, opts Options, fl *blobFlights) (*Result, error) {
	src := repo.Reference
	src.Reference = srcRef
	if opts.Policy != nil {
		opts.Referrers = true // the signatures, to check
	}
	// Blobs l has are skipped: hold GC off from before the copy looks at
	// them until the caller closes l.
	if err := l.HoldForWriting(ctx); err != nil {
		return nil, err
	}
	c := newCopier(repo, "registry "+repo.Reference.Registry, l, opts)
	c.layout = l
	c.origin = src.String()
	c.claims = fl.claim("")
	defer c.claims.release()
	c.down = &puller{raw: rawRepo{repo}, l: l, ranges: opts.Resume.ParallelRanges}
	res, err := c.run(ctx, srcRef, dstTag)
	if err != nil {
		return res, fmt.Errorf("pull %s: %w", src, explainRef(err, src))
	}
	return res, nil
}

// Copy copies the artifact srcRef of src, and everything it references
// (and, with opts.Referrers, what refers to it), to dst, tagged dstRef.
// Blobs dst has already are skipped. A copy that fails for a transient reason
// (a reset connection, a 429 or 5xx answer, content cut short) is run again,
// up to opts.Retry.Attempts times with a doubling wait; the blobs that
// arrived are skipped then, so each retry sends only the rest.
//
// A dst that is a registry.ReferencePusher is sent the root manifest with
// its tag in one request. Copy neither resumes blobs nor checks what it
// stored: Push and Pull do, knowing their destinations.
func Copy(ctx context.Context, src oras.ReadOnlyGraphTarget, srcRef string, dst oras.Target, dstRef string, opts Options) (*Result, error) {
	c := newCopier(src, sourceName(src), dst, opts)
	if rp, ok := dst.(registry.ReferencePusher); ok {
		c.refPusher = rp
	}
	return c.run(ctx, srcRef, dstRef)
}

// copier is one copy: its source and destination, and what it does on
// oras-go's hooks (oras.CopyGraphOptions) to count, report, resume and
// tag. Its fields say what the destination is, as the caller knows it: no
// target is asked what it is underneath.
type copier struct {
	// base is the source; src is base, or base with the platform subset's
	// new index (see selectPlatforms).
	base oras.ReadOnlyGraphTarget
	src  oras.ReadOnlyGraphTarget
	// origin is the source reference a platform subset records.
	origin  string
	srcName string // for messages: "registry HOST", "layout PATH"
	// fetch is src with a counting reader on the fetch path (see fetch).
	fetch countingSource
	// target is the destination.
	target oras.Target
	opts   Options
	st     *stats

	// refPusher, when set, is the destination's (a registry's): the root
	// manifest is pushed with its tag in one request.
	refPusher registry.ReferencePusher
	// layout, when set, is the destination: blobs below a manifest it has
	// must be there too for the manifest to count as there, and the graph
	// is checked before it is tagged.
	layout *layout.Layout
	// down downloads large blobs resumably (a pull into a layout).
	down *puller
	// up pushes blobs to a registry, in chunks when asked or needed.
	up *pusher
	// mount, when set, mounts blobs into the destination registry
	// repository from another of its repositories (see copyreg.go): from
	// mount.from, or, when that is "", from the repository claims says
	// another copy stored the blob in.
	mount *mounter
	// claims shares blobs with the concurrent copies of other tags into
	// the same destination (nil when there are none).
	claims *tagClaims
}

func newCopier(src oras.ReadOnlyGraphTarget, name string, dst oras.Target, opts Options) *copier {
	st := newStats(opts.OnEvent)
	return &copier{base: src, src: src, srcName: name, fetch: countingSource{src, st}, target: dst, opts: opts, st: st}
}

// run resolves srcRef, walks its graph and copies it, trying again after
// transient failures.
func (c *copier) run(ctx context.Context, srcRef, dstRef string) (*Result, error) {
	attempts := c.opts.Retry.attempts()
	wait := c.opts.Retry.wait()
	res := &Result{}
	// The root is resolved and its graph walked within the attempts: from
	// a registry, that reads manifests, which a fault can cut short too.
	var (
		root      ocispec.Descriptor
		referrers []ocispec.Descriptor
	)
	resolve := func() error {
		d, err := c.base.Resolve(ctx, srcRef)
		if err != nil {
			return err
		}
		if err := checkDescriptor(d, c.srcName+" (for "+srcRef+")"); err != nil {
			return err
		}
		origin := c.origin
		if origin == "" {
			origin = srcRef
		}
		sd, err := c.selectPlatforms(ctx, d, origin)
		if err != nil {
			return err
		}
		refs, err := c.plan(ctx, sd)
		if err != nil {
			return err
		}
		if dstRef == "" && srcRef != d.Digest.String() {
			// A plain tag travels as it is; a full name
			// (docker.io/library/nginx:1.27) by its tag, and one with
			// only a digest by digest.
			dstRef = layout.NameTag(srcRef)
		}
		root, referrers = sd, refs
		return nil
	}
	for {
		res.Attempts++
		var err error
		if root.Digest == "" {
			err = resolve()
		}
		if err == nil {
			if err = c.copyOnce(ctx, root, referrers, dstRef); err == nil {
				res.Manifest = root
				break
			}
		}
		if ctx.Err() != nil || !transient(err) || res.Attempts >= attempts {
			c.st.fill(res)
			if res.Attempts > 1 {
				err = fmt.Errorf("%w (gave up after %d attempts)", err, res.Attempts)
			}
			return res, err
		}
		select {
		case <-ctx.Done():
			c.st.fill(res)
			return res, ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
	c.st.reportUnseenSkips()
	c.st.fill(res)
	return res, nil
}

// plan walks the graph of root in the source with graph's Walker, subjects
// included (oras.CopyGraph copies a referrer with its subject), before
// anything is transferred: it refuses descriptors of impossible sizes
// before any blob is fetched, reports every blob planned (sizing the
// copy), and, with Options.Referrers, lists the referrers of every manifest
// met (the root, the child manifests of an index, their subjects, and the
// referrers themselves: a signature of an SBOM), at most MaxReferrers in
// all.
//
// oras.ExtendedCopy would carry only the referrers of the root (and
// theirs): it looks for predecessors of the root alone, so the referrers of
// the child manifests of an image index (an SBOM or a signature of one
// platform's image) would stay behind.
func (c *copier) plan(ctx context.Context, root ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	var refs []ocispec.Descriptor
	w := &graph.Walker{
		Fetcher:  c.src,
		Subjects: true,
		Visit: func(_ context.Context, n graph.Node) error {
			c.st.node(n.Descriptor)
			return nil
		},
	}
	if c.opts.Referrers {
		w.Referrers = func(ctx context.Context, m ocispec.Descriptor) ([]ocispec.Descriptor, error) {
			preds, err := c.listReferrers(ctx, m, MaxReferrers-len(refs))
			if err != nil {
				return nil, err
			}
			var fresh []ocispec.Descriptor
			for _, p := range preds {
				if w.Seen(p.Digest) || containsDigest(fresh, p) {
					continue
				}
				if len(refs) >= MaxReferrers {
					return nil, tooMany("%s lists more than %d referrers for the artifact and its manifests; refusing to list more: copy it without --referrers", c.srcName, MaxReferrers)
				}
				refs = append(refs, p)
				fresh = append(fresh, p)
			}
			return fresh, nil
		}
	}
	if err := w.Walk(ctx, root); err != nil {
		if errors.Is(err, graph.ErrInvalidDescriptor) && !errors.Is(err, ErrTooManyPages) {
			return nil, fmt.Errorf("%w; refusing to download it", err)
		}
		return nil, err
	}
	return refs, nil
}

func containsDigest(ds []ocispec.Descriptor, d ocispec.Descriptor) bool {
	for _, x := range ds {
		if x.Digest == d.Digest {
			return true
		}
	}
	return false
}

// listReferrers returns the referrers of m in the source. A source that
// lists them page by page (oras-go's registry.ReferrerLister: a registry)
// is read a page at a time, failing with ErrTooManyPages when it lists more
// than budget (or more pages than MaxReferrerPages, see NewRepository);
// any other is asked for its Predecessors (index.json in a layout).
func (c *copier) listReferrers(ctx context.Context, m ocispec.Descriptor, budget int) ([]ocispec.Descriptor, error) {
	if s, ok := c.src.(*subsetSource); ok && s.isNew(m) {
		return nil, nil // made here: nothing refers to it
	}
	rl, ok := c.base.(registry.ReferrerLister)
	if !ok {
		return c.base.Predecessors(ctx, m)
	}
	// Not Predecessors: it collects every page before it returns.
	var out []ocispec.Descriptor
	err := rl.Referrers(ctx, m, "", func(page []ocispec.Descriptor) error {
		if len(page) > budget-len(out) {
			return tooMany("%s lists more than %d referrers for %s; refusing to list more: pull it without --referrers", c.srcName, MaxReferrers, m.Digest)
		}
		out = append(out, page...)
		return nil
	})
	if errors.Is(err, errdef.ErrTooManyPages) {
		return nil, tooMany("%s keeps returning more referrer pages for %s after %d pages; refusing to list more: pull it without --referrers",
			c.srcName, m.Digest, MaxReferrerPages)
	}
	return out, err
}

// copyOnce copies root, and the referrers, from the source to the
// destination, and tags root dstRef there. Each graph is copied by
// oras.CopyGraph with the copier's hooks (see graphOptions); a referrer is
// copied with its subject, which is there by then.
//
// Into a layout, the whole graph is copied first and checked as import
// checks it (layout.Layout.Check with Roots) before root is tagged: a graph that verify
// would report as damaged (a manifest of an unknown media type, say) is
// refused and tags nothing. To a registry, root is tagged with the push of
// its manifest, in one request.
func (c *copier) copyOnce(ctx context.Context, root ocispec.Descriptor, referrers []ocispec.Descriptor, dstRef string) error {
	if dstRef == "" {
		dstRef = root.Digest.String() // as oras.Copy would
	}
	dst := destination{c.target, c}
	if err := oras.CopyGraph(ctx, c.fetch, dst, root, c.graphOptions(&root, dstRef)); err != nil {
		return err
	}
	var listed map[string]bool
	if c.layout != nil && (len(referrers) > 0 || c.opts.Policy != nil) {
		var err error
		if listed, err = c.listed(ctx); err != nil {
			return err
		}
	}
	g := c.graphOptions(nil, "")
	for _, r := range referrers {
		if err := oras.CopyGraph(ctx, c.fetch, dst, r, g); err != nil {
			return err
		}
	}
	if c.layout != nil {
		if err := c.checkGraph(ctx, root, referrers, listed); err != nil {
			return err
		}
		if c.opts.Policy != nil {
			if err := c.verifyPulled(ctx, root, referrers, listed, c.origin); err != nil {
				return err
			}
		}
	}
	if c.refPusher != nil {
		return nil // tagged by PushReference
	}
	if err := c.target.Tag(ctx, root, dstRef); err != nil {
		return &oras.CopyError{Op: "Tag", Origin: oras.CopyErrorOriginDestination, Err: err}
	}
	return nil
}

// graphOptions are the hooks of one oras.CopyGraph. With root set and a
// destination that pushes references, root is pushed with the tag dstRef,
// whether the destination has it or not (as oras.Copy does; done here so
// that the push is counted like every other).
//
//   - PreCopy reports BlobStarted, and transfers large blobs itself where
//     oras-go has no seam for it: a resumable download into a layout
//     (resume.go), a push in chunks, or one refused whole and then sent in
//     chunks (chunk.go). It returns oras.SkipNode then, the blob being at
//     the destination.
//   - PostCopy reports BlobDone (and counts a manifest's bytes: manifests
//     come from oras-go's cache, not through the counting reader).
//   - OnCopySkipped reports BlobSkipped.
//   - FindSuccessors is graph.Successors: the same children and subject
//     the walk of plan found.
//
// Blob bytes are counted, and BlobProgress reported, by the counting
// reader on the fetch path (countingSource).
func (c *copier) graphOptions(root *ocispec.Descriptor, dstRef string) oras.CopyGraphOptions {
	isRoot := func(d ocispec.Descriptor) bool {
		return root != nil && c.refPusher != nil && content.Equal(d, *root)
	}
	return oras.CopyGraphOptions{
		Concurrency:    c.opts.Concurrency.blobs(),
		FindSuccessors: graph.Successors,
		PreCopy: func(ctx context.Context, d ocispec.Descriptor) error {
			c.st.event(BlobStarted, d, 0)
			switch {
			case isRoot(d):
				return c.pushRoot(ctx, d, dstRef)
			case isManifest(d):
				return nil
			case c.down != nil && d.Size >= resumeMin:
				return c.download(ctx, d)
			case c.mountSource(d) != "":
				return c.mountBlob(ctx, d, c.mountSource(d))
			case c.up != nil:
				return c.upload(ctx, d)
			}
			return nil
		},
		PostCopy: func(_ context.Context, d ocispec.Descriptor) error {
			c.done(d)
			return nil
		},
		OnCopySkipped: func(ctx context.Context, d ocispec.Descriptor) error {
			if isRoot(d) {
				c.st.event(BlobStarted, d, 0)
				if err := c.pushRoot(ctx, d, dstRef); !errors.Is(err, oras.SkipNode) {
					return err
				}
				return nil
			}
			c.st.skip(d)
			return nil
		},
	}
}

// done records that d arrived.
func (c *copier) done(d ocispec.Descriptor) {
	if isManifest(d) {
		c.st.bytes.Add(d.Size)
		c.st.event(BlobProgress, d, d.Size)
	}
	c.st.done(d)
	c.claims.settle(d, true)
}

// pushRoot pushes the root manifest d with the tag ref, and returns
// oras.SkipNode: it is at the destination.
func (c *copier) pushRoot(ctx context.Context, d ocispec.Descriptor, ref string) error {
	rc, err := c.src.Fetch(ctx, d)
	if err != nil {
		return &oras.CopyError{Op: "Fetch", Origin: oras.CopyErrorOriginSource, Err: &descError{d, err}}
	}
	defer rc.Close()
	if err := c.refPusher.PushReference(ctx, d, rc, ref); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return &oras.CopyError{Op: "PushReference", Origin: oras.CopyErrorOriginDestination, Err: &descError{d, err}}
	}
	c.done(d)
	return oras.SkipNode
}

// download pulls the large blob d resumably (see puller), and returns
// oras.SkipNode when it is stored.
func (c *copier) download(ctx context.Context, d ocispec.Descriptor) error {
	var have atomic.Int64 // bytes of d on disk so far
	err := c.down.download(ctx, d, func(n int64) {
		have.Store(n)
		if n > 0 {
			c.st.event(BlobProgress, d, n)
		}
	}, func(n int64) {
		c.st.bytes.Add(n)
		c.st.event(BlobProgress, d, have.Add(n))
	})
	return c.settle(d, err)
}

// upload pushes the blob d to the registry: in chunks when it is larger
// than ResumeOptions.ChunkSize, else in one request, and in chunks after
// all if the registry refuses that as too large. It returns oras.SkipNode
// when the blob is there.
func (c *copier) upload(ctx context.Context, d ocispec.Descriptor) error {
	return c.settle(d, c.uploadBlob(ctx, d))
}

// settle records how storing the blob d at the destination ended (err:
// nil when stored, errdef.ErrAlreadyExists when it was there already) and
// returns oras.SkipNode, or the copy error.
func (c *copier) settle(d ocispec.Descriptor, err error) error {
	switch {
	case errors.Is(err, errdef.ErrAlreadyExists):
		c.st.skip(d)
		c.claims.settle(d, true)
		return oras.SkipNode
	case err != nil:
		c.claims.settle(d, false)
		return &oras.CopyError{Op: "Push", Origin: oras.CopyErrorOriginDestination, Err: &descError{d, err}}
	}
	c.done(d)
	return oras.SkipNode
}

func (c *copier) uploadBlob(ctx context.Context, d ocispec.Descriptor) error {
	cr, err := c.fetch.open(ctx, d)
	if err != nil {
		return err
	}
	defer cr.Close()
	if c.up.chunk > 0 && d.Size > c.up.chunk {
		return c.up.upload(ctx, d, cr, c.up.chunk)
	}
	err = c.up.raw.repo.Push(ctx, d, cr)
	if !errTooLarge(err) {
		return err
	}
	// Refused whole: once more, in chunks. The first try consumed cr.
	size := int64(autoChunk)
	if c.up.chunk > 0 {
		size = c.up.chunk
	}
	size = min(size, max(d.Size/2, minChunk))
	again, ferr := c.fetch.open(ctx, d)
	if ferr != nil {
		return err
	}
	defer again.Close()
	if cerr := c.up.upload(ctx, d, again, size); cerr != nil {
		return fmt.Errorf("%w (the registry refused it in one request too: %v)", cerr, err)
	}
	return nil
}

// destination is what oras.CopyGraph copies into: the copy's target, with
// Exists answered by the copier (see exists).
type destination struct {
	oras.Target
	c *copier
}

// Exists asks the destination whether it has d, naming d in the error.
func (d destination) Exists(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	ok, err := d.c.claims.exists(ctx, desc, d.c.exists)
	if err != nil {
		return false, &descError{desc: desc, err: err}
	}
	return ok, nil
}

// exists reports whether the destination has d. oras.CopyGraph skips the
// whole graph below a manifest the destination has, so in a layout a
// manifest counts as there only when everything below it is stored too:
// an import or a gc that was killed part way can leave a manifest whose
// blobs are missing (an import stores manifests before their layers; gc
// removes blobs in any order).
func (c *copier) exists(ctx context.Context, d ocispec.Descriptor) (bool, error) {
	ok, err := c.target.Exists(ctx, d)
	if !ok || err != nil || c.layout == nil || !isManifest(d) {
		return ok, err
	}
	return complete(ctx, c.layout, d), nil
}

// errMissing ends the walk of complete.
var errMissing = errors.New("missing")

// complete reports whether every node below the stored manifest d is stored
// in l, within graph's bounds; a manifest that cannot be read counts as
// incomplete, so that it is copied again.
func complete(ctx context.Context, l *layout.Layout, d ocispec.Descriptor) bool {
	w := graph.Walker{Fetcher: l, Subjects: true, Visit: func(ctx context.Context, n graph.Node) error {
		if n.Parent == nil {
			return nil
		}
		if ok, err := l.Exists(ctx, n.Descriptor); err != nil || !ok {
			return errMissing
		}
		return nil
	}}
	return w.Walk(ctx, d) == nil
}

// listed returns the digests that the destination layout's index.json lists.
func (c *copier) listed(ctx context.Context) (map[string]bool, error) {
	idx, err := c.layout.Index(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, d := range idx.Manifests {
		out[d.Digest.String()] = true
	}
	return out, nil
}

// checkGraph checks what a pull stored into a layout, as import does,
// before it is tagged. When it finds a problem, it takes the referrers the
// pull listed in index.json (a layout lists each referrer it stores, see
// layout.Predecessors) out again, so that the layout stays as verify
// accepts it; the blobs the pull stored are then unreferenced, and gc
// removes them.
func (c *copier) checkGraph(ctx context.Context, root ocispec.Descriptor, referrers []ocispec.Descriptor, listed map[string]bool) error {
	rep, err := c.layout.Check(ctx, layout.CheckOptions{Roots: append([]ocispec.Descriptor{root}, referrers...)})
	if err != nil {
		return err
	}
	problems := rep.Problems
	if len(problems) == 0 {
		return nil
	}
	if len(referrers) > 0 {
		var err error
		for _, r := range referrers {
			if !listed[r.Digest.String()] {
				// One at a time: one the pull did not list is no failure.
				if uerr := c.layout.Untag(ctx, r.Digest.String()); uerr != nil && !errors.Is(uerr, layout.ErrNotFound) {
					err = uerr
				}
			}
		}
		if err != nil {
			return fmt.Errorf("%w: %s; and taking the referrers it listed out of index.json failed: %v", ErrUnsupportedGraph, problems[0], err)
		}
	}
	more := ""
	if len(problems) > 1 {
		more = fmt.Sprintf(" (and %d more problems)", len(problems)-1)
	}
	return fmt.Errorf("%w: %s%s; nothing was tagged, and 'ocipack gc' removes what the pull stored", ErrUnsupportedGraph, problems[0], more)
}

// isManifest reports whether d is a manifest or an index (graph.IsManifest).
func isManifest(d ocispec.Descriptor) bool { return graph.IsManifest(d.MediaType) }

// sourceName names a copy's source for errors: by its String method when
// it has one (a source.Source says "layout PATH" or "archive PATH").
func sourceName(src oras.ReadOnlyGraphTarget) string {
	if s, ok := src.(fmt.Stringer); ok {
		return s.String()
	}
	return "the source"
}

// asGraph lets a source that cannot list referrers (an archive read in
// place) be copied: it reports none.
func asGraph(t oras.ReadOnlyTarget) oras.ReadOnlyGraphTarget {
	if g, ok := t.(oras.ReadOnlyGraphTarget); ok {
		return g
	}
	return noReferrers{t}
}

type noReferrers struct{ oras.ReadOnlyTarget }

func (noReferrers) Predecessors(context.Context, ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	return nil, nil
}
