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
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/ocipack/ocipack/layout"
)

// Resumable pulls.
//
// oras.Copy fetches a blob from byte 0 and hands the stream to the
// destination, and oras-go has no ranged fetch. So for a pull into a
// layout, blobs of resumeMin bytes or more are not fetched by oras.Copy:
// the source hands it a lazyBlob instead (no request made), and the
// destination (countingTarget) downloads it itself into a layout.Partial,
// which keeps the bytes under a stable name in the layout's temporary area.
// A download cut short, or a process killed, leaves them there; the next
// try hashes them again and asks for the rest with an HTTP Range request,
// and the whole blob is verified before it is stored. A registry that
// ignores Range (answers 200) gets the blob downloaded from the start.

// resumeMin is the size from which a pulled blob is downloaded resumably;
// smaller ones are fetched in one piece, as oras.Copy does.
const resumeMin = 4 << 20

// minRange is the smallest range of a parallel download.
const minRange = 4 << 20

// errRangeIgnored means the registry answered a ranged request with
// something other than that range.
var errRangeIgnored = errors.New("registry ignored the Range request")

// resumableSource is a pull's source: blobs of resumeMin bytes or more are
// handed over as lazyBlobs, for countingTarget to download resumably.
type resumableSource struct {
	oras.ReadOnlyGraphTarget
}

func (s resumableSource) Fetch(ctx context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	if isManifest(d) || d.Size < resumeMin {
		return s.ReadOnlyGraphTarget.Fetch(ctx, d)
	}
	return &lazyBlob{open: func() (io.ReadCloser, error) { return s.ReadOnlyGraphTarget.Fetch(ctx, d) }}, nil
}

// lazyBlob is a blob not fetched yet. A destination that knows it
// downloads it itself; any other reads it as a plain stream from byte 0.
type lazyBlob struct {
	open func() (io.ReadCloser, error)
	rc   io.ReadCloser
}

func (b *lazyBlob) Read(p []byte) (int, error) {
	if b.rc == nil {
		rc, err := b.open()
		if err != nil {
			return 0, err
		}
		b.rc = rc
	}
	return b.rc.Read(p)
}

func (b *lazyBlob) Close() error {
	if b.rc == nil {
		return nil
	}
	return b.rc.Close()
}

// puller downloads blobs resumably into a layout.
type puller struct {
	raw    rawRepo
	l      *layout.Layout
	ranges int // ranges downloaded at once for one blob (Options.ParallelRanges)
}

// download stores the blob d in the layout, continuing a partial download
// if there is one. start is told how many bytes were on disk already;
// received is told about every byte received.
func (p *puller) download(ctx context.Context, d ocispec.Descriptor, start func(int64), received func(int64)) error {
	part, err := p.l.OpenPartial(ctx, d)
	switch {
	case errors.Is(err, layout.ErrAlreadyExists):
		return fmt.Errorf("%w: %w", errdef.ErrAlreadyExists, err)
	case errors.Is(err, layout.ErrPartialBusy):
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
	defer part.Close()
	ctx = auth.AppendRepositoryScope(ctx, p.raw.repo.Reference, auth.ActionPull)
	err = p.fetch(ctx, part, p.ranges, start, received)
	if errors.Is(err, errRangeIgnored) {
		// Start this blob over, in one piece.
		if err := part.Reset(); err != nil {
			return err
		}
		err = p.fetch(ctx, part, 1, start, received)
	}
	if err != nil {
		return err
	}
	if err := part.Join(ctx); err != nil {
		return err
	}
	return part.Commit(ctx)
}

// piece is a range of a blob to download into w.
type piece struct {
	from, to int64
	w        io.Writer
}

// fetch downloads what part lacks: the rest of its first range, and the
// rest of each segment, up to the next segment's start. With ranges > 1 and
// no segments yet, the rest is split into that many ranges first.
func (p *puller) fetch(ctx context.Context, part *layout.Partial, ranges int, start, received func(int64)) error {
	size := part.Descriptor().Size
	segs, err := part.Segments()
	if err != nil {
		return err
	}
	if len(segs) == 0 && ranges > 1 {
		rest := size - part.Offset()
		if n := min(int64(ranges), rest/minRange); n > 1 {
			step := rest / n
			for i := int64(1); i < n; i++ {
				f, err := part.OpenSegment(part.Offset() + i*step)
				if err != nil {
					return err
				}
				f.Close()
			}
			if segs, err = part.Segments(); err != nil {
				return err
			}
		}
	}
	have := part.Offset()
	first := size
	if len(segs) > 0 {
		first = segs[0].Start
	}
	pieces := []piece{{from: part.Offset(), to: first, w: part}}
	for i, s := range segs {
		end := size
		if i+1 < len(segs) {
			end = segs[i+1].Start
		}
		if s.Start+s.Len > end { // longer than its range: never written so
			if err := part.TruncateSegment(s.Start, end-s.Start); err != nil {
				return err
			}
			s.Len = end - s.Start
		}
		f, err := part.OpenSegment(s.Start)
		if err != nil {
			return err
		}
		defer f.Close()
		have += s.Len
		pieces = append(pieces, piece{from: s.Start + s.Len, to: end, w: f})
	}
	start(have)
	if len(pieces) == 1 {
		return p.fetchRange(ctx, part.Descriptor(), pieces[0], received)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for _, pc := range pieces {
		wg.Go(func() {
			if err := p.fetchRange(ctx, part.Descriptor(), pc, received); err != nil {
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

// fetchRange downloads bytes pc.from to pc.to of the blob d into pc.w.
func (p *puller) fetchRange(ctx context.Context, d ocispec.Descriptor, pc piece, received func(int64)) error {
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
	var got int64
	if part, ok := pc.w.(*layout.Partial); ok {
		got, err = part.ReadFrom(body) // hashes on another core while it writes
	} else {
		got, err = io.CopyBuffer(writerOnly{pc.w}, body, make([]byte, 256<<10))
	}
	if err == nil && got < n {
		err = fmt.Errorf("blob %s: the registry sent %d of bytes %d-%d: %w", d.Digest, got, pc.from, pc.to-1, io.ErrUnexpectedEOF)
	}
	return err
}

// writerOnly hides an *os.File's ReadFrom, so that io.CopyBuffer uses the
// buffer given and reportingReader sees every read.
type writerOnly struct{ io.Writer }

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
