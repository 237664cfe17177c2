package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
)

// CopyRegistry copies the artifact src names (its tag or digest) from its
// registry repository to the repository dst, in the same registry or
// another. Each blob streams from the one registry to the other without
// touching disk, and digests stay as they are. dst.Reference is the tag to
// give the artifact there: "" gives it src's tag or, when src names a
// digest, copies it by digest only. A dst that names a digest is refused
// (ErrInvalidReference).
//
// Blobs dst has already are skipped. Between two repositories of one
// registry, blobs are mounted from the source repository (the registry
// links them, nothing is sent) rather than copied; Result.Mounted counts
// them. A registry that cannot mount a blob is sent it in the same
// request. opts.Referrers carries along the referrers of every manifest of
// the graph, as Push and Pull do. Transient failures are retried as
// opts.Retry says, sending only what is still missing.
func CopyRegistry(ctx context.Context, src, dst registry.Reference, opts Options) (*Result, error) {
	if src.Reference == "" {
		return nil, fmt.Errorf("%w: %s names no tag or digest", ErrInvalidReference, src)
	}
	if _, err := dst.Digest(); err == nil {
		return nil, fmt.Errorf("%w: %s: the destination names a digest; give a tag or none", ErrInvalidReference, dst)
	}
	p, err := newRegistryPair(src, dst, opts.Connection)
	if err != nil {
		return nil, err
	}
	defer p.close()
	return p.copy(ctx, src.Reference, dst.Reference, opts, nil)
}

// CopyRegistryTags copies tags of the registry repository src to the
// repository dst (both named without a tag or digest), each under its own
// name, as CopyRegistry copies one: through one client per registry (one
// connection pool, one token cache), up to opts.Concurrency.Tags tags at
// once, and a blob that several tags share is sent (or mounted) once; the
// other tags count it as skipped. When tags is nil, every tag the registry
// lists for src is copied, except, with opts.Referrers, the tags of the
// referrers tag schema (sha256-HEX), which the copies of the referrers
// keep up to date at dst themselves.
//
// each, when not nil, is called with each tag's result in the order of
// tags (the registry's order when listed), one call at a time. The first
// failure stops the rest and is returned, naming its tag; the tags copied
// before it stay copied.
func CopyRegistryTags(ctx context.Context, src, dst registry.Reference, tags []string, opts Options, each func(tag string, res *Result)) error {
	if src.Reference != "" || dst.Reference != "" {
		return fmt.Errorf("%w: %s -> %s: copying tags needs two repositories without a tag or digest", ErrInvalidReference, src, dst)
	}
	if tags != nil && len(tags) == 0 {
		return errors.New("no tags to copy")
	}
	p, err := newRegistryPair(src, dst, opts.Connection)
	if err != nil {
		return err
	}
	defer p.close()
	if tags == nil {
		listed, err := listTags(ctx, p.src, "copy")
		if err != nil {
			return err
		}
		for _, t := range listed {
			if !opts.Referrers || !referrersTag.MatchString(t) {
				tags = append(tags, t)
			}
		}
		if len(tags) == 0 {
			return fmt.Errorf("%s lists only tags of the referrers tag schema: nothing to copy", src)
		}
	}
	fl := newBlobFlights()
	return forEachTag(ctx, tags, opts.Concurrency.tags(), each, func(ctx context.Context, tag string) (*Result, error) {
		res, err := p.copy(ctx, tag, tag, opts, fl)
		if err != nil {
			err = fmt.Errorf("tag %s: %w", tag, err)
		}
		return res, err
	})
}

// referrersTag matches the tags of the referrers tag schema, under which a
// registry without the referrers API lists a manifest's referrers.
var referrersTag = regexp.MustCompile(`^sha256-[0-9a-f]{64}$`)

// registryPair is the source and destination repositories of a copy
// between registries: one client per registry, shared by both when they
// are repositories of the same one.
type registryPair struct {
	src, dst *remote.Repository
	// mountFrom is the source repository to mount blobs from: set when
	// both are in the same registry, and differ.
	mountFrom string
}

