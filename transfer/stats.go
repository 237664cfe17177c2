package transfer

import (
	"context"
	"io"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
)

// stats counts what a copy did across its attempts, and reports it to
// Options.OnEvent.
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

func newStats(onEvent func(Event)) *stats {
	return &stats{
		onEvent: onEvent,
		copied:  map[digest.Digest]bool{},
		skipped: map[digest.Digest]bool{},
		sent:    map[digest.Digest]bool{},
		nodes:   map[digest.Digest]ocispec.Descriptor{},
	}
}

// node records a blob of the graph being copied, and reports it planned.
func (s *stats) node(d ocispec.Descriptor) {
	s.mu.Lock()
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

// skip records that the destination had the blob d.
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

// done records that d arrived.
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

// sentAll records that every byte of d was read for the destination.
func (s *stats) sentAll(d ocispec.Descriptor) {
	s.mu.Lock()
	s.sent[d.Digest] = true
	s.mu.Unlock()
}

// reportUnseenSkips reports as skipped the blobs below a sub-graph that
// oras.CopyGraph skipped whole: it reports only the top of one.
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

// countingSource is a copy's source as oras.CopyGraph reads it: the blobs
// it fetches (not the manifests, which oras-go caches and the walk reads
// too; PostCopy counts those) come through a countingReader, which counts
// the bytes the destination takes and reports BlobProgress. It is the one
// place bytes are counted, whoever pushes: oras-go or the copier's PreCopy.
type countingSource struct {
	oras.ReadOnlyGraphTarget
	st *stats
}

// Fetch opens d, counting the bytes read from it unless it is a manifest.
func (s countingSource) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	if isManifest(d) {
		return s.ReadOnlyGraphTarget.Fetch(ctx, d)
	}
	return s.open(ctx, d)
}

// open opens the blob d through a countingReader.
func (s countingSource) open(ctx context.Context, d ocispec.Descriptor) (*countingReader, error) {
	rc, err := s.ReadOnlyGraphTarget.Fetch(ctx, d)
	if err != nil {
		return nil, err
	}
	return &countingReader{r: rc, d: d, st: s.st}, nil
}

// countingReader counts what is read of the blob d, and reports it.
type countingReader struct {
	r  io.ReadCloser
	d  ocispec.Descriptor
	st *stats
	n  int64 // the blob offset of the next byte read
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		c.st.bytes.Add(int64(n))
		if c.n == c.d.Size {
			c.st.sentAll(c.d)
		}
		c.st.event(BlobProgress, c.d, c.n)
	}
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }
