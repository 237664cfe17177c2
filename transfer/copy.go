package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
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
	Kind       EventKind
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
	// Bytes is the number of bytes transferred (sent or received).
	Bytes int64
	// Attempts is the number of times the copy was tried.
	Attempts int
}

// Push copies the artifact srcRef (a tag or digest) of the layout l (or of
// an archive read in place) to the registry repository dst, tagged dstTag
// ("" copies by digest only).
func Push(ctx context.Context, l oras.ReadOnlyTarget, srcRef string, dst registry.Reference, dstTag string, opts Options) (*Result, error) {
	if dstTag == "" {
		// Copy, like oras.Copy, would tag the destination with srcRef.
		desc, err := l.Resolve(ctx, srcRef)
		if err != nil {
			return nil, err
		}
		dstTag = desc.Digest.String()
	}
	repo, err := NewRepository(dst, opts)
	if err != nil {
		return nil, err
	}
	defer closeIdleConnections(repo.Client)
	return pushRepo(ctx, asGraph(l), srcRef, repo, dstTag, opts, nil)
}

// pushRepo is Push through the client repo, sharing blobs with the other
// copies of fl (when not nil).
func pushRepo(ctx context.Context, src oras.ReadOnlyGraphTarget, srcRef string, repo *remote.Repository, dstTag string, opts Options, fl *blobFlights) (*Result, error) {
	dst, done := fl.wrap(repo)
	defer done()
	res, err := Copy(ctx, src, srcRef, dst, dstTag, opts)
	if err != nil {
		ref := repo.Reference
		return res, fmt.Errorf("push to %s: %w", ref.Registry+"/"+ref.Repository, explainRef(err, registry.Reference{Registry: ref.Registry, Repository: ref.Repository, Reference: dstTag}))
	}
	return res, nil
}

// Pull copies the artifact src names (its tag or digest) from a registry
// into the layout l, tagged dstTag. Other tags of l are left alone.
func Pull(ctx context.Context, src registry.Reference, l *layout.Layout, dstTag string, opts Options) (*Result, error) {
	if src.Reference == "" {
		return nil, fmt.Errorf("%w: %s names no tag or digest", ErrInvalidReference, src)
	}
	repo, err := NewRepository(src, opts)
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
	// Blobs l has are skipped: hold GC off from before the copy looks at
	// them until the caller closes l.
	if err := l.HoldForWriting(ctx); err != nil {
		return nil, err
	}
	dst, done := fl.wrap(completeLayout{l})
	defer done()
	res, err := Copy(ctx, repo, srcRef, dst, dstTag, opts)
	if err != nil {
		return res, fmt.Errorf("pull %s: %w", src, explainRef(err, src))
	}
	return res, nil
}

// completeLayout is a pull's destination. oras.Copy skips the whole graph
// below a manifest the destination has, so here a manifest counts as there
// only when everything below it is stored too: an import or a gc that was
// killed part way can leave a manifest whose blobs are missing (an import
// stores manifests before their layers; gc removes blobs in any order).
type completeLayout struct{ *layout.Layout }

func (c completeLayout) Exists(ctx context.Context, d ocispec.Descriptor) (bool, error) {
	ok, err := c.Layout.Exists(ctx, d)
	if !ok || err != nil || !isManifest(d) {
		return ok, err
	}
	return c.complete(ctx, d, 0), nil
}

// complete reports whether every blob below the stored manifest d is
// stored, within graphWalker's bounds; a manifest that cannot be read counts
// as incomplete, so that it is copied again.
func (c completeLayout) complete(ctx context.Context, d ocispec.Descriptor, depth int) bool {
	if depth > graph.MaxDepth || d.Size > graph.MaxManifestSize {
		return false
	}
	succ, err := graph.Successors(ctx, c.Layout, d)
	if err != nil {
		return false
	}
	for _, s := range succ {
		if ok, err := c.Layout.Exists(ctx, s); err != nil || !ok {
			return false
		}
		if isManifest(s) && !c.complete(ctx, s, depth+1) {
			return false
		}
	}
	return true
}

// Copy copies the artifact srcRef of src, and everything it references
// (and, with opts.Referrers, what refers to it), to dst, tagged dstRef.
// Blobs dst has already are skipped. A copy that fails for a transient reason
// (a reset connection, a 429 or 5xx answer, content cut short) is run again,
// up to opts.Attempts times with a doubling wait; the blobs that arrived are
// skipped then, so each retry sends only the rest.
func Copy(ctx context.Context, src oras.ReadOnlyGraphTarget, srcRef string, dst oras.Target, dstRef string, opts Options) (*Result, error) {
	attempts := opts.Attempts
	if attempts <= 0 {
		attempts = 4
	}
	wait := opts.RetryWait
	if wait <= 0 {
		wait = time.Second
	}
	st := &stats{copied: map[digest.Digest]bool{}, skipped: map[digest.Digest]bool{}, sent: map[digest.Digest]bool{}, onEvent: opts.OnEvent}
	res := &Result{}
	// The root is resolved and its graph walked within the attempts: from
	// a registry, that reads manifests, which a fault can cut short too.
	// The walk refuses descriptors of impossible sizes before any blob is
	// fetched, and with opts.Referrers it lists the referrers to carry.
	var (
		root      ocispec.Descriptor
		referrers []ocispec.Descriptor
	)
	resolve := func() error {
		d, err := src.Resolve(ctx, srcRef)
		if err != nil {
			return err
		}
		if err := checkDescriptor(d, sourceName(src)+" (for "+srcRef+")"); err != nil {
			return err
		}
		// Every blob of the graph that is not transferred is one the destination
		// had: oras.Copy reports only the top of a skipped sub-graph.
		w := newGraphWalker(src, func(d ocispec.Descriptor) { st.node(d) })
		if err := w.walk(ctx, d, "", 0); err != nil {
			return err
		}
		var refs []ocispec.Descriptor
		if opts.Referrers {
			if refs, err = findReferrers(ctx, src, w); err != nil {
				return err
			}
		}
		root, referrers = d, refs
		if dstRef == "" && srcRef != root.Digest.String() {
			dstRef = srcRef
		}
		return nil
	}
	tgt, copySrc := newCountingTarget(src, dst, opts, st)
	for {
		res.Attempts++
		var err error
		if root.Digest == "" {
			err = resolve()
		}
		if err == nil {
			if err = copyOnce(ctx, copySrc, root, referrers, tgt, dstRef, opts, st); err == nil {
				res.Manifest = root
				break
			}
		}
		if ctx.Err() != nil || !transient(err) || res.Attempts >= attempts {
			st.fill(res)
			if res.Attempts > 1 {
				err = fmt.Errorf("%w (gave up after %d attempts)", err, res.Attempts)
			}
			return res, err
		}
		select {
		case <-ctx.Done():
			st.fill(res)
			return res, ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
	st.reportUnseenSkips()
	st.fill(res)
	return res, nil
}

// reportUnseenSkips reports as skipped the blobs below a sub-graph that
// oras.Copy skipped whole.
func (s *stats) reportUnseenSkips() {
	s.mu.Lock()
	var pending, sent []ocispec.Descriptor
	for d, desc := range s.nodes {
		switch {
		case s.copied[d] || s.skipped[d] || isManifest(desc):
		case s.sent[d]:
			s.copied[d] = true
			sent = append(sent, desc)
		default:
			s.skipped[d] = true
			pending = append(pending, desc)
		}
	}
	s.mu.Unlock()
	for _, d := range sent {
		s.event(BlobDone, d, d.Size)
	}
	for _, d := range pending {
		s.event(BlobSkipped, d, 0)
	}
}

// copyOnce copies root, and the referrers, from src to dst, and tags root
// dstRef there.
//
// oras.ExtendedCopy would carry only the referrers of the root (and theirs):
// it looks for predecessors of the root alone, so the referrers of the
// child manifests of an image index (an SBOM or a signature of one
// platform's image) would stay behind. The referrers are therefore found
// by the graph walk (findReferrers, on oras-go's Predecessors) and each is
// copied with oras.CopyGraph, which copies its subject too.
//
// Into a layout, the whole graph is copied first and checked as import
// checks it (layout.Layout.Check with Roots) before root is tagged: a graph that verify
// would report as damaged (a manifest of an unknown media type, say) is
// refused and tags nothing. To a registry, oras.Copy tags root with the
// push of its manifest, in one request.
func copyOnce(ctx context.Context, src oras.ReadOnlyGraphTarget, root ocispec.Descriptor, referrers []ocispec.Descriptor, dst *countingTarget, dstRef string, opts Options, st *stats) error {
	g := oras.DefaultCopyGraphOptions
	g.Concurrency = opts.Concurrency
	if g.Concurrency <= 0 {
		g.Concurrency = 4
	}
	g.OnCopySkipped = func(_ context.Context, d ocispec.Descriptor) error {
		st.skip(d)
		return nil
	}
	copyReferrers := func() error {
		for _, r := range referrers {
			if err := oras.CopyGraph(ctx, src, dst, r, g); err != nil {
				return err
			}
		}
		return nil
	}
	if dst.layout == nil {
		co := oras.DefaultCopyOptions
		co.CopyGraphOptions = g
		if _, err := oras.Copy(ctx, src, root.Digest.String(), dst, dstRef, co); err != nil {
			return err
		}
		return copyReferrers()
	}
	listed, err := dst.listed(ctx, referrers)
	if err != nil {
		return err
	}
	if err := oras.CopyGraph(ctx, src, dst, root, g); err != nil {
		return err
	}
	if err := copyReferrers(); err != nil {
		return err
	}
	if err := dst.checkGraph(ctx, root, referrers, listed); err != nil {
		return err
	}
	if dstRef == "" {
		dstRef = root.Digest.String() // as oras.Copy would
	}
	return dst.Tag(ctx, root, dstRef)
}

// listed returns which of referrers the destination layout's index.json
// lists already.
func (t *countingTarget) listed(ctx context.Context, referrers []ocispec.Descriptor) (map[digest.Digest]bool, error) {
	if len(referrers) == 0 {
		return nil, nil
	}
	idx, err := t.layout.Index(ctx)
	if err != nil {
		return nil, err
	}
	out := map[digest.Digest]bool{}
	for _, d := range idx.Manifests {
		out[d.Digest] = true
	}
	return out, nil
}

// checkGraph checks what a pull stored into a layout, as import does,
// before it is tagged. When it finds a problem, it takes the referrers the
// pull listed in index.json (a layout lists each referrer it stores, see
// layout.Predecessors) out again, so that the layout stays as verify
// accepts it; the blobs the pull stored are then unreferenced, and gc
// removes them.
func (t *countingTarget) checkGraph(ctx context.Context, root ocispec.Descriptor, referrers []ocispec.Descriptor, listed map[digest.Digest]bool) error {
	rep, err := t.layout.Check(ctx, layout.CheckOptions{Roots: append([]ocispec.Descriptor{root}, referrers...)})
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
			if !listed[r.Digest] {
				// One at a time: one the pull did not list is no failure.
				if uerr := t.layout.Untag(ctx, r.Digest.String()); uerr != nil && !errors.Is(uerr, layout.ErrNotFound) {
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

// stats counts what a copy did across its attempts.
type stats struct {
	bytes   atomic.Int64
	onEvent func(Event)

	mu      sync.Mutex
	copied  map[digest.Digest]bool
	skipped map[digest.Digest]bool
	// sent are the blobs whose every byte was read for the destination,
	// in an attempt that may have failed before their arrival was
	// confirmed (a failure elsewhere cancels the requests in flight).
	sent      map[digest.Digest]bool
	nodes     map[digest.Digest]ocispec.Descriptor
	manifests int
}

// node records a blob of the graph being copied, and reports it planned.
func (s *stats) node(d ocispec.Descriptor) {
	s.mu.Lock()
	if s.nodes == nil {
		s.nodes = map[digest.Digest]ocispec.Descriptor{}
	}
	_, seen := s.nodes[d.Digest]
	s.nodes[d.Digest] = d
	s.mu.Unlock()
	if !seen && !isManifest(d) {
		s.event(BlobPlanned, d, 0)
	}
}

func (s *stats) event(kind EventKind, d ocispec.Descriptor, n int64) {
	if s.onEvent != nil {
		s.onEvent(Event{Kind: kind, Descriptor: d, Bytes: n})
	}
}

func (s *stats) skip(d ocispec.Descriptor) {
	if isManifest(d) {
		return
	}
	s.mu.Lock()
	if s.sent[d.Digest] && !s.copied[d.Digest] {
		// An earlier attempt sent it all and failed before it heard the
		// answer: the destination has it because this copy sent it.
		s.copied[d.Digest] = true
		s.mu.Unlock()
		s.event(BlobDone, d, d.Size)
		return
	}
	first := !s.skipped[d.Digest] && !s.copied[d.Digest]
	s.skipped[d.Digest] = true
	s.mu.Unlock()
	if first {
		s.event(BlobSkipped, d, 0)
	}
}

func (s *stats) done(d ocispec.Descriptor) {
	s.mu.Lock()
	if isManifest(d) {
		s.manifests++
	} else {
		s.copied[d.Digest] = true
	}
	s.mu.Unlock()
	s.event(BlobDone, d, d.Size)
}

// fill writes the counts into r. A blob skipped in a retry because an
// earlier attempt copied it counts as copied. After a failed copy, the
// blobs neither copied nor found at the destination count as neither.
func (s *stats) fill(r *Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Copied = len(s.copied)
	r.Manifests = s.manifests
	r.Skipped = 0
	for d := range s.skipped {
		if !s.copied[d] {
			r.Skipped++
		}
	}
	r.Bytes = s.bytes.Load()
}

// countingTarget wraps a copy's destination to count bytes, report progress
// and name the blob in errors. It pushes tagged manifests with
// PushReference where the destination can (one request to a registry), and
// with Push and Tag otherwise.
//
// Between a registry and a layout it also makes blob transfers resumable:
// a pull downloads large blobs itself (see resume.go) and a push sends
// blobs in chunks when asked or when the registry refuses one whole (see
// chunk.go).
type countingTarget struct {
	oras.Target
	st   *stats
	pull *puller // set for a pull from a registry into a layout
	up   *pusher // set for a push to a registry
	// layout is the destination when it is a layout: what a copy stores
	// there is checked before it is tagged.
	layout *layout.Layout
}

// newCountingTarget wraps dst, and returns the source for oras.Copy to
// read: a pull's source hands large blobs over unfetched.
func newCountingTarget(src oras.ReadOnlyGraphTarget, dst oras.Target, opts Options, st *stats) (*countingTarget, oras.ReadOnlyGraphTarget) {
	t := &countingTarget{Target: dst, st: st}
	// What dst is underneath the wrappers of PullTags and PushTags.
	under := dst
	for {
		u, ok := under.(interface{ unwrapTarget() oras.Target })
		if !ok {
			break
		}
		under = u.unwrapTarget()
	}
	switch d := under.(type) {
	case completeLayout:
		t.layout = d.Layout
	case *layout.Layout:
		t.layout = d
	}
	if repo, ok := src.(*remote.Repository); ok {
		if l := t.layout; l != nil {
			t.pull = &puller{raw: rawRepo{repo}, l: l, ranges: opts.ParallelRanges}
			src = resumableSource{src}
		}
	}
	if repo, ok := under.(*remote.Repository); ok {
		var state sessionStore
		if opts.StateDir != "" {
			state = dirState(opts.StateDir)
		} else if l, ok := src.(interface{ State() *layout.State }); ok && l.State() != nil {
			// A layout (or a source.Source opened on one) keeps the
			// upload sessions in its State.
			state = l.State()
		}
		t.up = &pusher{raw: rawRepo{repo}, src: src, chunk: opts.ChunkSize, state: state}
	}
	return t, src
}

func (t *countingTarget) Push(ctx context.Context, d ocispec.Descriptor, r io.Reader) error {
	if b, ok := r.(*lazyBlob); ok && t.pull != nil {
		return t.download(ctx, d, b)
	}
	if t.up != nil && !isManifest(d) {
		return t.upload(ctx, d, r)
	}
	return t.push(d, r, func(r io.Reader) error { return t.Target.Push(ctx, d, r) })
}

// download pulls a large blob resumably (see puller).
func (t *countingTarget) download(ctx context.Context, d ocispec.Descriptor, _ *lazyBlob) (err error) {
	defer func() { t.settle(d, err) }()
	t.st.event(BlobStarted, d, 0)
	var have atomic.Int64
	err = t.pull.download(ctx, d, func(n int64) {
		have.Store(n)
		if n > 0 {
			t.st.event(BlobProgress, d, n)
		}
	}, func(n int64) {
		t.st.bytes.Add(n)
		t.st.event(BlobProgress, d, have.Add(n))
	})
	if errors.Is(err, errdef.ErrAlreadyExists) {
		t.st.skip(d)
		return err
	}
	if err != nil {
		return fmt.Errorf("blob %s (%d bytes, %s): %w", d.Digest, d.Size, d.MediaType, err)
	}
	t.st.done(d)
	return nil
}

// upload pushes a blob: in chunks when it is larger than Options.ChunkSize,
// else in one request, and in chunks after all if the registry refuses
// that as too large.
func (t *countingTarget) upload(ctx context.Context, d ocispec.Descriptor, r io.Reader) error {
	chunked := func(size int64) func(io.Reader) error {
		return func(cr io.Reader) error { return t.up.upload(ctx, d, cr.(*countingReader), size) }
	}
	if t.up.chunk > 0 && d.Size > t.up.chunk {
		err := t.push(d, r, chunked(t.up.chunk))
		t.settle(d, err)
		return err
	}
	err := t.push(d, r, func(r io.Reader) error { return t.Target.Push(ctx, d, r) })
	if !errTooLarge(err) {
		return err
	}
	// Refused whole: once more, in chunks. The first try consumed r.
	size := int64(autoChunk)
	if t.up.chunk > 0 {
		size = t.up.chunk
	}
	size = min(size, max(d.Size/2, minChunk))
	rc, ferr := t.up.src.Fetch(ctx, d)
	if ferr != nil {
		return err
	}
	defer rc.Close()
	cerr := t.push(d, rc, chunked(size))
	t.settle(d, cerr)
	if cerr != nil {
		return fmt.Errorf("%w (the registry refused it in one request too: %v)", cerr, err)
	}
	return nil
}

// settle tells a destination shared by PullTags or PushTags the outcome of
// a blob transfer that went around its Push (a resumable download or a
// chunked upload), so that the copies of other tags waiting for that blob
// go on.
func (t *countingTarget) settle(d ocispec.Descriptor, err error) {
	if s, ok := t.Target.(interface {
		settle(ocispec.Descriptor, bool)
	}); ok {
		s.settle(d, err == nil || errors.Is(err, errdef.ErrAlreadyExists))
	}
}

func (t *countingTarget) PushReference(ctx context.Context, d ocispec.Descriptor, r io.Reader, ref string) error {
	if rp, ok := t.Target.(registry.ReferencePusher); ok {
		return t.push(d, r, func(r io.Reader) error { return rp.PushReference(ctx, d, r, ref) })
	}
	if err := t.Push(ctx, d, r); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return err
	}
	return t.Target.Tag(ctx, d, ref)
}

func (t *countingTarget) push(d ocispec.Descriptor, r io.Reader, fn func(io.Reader) error) error {
	t.st.event(BlobStarted, d, 0)
	cr := &countingReader{r: r, d: d, st: t.st}
	err := fn(cr)
	if errors.Is(err, errdef.ErrAlreadyExists) {
		t.st.skip(d)
		return err
	}
	if err != nil {
		return fmt.Errorf("blob %s (%d bytes, %s): %w", d.Digest, d.Size, d.MediaType, err)
	}
	t.st.done(d)
	return nil
}

type countingReader struct {
	r  io.Reader
	d  ocispec.Descriptor
	st *stats
	n  int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		c.st.bytes.Add(int64(n))
		if c.n == c.d.Size && !isManifest(c.d) {
			c.st.mu.Lock()
			c.st.sent[c.d.Digest] = true
			c.st.mu.Unlock()
		}
		c.st.event(BlobProgress, c.d, c.n)
	}
	return n, err
}

// isManifest reports whether d is a manifest or an index (graph.IsManifest).
func isManifest(d ocispec.Descriptor) bool { return graph.IsManifest(d.MediaType) }

// graphWalker walks the graphs of a copy: the root's, and the referrers'.
type graphWalker struct {
	f    content.Fetcher
	fn   func(ocispec.Descriptor)
	seen map[digest.Digest]bool
	// manifests are the manifests and image indexes met, in walk order.
	manifests []ocispec.Descriptor
}

func newGraphWalker(f content.Fetcher, fn func(ocispec.Descriptor)) *graphWalker {
	return &graphWalker{f: f, fn: fn, seen: map[digest.Digest]bool{}}
}

// walk calls w.fn for d and every descriptor below it not met before,
// refusing descriptors no blob can have (see checkDescriptor); parent is
// the manifest that lists d ("" for a root).
func (w *graphWalker) walk(ctx context.Context, d ocispec.Descriptor, parent digest.Digest, depth int) error {
	if parent != "" {
		if err := checkDescriptor(d, "manifest "+parent.String()); err != nil {
			return err
		}
	}
	if w.seen[d.Digest] {
		return nil
	}
	w.seen[d.Digest] = true
	w.fn(d)
	if !isManifest(d) {
		return nil
	}
	w.manifests = append(w.manifests, d)
	if depth > graph.MaxDepth {
		return fmt.Errorf("manifest %s: %w: nested more than %d levels deep; refusing it", d.Digest, graph.ErrTooDeep, graph.MaxDepth)
	}
	if d.Size > graph.MaxManifestSize {
		return fmt.Errorf("manifest %s: %d bytes is more than the %d allowed", d.Digest, d.Size, graph.MaxManifestSize)
	}
	// Successors, subjects included: a referrer is copied with its
	// subject (oras.CopyGraph follows it), so it is planned and sized too.
	succ, err := graph.Successors(ctx, w.f, d)
	if err != nil {
		return fmt.Errorf("read manifest %s: %w", d.Digest, err)
	}
	for _, s := range succ {
		if err := w.walk(ctx, s, d.Digest, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// findReferrers lists the referrers of every manifest w met (the root, the
// child manifests of an index, and their subjects), and the referrers of
// those (a signature of an SBOM), walking the graph of each with w. It
// uses oras-go's Predecessors: the referrers API or its tag-schema fallback
// on a registry, index.json in a layout. At most MaxReferrers are listed in
// all; a registry's listing of one manifest is bounded to MaxReferrerPages
// pages (see NewRepository), and each page to oras-go's 4 MiB.
func findReferrers(ctx context.Context, src oras.ReadOnlyGraphTarget, w *graphWalker) ([]ocispec.Descriptor, error) {
	var out []ocispec.Descriptor
	listed := map[digest.Digest]bool{}
	for i := 0; i < len(w.manifests); i++ { // w.manifests grows as referrers are walked
		m := w.manifests[i]
		if listed[m.Digest] {
			continue
		}
		listed[m.Digest] = true
		preds, err := listReferrers(ctx, src, m, MaxReferrers-len(out))
		if err != nil {
			return nil, err
		}
		for _, p := range preds {
			if w.seen[p.Digest] {
				continue
			}
			if len(out) >= MaxReferrers {
				return nil, tooMany("%s lists more than %d referrers for the artifact and its manifests; refusing to list more: copy it without --referrers", sourceName(src), MaxReferrers)
			}
			if err := w.walk(ctx, p, "", 0); err != nil {
				return nil, fmt.Errorf("referrer %s of %s: %w", p.Digest, m.Digest, err)
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// listReferrers returns the referrers of m in src, failing with
// ErrTooManyPages when a registry lists more than budget (or more pages
// than MaxReferrerPages).
func listReferrers(ctx context.Context, src oras.ReadOnlyGraphTarget, m ocispec.Descriptor, budget int) ([]ocispec.Descriptor, error) {
	repo, ok := src.(*remote.Repository)
	if !ok {
		preds, err := src.Predecessors(ctx, m)
		if err != nil {
			return nil, fmt.Errorf("list the referrers of %s: %w", m.Digest, err)
		}
		return preds, nil
	}
	// Not Predecessors: it collects every page before it returns.
	var out []ocispec.Descriptor
	err := repo.Referrers(ctx, m, "", func(page []ocispec.Descriptor) error {
		if len(page) > budget-len(out) {
			return tooMany("registry %s lists more than %d referrers for %s; refusing to list more: pull it without --referrers", repo.Reference.Registry, MaxReferrers, m.Digest)
		}
		out = append(out, page...)
		return nil
	})
	switch {
	case errors.Is(err, errdef.ErrTooManyPages):
		return nil, tooMany("registry %s keeps returning more referrer pages for %s after %d pages; refusing to list more: pull it without --referrers",
			repo.Reference.Registry, m.Digest, MaxReferrerPages)
	case errors.Is(err, ErrTooManyPages):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("list the referrers of %s: %w", m.Digest, err)
	}
	return out, nil
}

// sourceName names a copy's source for errors.
func sourceName(src oras.ReadOnlyGraphTarget) string {
	switch s := src.(type) {
	case *remote.Repository:
		return "registry " + s.Reference.Registry
	case *layout.Layout:
		return "layout " + s.Path()
	case fmt.Stringer: // such as a source.Source: "layout PATH", "archive PATH"
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