func newRegistryPair(src, dst registry.Reference, opts ConnectionOptions) (*registryPair, error) {
	s, err := NewRepository(src, opts)
	if err != nil {
		return nil, err
	}
	d, err := NewRepository(dst, opts)
	if err != nil {
		closeIdleConnections(s.Client)
		return nil, err
	}
	p := &registryPair{src: s, dst: d}
	if src.Registry == dst.Registry {
		d.Client = s.Client // one connection pool and token cache
		if src.Repository != dst.Repository {
			p.mountFrom = src.Repository
		}
	}
	return p, nil
}

// close closes the idle connections of both clients.
func (p *registryPair) close() {
	closeIdleConnections(p.src.Client)
	if p.dst.Client != p.src.Client {
		closeIdleConnections(p.dst.Client)
	}
}

// copy copies srcRef of the source to the destination, tagged dstTag (see
// copier.run for ""), sharing blobs with the other copies of fl (when not
// nil).
func (p *registryPair) copy(ctx context.Context, srcRef, dstTag string, opts Options, fl *blobFlights) (*Result, error) {
	c := newCopier(p.src, "registry "+p.src.Reference.Registry, p.dst, opts)
	c.refPusher = p.dst
	c.claims = fl.claim(p.dst.Reference.Repository)
	defer c.claims.release()
	var state sessionStore
	if opts.Resume.StateDir != "" {
		state = dirState(opts.Resume.StateDir)
	}
	c.up = &pusher{raw: rawRepo{p.dst}, chunk: opts.Resume.ChunkSize, state: state}
	if p.mountFrom != "" {
		c.mount = &mounter{from: p.mountFrom, to: p.dst, done: map[digest.Digest]bool{}}
	}
	origin := p.src.Reference
	origin.Reference = srcRef
	c.origin = origin.String() // what a platform subset records as its source
	res, err := c.run(ctx, srcRef, dstTag)
	if c.mount != nil {
		res.Mounted = c.mount.count()
	}
	if err != nil {
		from := p.src.Reference
		from.Reference = srcRef
		to := p.dst.Reference
		to.Reference = dstTag
		// Name the registry of the side that failed in the advice.
		at := from
		var ce *oras.CopyError
		if errors.As(err, &ce) && ce.Origin == oras.CopyErrorOriginDestination {
			at = to
		}
		name := to.Registry + "/" + to.Repository
		return res, fmt.Errorf("copy %s to %s: %w", from, name, explainRef(err, at))
	}
	return res, nil
}

// mounter mounts blobs into a repository from another repository of the
// same registry (POST /v2/TO/blobs/uploads/?mount=DIGEST&from=FROM): the
// registry links the blob it has, and no byte of it travels.
type mounter struct {
	from string // the repository to mount from; "": see copier.mountSource
	to   *remote.Repository

	mu   sync.Mutex
	done map[digest.Digest]bool // the blobs mounted
}

// mountSource returns the repository of the destination registry to
// mount the blob d from, or "" when it is to be sent.
func (c *copier) mountSource(d ocispec.Descriptor) string {
	switch {
	case c.mount == nil:
		return ""
	case c.mount.from != "":
		return c.mount.from
	}
	return c.claims.elsewhere(d)
}

// mountBlob mounts the blob d from the repository from, or, when the
// registry does not mount it (it answers 202 and opens an upload
// instead), sends it in that upload, read from the source through the
// copier's counting reader. It returns oras.SkipNode when the blob is at
// the destination, or the copy error.
func (c *copier) mountBlob(ctx context.Context, d ocispec.Descriptor, from string) error {
	sent := false
	err := c.mount.to.Mount(ctx, d, from, func() (io.ReadCloser, error) {
		sent = true
		return c.fetch.open(ctx, d)
	})
	if err == nil && !sent {
		c.mount.mu.Lock()
		c.mount.done[d.Digest] = true
		c.mount.mu.Unlock()
	}
	return c.settle(d, err)
}

// count is the number of blobs mounted.
func (m *mounter) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.done)
}
