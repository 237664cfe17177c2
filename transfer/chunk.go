package transfer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// Chunked, resumable pushes.
//
// oras-go pushes a blob in one PUT, which some proxies and CDNs refuse past
// a size (413), and which starts over from byte 0 after a cut. The pusher
// here speaks the distribution-spec's chunked upload instead: POST starts a
// session, each PATCH sends the next chunk (Content-Range), PUT ?digest=
// completes it. After each chunk the session's URL is saved (in the source
// layout's temporary area, or ResumeOptions.StateDir), so a push tried again, in
// this process or the next, asks the registry how much it has (GET on the
// session) and sends only the rest. The registry verifies the digest at
// the PUT.

// autoChunk is the chunk size used when a registry refuses a blob sent in
// one request as too large and no --chunk-size was given.
const autoChunk = 64 << 20

// minChunk is the smallest chunk a 413 halves the chunk size down to.
const minChunk = 1 << 20

// pusher uploads blobs in chunks to one repository.
type pusher struct {
	raw rawRepo
	// chunk is ResumeOptions.ChunkSize: 0 pushes whole blobs, in chunks only
	// after a 413.
	chunk int64
	// state keeps session records (a layout's State, or a directory's);
	// nil keeps them in memory only.
	state sessionStore

	mu       sync.Mutex
	sessions map[digest.Digest]string // session URLs, for retries in this process
}

// session is what is saved of an upload session.
type session struct {
	Registry   string        `json:"registry"`
	Repository string        `json:"repository"`
	Digest     digest.Digest `json:"digest"`
	Location   string        `json:"location"`
	// Offset is how many bytes the registry had taken when it was saved;
	// a new run asks the registry again (it may have kept more or less).
	Offset int64 `json:"offset"`
}

// sessionStore keeps session records by name: *layout.State, or
// dirState for Options.StateDir.
type sessionStore interface {
	Load(name string) ([]byte, error)
	Save(name string, b []byte) error
	Delete(name string) error
}

// dirState keeps session records as files of a directory outside any
// layout (Options.StateDir).
type dirState string

func (d dirState) Load(name string) ([]byte, error) {
	p := filepath.Join(string(d), name)
	// A link or fifo planted there is neither followed nor waited on.
	if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() || fi.Size() > 64<<10 {
		return nil, fs.ErrNotExist
	}
	return os.ReadFile(p)
}

