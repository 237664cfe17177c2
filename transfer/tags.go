package transfer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/registry"

	"github.com/ocipack/ocipack/layout"
)

// tagListPageSize is the page size asked of a registry that lists tags;
// 0 leaves it to the registry. Tests set it to make listings paginate.
var tagListPageSize = 0

// PushTags pushes the tags of l (a layout, or an archive read in place) to
// the registry repository dst, each under its own name, through one
// repository client: one connection pool, one token cache. Up to
// opts.Concurrency.Tags tags are copied at once (each copying up to
// opts.Concurrency.Blobs blobs at once), and a blob that several tags share is
// sent once; the other tags count it as skipped.
//
// each, when not nil, is called with each tag's result in the order of
// tags, one call at a time. The first failure stops the rest and is
// returned, naming its tag; the tags pushed before it stay pushed.
func PushTags(ctx context.Context, l oras.ReadOnlyTarget, dst registry.Reference, tags []string, opts Options, each func(tag string, res *Result)) error {
	if dst.Reference != "" {
		return fmt.Errorf("%w: %s: pushing tags needs a repository without a tag or digest", ErrInvalidReference, dst)
	}
	if len(tags) == 0 {
		return errors.New("no tags to push")
	}
	if err := requireSigned(ctx, l, tags, opts); err != nil {
		return err
	}
	repo, err := NewRepository(dst, opts.Connection)
	if err != nil {
		return err
	}
	defer closeIdleConnections(repo.Client)
	src := asGraph(l)
	fl := newBlobFlights()
	return forEachTag(ctx, tags, opts.Concurrency.tags(), each, func(ctx context.Context, tag string) (*Result, error) {
		res, err := pushRepo(ctx, src, tag, repo, tag, opts, fl)
		if err != nil {
			err = fmt.Errorf("tag %s: %w", tag, err)
		}
		return res, err
	})
}

// PullTags pulls tags of the registry repository src into the layout l,
// each entry named by its full name (HOST/REPO:TAG, normalised as
// layout.FullName normalises it: what Pull is given by `ocipack pull
// REGISTRY/REPO:TAG LAYOUT`), so that entries of several repositories stay
// apart in one layout and a plain tag still finds its entry (see
// layout.Layout.Resolve). It pulls through one repository client: one
// connection pool, one token cache. When tags is nil, every tag the registry lists
// for the repository is pulled. Other tags of l are left alone. Up to
// opts.Concurrency.Tags tags are copied at once (each copying up to
// opts.Concurrency.Blobs blobs at once), and a blob that several tags share is
// fetched once; the other tags count it as skipped.
//
// each, when not nil, is called with each tag (the registry's tag, not
// the entry's full name) and its result in the order of tags (the
// registry's order when listed), one call at a time. The first failure
// stops the rest and is returned, naming its tag; the tags pulled before
// it stay in l.
func PullTags(ctx context.Context, src registry.Reference, l *layout.Layout, tags []string, opts Options, each func(tag string, res *Result)) error {
	if src.Reference != "" {
		return fmt.Errorf("%w: %s: pulling tags needs a repository without a tag or digest", ErrInvalidReference, src)
	}
	if tags != nil && len(tags) == 0 {
		return errors.New("no tags to pull")
	}
	repo, err := NewRepository(src, opts.Connection)
	if err != nil {
		return err
	}
	defer closeIdleConnections(repo.Client)
	if tags == nil {
		if tags, err = listTags(ctx, repo, "pull"); err != nil {
			return err
		}
	}
	names := make(map[string]string, len(tags)) // tag -> entry name
	for _, t := range tags {
		if !layout.ValidTag(t) {
			return fmt.Errorf("%s lists tag %q, which is not a valid tag", src, t)
		}
		ref := src
		ref.Reference = t
		name, err := layout.FullName(ref.String())
		if err != nil {
			return fmt.Errorf("tag %s: %w", t, err)
		}
		names[t] = name
	}
	// Blobs l has are skipped: hold GC off from before any copy looks at
	// them until the caller closes l.
	if err := l.HoldForWriting(ctx); err != nil {
		return err
	}
	fl := newBlobFlights()
	return forEachTag(ctx, tags, opts.Concurrency.tags(), each, func(ctx context.Context, tag string) (*Result, error) {
		return pullRepo(ctx, repo, tag, l, names[tag], opts, fl)
	})
}

// forEachTag runs fn for every tag, up to concurrency (0 means 4) at once,
// and calls each (when not nil) with the results in the order of tags. The
// first error cancels the copies still running and is returned; the
// errors they end with then are not.
func forEachTag(ctx context.Context, tags []string, concurrency int, each func(string, *Result), fn func(context.Context, string) (*Result, error)) error {
	if concurrency <= 0 {
		concurrency = 4
	}
	concurrency = min(concurrency, len(tags))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu       sync.Mutex
		firstErr error
		results  = make([]*Result, len(tags))
		next     int // the first tag whose result is not yet reported
	)
	finish := func(i int, res *Result, err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr != nil {
			return
		}
		if err != nil {
			firstErr = err
			cancel()
			return
		}
		results[i] = res
		for ; next < len(tags) && results[next] != nil; next++ {
			if each != nil {
				each(tags[next], results[next])
			}
		}
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				res, err := fn(ctx, tags[i])
				if err == nil && res == nil {
					res = &Result{}
				}
				finish(i, res, err)
			}
		}()
	}
