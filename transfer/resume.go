package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/ocipack/ocipack/layout"
)

// Resumable pulls.
//
// oras-go fetches a blob from byte 0 and has no ranged fetch, and
// oras.CopyGraph hands the destination a stream, with no seam for a write
// that continues one an earlier process began. So for a pull into a
// layout, blobs of resumeMin bytes or more are downloaded by the copier's
// PreCopy hook itself (which then returns oras.SkipNode, the blob being
// stored) into a layout.Writer: an ingest in containerd's style, opened by
// the blob's descriptor, written from the offset it reports, and committed
// only at the expected size and digest. A download cut short, or a process
// killed, leaves its bytes under the blob's name in the layout's temporary
// area; the next try hashes them again and asks for the rest with an HTTP
// Range request. A registry that ignores Range (answers 200) gets the blob
// downloaded from the start.

// resumeMin is the size from which a pulled blob is downloaded resumably;
// smaller ones are fetched in one piece by oras.CopyGraph.
const resumeMin = 4 << 20

// minRange is the smallest range of a parallel download.
const minRange = 4 << 20

// errRangeIgnored means the registry answered a ranged request with
// something other than that range.
var errRangeIgnored = errors.New("registry ignored the Range request")

// puller downloads blobs resumably into a layout.
type puller struct {
	raw    rawRepo
	l      *layout.Layout
	ranges int // ranges downloaded at once for one blob (ResumeOptions.ParallelRanges)
}

// download stores the blob d in the layout, continuing a partial download
// if there is one. start is told how many bytes were on disk already;
// received is told about every byte received.
func (p *puller) download(ctx context.Context, d ocispec.Descriptor, start func(int64), received func(int64)) error {
	w, err := p.l.OpenWriter(ctx, d)
	switch {
	case errors.Is(err, layout.ErrAlreadyExists):
		return fmt.Errorf("%w: %w", errdef.ErrAlreadyExists, err)
	case errors.Is(err, layout.ErrWriterBusy):
		// Another process is downloading it: fetch a copy of our own in
		// one piece (the layout stores one of the two).
		start(0)
		rc, err := p.raw.repo.Fetch(ctx, d)
		if err != nil {
			return err
		}
		defer rc.Close()
		return p.l.Push(ctx, d, &reportingReader{r: rc, fn: received})
	case err != nil:
		return err
	}
	defer w.Close()
	ctx = auth.AppendRepositoryScope(ctx, p.raw.repo.Reference, auth.ActionPull)
	err = p.fetch(ctx, w, p.ranges, start, received)
	if errors.Is(err, errRangeIgnored) {
		// Start this blob over, in one piece.
		if err := w.Reset(); err != nil {
			return err
		}
		err = p.fetch(ctx, w, 1, start, received)
	}
	if err != nil {
		return err
	}
	return w.Commit(ctx)
}

// fetch downloads what w lacks (its Sections), in up to ranges ranges at
// once.
func (p *puller) fetch(ctx context.Context, w *layout.Writer, ranges int, start, received func(int64)) error {
	d := w.Descriptor()
	secs, err := w.Sections(ranges, minRange)
	if err != nil {
		return err
	}
	have := d.Size
	for _, s := range secs {
		have -= s.End - s.Start
	}
	start(have)
	if len(secs) == 1 {
		return p.fetchRange(ctx, d, secs[0], received)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for _, s := range secs {
		wg.Go(func() {
			if err := p.fetchRange(ctx, d, s, received); err != nil {
				mu.Lock()
				if firstErr == nil || (errors.Is(firstErr, context.Canceled) && !errors.Is(err, context.Canceled)) {
					firstErr = err
				}
				mu.Unlock()
				cancel()
			}
		})
	}
	wg.Wait()
	return firstErr
}

// fetchRange downloads the section s of the blob d.
func (p *puller) fetchRange(ctx context.Context, d ocispec.Descriptor, s *layout.Section, received func(int64)) error {
	pc := struct{ from, to int64 }{s.Start, s.End}
	if pc.from >= pc.to {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.raw.blobURL(d.Digest), nil)
	if err != nil {
		return err
	}
	whole := pc.from == 0 && pc.to == d.Size
	if !whole {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", pc.from, pc.to-1))
	}
	resp, err := p.raw.do(req)
	if err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if cr := resp.Header.Get("Content-Range"); !strings.HasPrefix(cr, fmt.Sprintf("bytes %d-", pc.from)) {
			resp.Body.Close()
			return fmt.Errorf("blob %s: asked for bytes %d-%d, got %q: %w", d.Digest, pc.from, pc.to-1, cr, errRangeIgnored)
		}
	case http.StatusOK:
		if pc.from != 0 {
			resp.Body.Close()
			return fmt.Errorf("blob %s: %w", d.Digest, errRangeIgnored)
		}
	case http.StatusNotFound:
		resp.Body.Close()
		return fmt.Errorf("blob %s: %w in %s", d.Digest, errdef.ErrNotFound, p.raw.repo.Reference)
	default:
		return errorFrom(resp)
	}
	defer resp.Body.Close()
	n := pc.to - pc.from
	body := &reportingReader{r: io.LimitReader(resp.Body, n), fn: received}
	got, err := s.ReadFrom(body)
	if err == nil && got < n {
		err = fmt.Errorf("blob %s: the registry sent %d of bytes %d-%d: %w", d.Digest, got, pc.from, pc.to-1, io.ErrUnexpectedEOF)
	}
	return err
}

// reportingReader tells fn how many bytes each read returned.
type reportingReader struct {
	r  io.Reader
	fn func(int64)
}

func (r *reportingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.fn(int64(n))
	}
	return n, err
}