func (d dirState) Save(name string, b []byte) error {
	if err := os.MkdirAll(string(d), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(string(d), ".upload-*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil && cerr == nil {
		if err = os.Rename(f.Name(), filepath.Join(string(d), name)); err == nil {
			return nil
		}
	}
	os.Remove(f.Name())
	return err
}

func (d dirState) Delete(name string) error { return os.Remove(filepath.Join(string(d), name)) }

func (p *pusher) stateName(d digest.Digest) string {
	sum := sha256.Sum256([]byte(p.raw.repo.Reference.Registry + "/" + p.raw.repo.Reference.Repository + "@" + d.String()))
	return "upload-" + hex.EncodeToString(sum[:16]) + ".json"
}

// load returns the saved session URL of d's upload, or "".
func (p *pusher) load(d digest.Digest) string {
	p.mu.Lock()
	loc := p.sessions[d]
	p.mu.Unlock()
	if loc != "" || p.state == nil {
		return loc
	}
	b, err := p.state.Load(p.stateName(d))
	if err != nil || len(b) > 64<<10 {
		return ""
	}
	var s session
	if json.Unmarshal(b, &s) != nil || s.Digest != d || s.Registry != p.raw.repo.Reference.Registry || s.Repository != p.raw.repo.Reference.Repository {
		return ""
	}
	// Only a URL of the registry itself: the file could have been edited.
	u, err := url.Parse(s.Location)
	if err != nil || u.Host != p.raw.repo.Reference.Host() {
		return ""
	}
	return s.Location
}

// save records the session URL of d's upload. A layout that cannot be
// written to (read-only media) keeps it in memory only.
func (p *pusher) save(d digest.Digest, loc string, off int64) {
	p.mu.Lock()
	if p.sessions == nil {
		p.sessions = map[digest.Digest]string{}
	}
	p.sessions[d] = loc
	p.mu.Unlock()
	if p.state == nil {
		return
	}
	b, _ := json.Marshal(session{Registry: p.raw.repo.Reference.Registry, Repository: p.raw.repo.Reference.Repository, Digest: d, Location: loc, Offset: off})
	_ = p.state.Save(p.stateName(d), b)
}

// forget drops d's saved session.
func (p *pusher) forget(d digest.Digest) {
	p.mu.Lock()
	delete(p.sessions, d)
	p.mu.Unlock()
	if p.state != nil {
		_ = p.state.Delete(p.stateName(d))
	}
}

// upload pushes the blob d, read from cr, in chunks of chunk bytes,
// continuing a saved session when the registry still has it.
func (p *pusher) upload(ctx context.Context, d ocispec.Descriptor, cr *countingReader, chunk int64) error {
	ctx = auth.AppendRepositoryScope(ctx, p.raw.repo.Reference, auth.ActionPull, auth.ActionPush)
	var loc string
	var off int64
	if saved := p.load(d.Digest); saved != "" {
		l, o, err := p.status(ctx, saved)
		switch {
		case err == nil && o <= d.Size:
			loc, off = l, o
		case err != nil && transient(err):
			return err
		default:
			// The registry forgot the session (expired, or 404): start over.
			p.forget(d.Digest)
		}
	}
	restarts := 0
	for {
		if loc == "" {
			l, minLen, err := p.start(ctx)
			if err != nil {
				return err
			}
			loc, off = l, 0
			chunk = max(chunk, minLen)
			p.save(d.Digest, loc, 0)
		}
		if err := cr.skipTo(off); err != nil {
			return err
		}
		err := p.send(ctx, d, cr, &loc, &off, &chunk)
		if statusIs(err, http.StatusRequestedRangeNotSatisfiable) && restarts < 3 {
			// The registry and our offset disagree: a chunk cut earlier
			// reached it late or in part, after we asked how much it
			// had. Ask again and go on from its offset; start a new
			// session from byte 0 only when it cannot say.
			restarts++
			if l, o, serr := p.status(ctx, loc); serr == nil && o <= d.Size && (o >= cr.n || cr.canRewind()) {
				loc, off = l, o
				p.save(d.Digest, loc, off)
				continue
			}
			if cr.canRewind() {
				p.forget(d.Digest)
				loc = ""
				continue
			}
		}
		if err != nil {
			return err
		}
		break
	}
	err := p.complete(ctx, loc, d.Digest)
	if err == nil || !transient(err) {
		// A session the registry refused to complete (a digest that does
		// not match) cannot be continued: the next try starts over.
		p.forget(d.Digest)
	}
	return err
}

// send PATCHes the chunks from *off on, updating *loc and *off as the
// registry takes each one. A chunk refused as too large (413) is sent again
// in halves, down to minChunk, when the source can go back.
func (p *pusher) send(ctx context.Context, d ocispec.Descriptor, cr *countingReader, loc *string, off *int64, chunk *int64) error {
	for *off < d.Size {
		n := min(*chunk, d.Size-*off)
		next, err := p.patch(ctx, *loc, *off, n, cr)
		if errTooLarge(err) && *chunk/2 >= minChunk && cr.canRewind() {
			*chunk /= 2
			if err := cr.skipTo(*off); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		*loc, *off = next, *off+n
		p.save(d.Digest, *loc, *off)
	}
	return nil
}

// start opens an upload session and returns its URL and the smallest chunk
// the registry accepts (OCI-Chunk-Min-Length; 0 when it says nothing).
func (p *pusher) start(ctx context.Context) (string, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.raw.base()+"/blobs/uploads/", nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := p.raw.do(req)
	if err != nil {
		return "", 0, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return "", 0, errorFrom(resp)
	}
	resp.Body.Close()
	loc, err := location(resp)
	if err != nil {
		return "", 0, err
	}
	minLen, _ := strconv.ParseInt(resp.Header.Get("OCI-Chunk-Min-Length"), 10, 64)
	return loc, max(minLen, 0), nil
}

// status asks the registry how much of the session at loc it has, and for
// the URL to continue it at.
func (p *pusher) status(ctx context.Context, loc string) (string, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := p.raw.do(req)
	if err != nil {
		return "", 0, err
	}
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusAccepted {
		return "", 0, errorFrom(resp)
	}
	resp.Body.Close()
	off, err := uploadOffset(resp)
	if err != nil {
		return "", 0, err
	}
	next := loc
	if resp.Header.Get("Location") != "" {
		if next, err = location(resp); err != nil {
			return "", 0, err
		}
	}
	return next, off, nil
}

// patch sends n bytes of cr as the chunk at off and returns the URL for the
// next request.
func (p *pusher) patch(ctx context.Context, loc string, off, n int64, cr *countingReader) (string, error) {
	body := &heldBody{r: io.LimitReader(cr, n), closed: make(chan struct{})}
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, loc, body)
	if err != nil {
		return "", err
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", off, off+n-1))
	resp, err := p.raw.do(req)
	// An answer that comes before the whole body went out (a 416, a 413)
	// returns while the transport may still be reading the body from cr:
	// wait until it has let go of it (a RoundTripper always closes the
	// body), so that the caller may move cr to another offset.
	select {
	case <-body.closed:
	case <-ctx.Done():
	}
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusNoContent {
		return "", errorFrom(resp)
	}
	resp.Body.Close()
	return location(resp)
}

// heldBody is a request body that tells when the transport closed it.
type heldBody struct {
	r      io.Reader
	once   sync.Once
	closed chan struct{}
}

func (b *heldBody) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *heldBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

// complete closes the session at loc, naming the blob's digest, which the
// registry checks.
func (p *pusher) complete(ctx context.Context, loc string, d digest.Digest) error {
	u, err := url.Parse(loc)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("digest", d.String())
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := p.raw.do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return errorFrom(resp)
	}
	resp.Body.Close()
	return nil
}

// skipTo moves the reader to blob offset off without counting the bytes
// passed over as sent: by seeking when the source can, else by reading
// them (from local disk) and throwing them away.
func (c *countingReader) skipTo(off int64) error {
	if off == c.n {
		return nil
	}
	if s, ok := c.r.(io.Seeker); ok {
		if _, err := s.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("blob %s: seek to %d: %w", c.d.Digest, off, err)
		}
		c.n = off
		return nil
	}
	if off < c.n {
		return fmt.Errorf("blob %s: cannot go back from byte %d to %d in this source", c.d.Digest, c.n, off)
	}
	m, err := io.CopyN(io.Discard, c.r, off-c.n)
	c.n += m
	if err != nil {
		return fmt.Errorf("blob %s: skip to byte %d: %w", c.d.Digest, off, err)
	}
	return nil
}

// canRewind reports whether skipTo can go backwards.
func (c *countingReader) canRewind() bool {
	_, ok := c.r.(io.Seeker)
	return ok
}

// errTooLarge tells whether err is a registry's 413.
func errTooLarge(err error) bool { return statusIs(err, http.StatusRequestEntityTooLarge) }