feed:
	for i := range tags {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// blobFlights lets the concurrent copies of several tags into one
// destination registry transfer each blob once. The first copy to ask
// whether the destination has a blob claims it; another copy that asks
// meanwhile waits until the claim is settled: the blob arrived (it is
// there, and counts as skipped), or the claimant failed or finished
// without it (the waiter then looks again, and may claim it itself).
// Manifests are not shared: a copy pushes its own, and tagging relies on
// it.
//
// The copies may go to several repositories of the registry (PushMirror):
// a blob stored in one repository counts as there for the copies into
// that one. The first copy into another repository that needs it claims
// it for that repository and is told (tagClaims.elsewhere) to mount it
// from the first one; the other copies into that repository wait for the
// mount. So the bytes of a blob travel once, and each repository is
// mounted a blob once.
//
// A copy takes part through its tagClaims: the destination's Exists asks
// it (see destination), and the copier's PostCopy, OnCopySkipped and
// PreCopy transfers settle what it claimed.
type blobFlights struct {
	mu sync.Mutex
	// stored maps each blob stored to the repositories that have it, the
	// first one first (the one to mount it from).
	stored  map[digest.Digest][]string
	flights map[flightKey]*flight
}

// flightKey names a claim: on storing a blob in the registry at all
// (mount false, repo ""), or on mounting a stored blob into repo.
type flightKey struct {
	d     digest.Digest
	repo  string
	mount bool
}

type flight struct {
	owner *tagClaims
	done  chan struct{}
}

func newBlobFlights() *blobFlights {
	return &blobFlights{stored: map[digest.Digest][]string{}, flights: map[flightKey]*flight{}}
}

// claim returns the claims of one tag's copy into the repository repo;
// release them when the copy is over. A nil f returns nil, whose methods
// pass through.
func (f *blobFlights) claim(repo string) *tagClaims {
	if f == nil {
		return nil
	}
	return &tagClaims{f: f, repo: repo}
}

// tagClaims are one copy's claims on the blobs of a blobFlights.
type tagClaims struct {
	f    *blobFlights
	repo string // the destination repository of the copy
}

// elsewhere returns the repository of the registry that another copy
// stored d in, when the copy's own repository does not have it; else "".
func (t *tagClaims) elsewhere(d ocispec.Descriptor) string {
	if t == nil {
		return ""
	}
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	repos := t.f.stored[d.Digest]
	if len(repos) == 0 || slices.Contains(repos, t.repo) {
		return ""
	}
	return repos[0]
}

// exists answers whether the destination has d, by asking has, unless
// another copy has claimed d (to store it, or to mount it into the copy's
// repository): then it waits for that claim to settle.
func (t *tagClaims) exists(ctx context.Context, d ocispec.Descriptor, has func(context.Context, ocispec.Descriptor) (bool, error)) (bool, error) {
	if t == nil || isManifest(d) {
		return has(ctx, d)
	}
	for {
		t.f.mu.Lock()
		key := flightKey{d: d.Digest}
		if repos, ok := t.f.stored[d.Digest]; ok {
			if slices.Contains(repos, t.repo) {
				t.f.mu.Unlock()
				return true, nil
			}
			key = flightKey{d: d.Digest, repo: t.repo, mount: true}
		}
		fl := t.f.flights[key]
		switch {
		case fl == nil:
			t.f.flights[key] = &flight{owner: t, done: make(chan struct{})}
			t.f.mu.Unlock()
			ok, err := has(ctx, d)
			if ok || err != nil {
				t.settle(d, ok && err == nil)
			}
			return ok, err
		case fl.owner == t:
			// This copy tries again after a failure, still holding its claim.
			t.f.mu.Unlock()
			return has(ctx, d)
		}
		t.f.mu.Unlock()
		select {
		case <-fl.done:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// settle ends t's claims on d, recording whether the copy's repository
// has it.
func (t *tagClaims) settle(d ocispec.Descriptor, stored bool) {
	if t == nil || isManifest(d) {
		return
	}
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	if repos := t.f.stored[d.Digest]; stored && !slices.Contains(repos, t.repo) {
		t.f.stored[d.Digest] = append(repos, t.repo)
	}
	for _, key := range []flightKey{{d: d.Digest}, {d: d.Digest, repo: t.repo, mount: true}} {
		if fl := t.f.flights[key]; fl != nil && fl.owner == t {
			delete(t.f.flights, key)
			close(fl.done)
		}
	}
}

// release ends every claim t still holds: its copy is over.
func (t *tagClaims) release() {
	if t == nil {
		return
	}
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	for key, fl := range t.f.flights {
		if fl.owner == t {
			delete(t.f.flights, key)
			close(fl.done)
		}
	}
}
