// Package serve serves an OCI image layout, or an archive of one, as an OCI
// registry (the distribution spec v1.1), in place: blobs are read straight
// from the layout's files, and tags from its index.json, read again on the
// next request whenever another process changed it.
//
// Repositories: an entry named with a full name (HOST/REPO:TAG) is served as
// REPO:TAG; a request with containerd's ns=HOST query parameter prefers the
// entries of HOST where several registries have the same REPO:TAG. Entries
// named by a plain tag are served under Options.Repo. A manifest or blob is
// served by digest in a repository whose entries reach it.
//
// With Options.Writable, pushes and deletes go into the layout through
// package layout, under its cross-process lock: a manifest pushed to REPO
// with tag TAG becomes the entry REPO:TAG (see layout.IsRepoName), one pushed
// by digest an untagged entry that AnnotationRepository ties to REPO.
// Uploads in progress live in the layout's temporary area (layout.CreateTemp)
// until they are complete and verified. A blob that was uploaded but that no
// manifest references yet is visible in its repository until the server
// stops (the server remembers it in memory); `ocipack gc` removes it later.
//
// Deleting a blob: a blob that an entry of the repository reaches is refused
// (405 UNSUPPORTED: delete the manifest first); any other is forgotten by the
// repository (202) and its file stays until `ocipack gc` finds nothing keeps
// it, so that a delete never removes a blob another repository or a push in
// progress uses.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/signing"
	"github.com/ocipack/ocipack/source"
)

// DefaultMaxUpload is the default of Options.MaxUpload: 64 GiB.
const DefaultMaxUpload int64 = 64 << 30

// ErrReadOnly means that Options.Writable was asked for an archive.
var ErrReadOnly = errors.New("an archive is served read-only")

// Options configure a Server.
type Options struct {
	// Path is the layout directory or the archive (.tar, .tar.zst, split
	// volumes) to serve.
	Path string
	// Writable accepts pushes and deletes (a layout directory only; a new
	// or empty directory becomes an empty layout).
	Writable bool
	// Repo is the repository that entries named by a plain tag are served
	// under; "" means the base name of Path, made a valid repository name.
	Repo string
	// Htpasswd is an htpasswd file of bcrypt entries; when set, every
	// request needs one of its users' credentials (HTTP basic auth).
	Htpasswd string
	// Realm is the realm of WWW-Authenticate; "" means "ocipack".
	Realm string
	// MaxUpload bounds the size of one uploaded blob; 0 means
	// DefaultMaxUpload.
	MaxUpload int64
	// AccessLog, when set, gets one line a request: method, path, status,
	// bytes sent and duration.
	AccessLog io.Writer
	// Policy, when not nil, requires a valid signature (see
	// signing.Verify) of every tagged entry (signature tags such as
	// sha256-<hex>.sig aside) when the server starts: New fails with a
	// *signing.FailedError naming each entry without one, and nothing is
	// served. It is checked once, in New: manifests pushed to a Writable
	// server later, or tags another process adds to the layout while it
	// is served, are not checked.
	Policy *signing.Policy
}

// Server is an http.Handler serving a layout or an archive as a registry.
// It is safe for concurrent use. Close it when done.
type Server struct {
	opts   Options
	st     store
	closer io.Closer
	dir    bool // a layout directory (index.json read again when changed)
	users  map[string][]byte

	mu     sync.Mutex
	snap   *snapshot
	snapFI os.FileInfo
	pushed map[string]map[digest.Digest]ocispec.Descriptor // blobs uploaded, by repository

	uploads uploads
}

// New opens what opts.Path names and returns a Server for it.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.MaxUpload <= 0 {
		opts.MaxUpload = DefaultMaxUpload
	}
	if opts.Realm == "" {
		opts.Realm = "ocipack"
	}
	if opts.Repo == "" {
		opts.Repo = DefaultRepo(opts.Path)
	}
	if !validRepo(opts.Repo) {
		return nil, fmt.Errorf("repository %q: %w: not a valid repository name", opts.Repo, layout.ErrInvalidReference)
	}
	s := &Server{opts: opts, pushed: map[string]map[digest.Digest]ocispec.Descriptor{}}
	s.uploads.m = map[string]*upload{}
	if opts.Htpasswd != "" {
		u, err := readHtpasswd(opts.Htpasswd)
		if err != nil {
			return nil, err
		}
		s.users = u
	}
	if source.IsArchive(opts.Path) {
		if opts.Writable {
			return nil, fmt.Errorf("%s: %w", opts.Path, ErrReadOnly)
		}
		src, err := source.Open(ctx, opts.Path)
		if err != nil {
			return nil, err
		}
		s.st, s.closer = src, src
		if err := s.requireSigned(ctx, src); err != nil {
			return nil, err
		}
		return s, nil
	}
	open := layout.Open
	if opts.Writable {
		// A writable server may start on a new or empty directory, as a
		// registry starts on empty storage: pushes fill it.
		open = layout.OpenOrCreate
	}
	l, err := open(ctx, opts.Path)
	if err != nil {
		return nil, err
	}
	s.st, s.closer, s.dir = l, l, true
	if err := s.requireSigned(ctx, l); err != nil {
		return nil, err
	}
	return s, nil
}

// requireSigned checks opts.Policy on the named entries of t, and closes
// what New opened when they do not pass.
func (s *Server) requireSigned(ctx context.Context, t interface {
	signing.Target
	Index(context.Context) (*ocispec.Index, error)
}) error {
	if s.opts.Policy == nil {
		return nil
	}
	idx, err := t.Index(ctx)
	if err == nil {
		var entries []ocispec.Descriptor
		for _, d := range idx.Manifests {
			if n := layout.EntryName(d); n != "" && !signing.IsSignatureTag(n) {
				entries = append(entries, d)
			}
		}
		err = signing.RequireSigned(ctx, t, entries, s.opts.Policy)
	}
	if err != nil {
		s.closer.Close()
		return err
	}
	return nil
}

// DefaultRepo is the repository a layout at path serves its plain tags
// under: its base name, lower case, with what the spec does not allow in a
// repository name replaced ("my_Bundle.tar" gives "my_bundle.tar"); "oci"
// when nothing is left.
func DefaultRepo(path string) string {
	b := strings.ToLower(filepath.Base(filepath.Clean(path)))
	var sb strings.Builder
	for _, r := range b {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			sb.WriteRune(r)
		} else {
			sb.WriteByte('-')
		}
	}
	n := strings.Trim(sb.String(), "._-")
	if !validRepo(n) {
		return "oci"
	}
	return n
}

// Close closes the layout or archive and removes the uploads in progress.
func (s *Server) Close() error {
	s.uploads.closeAll()
	return s.closer.Close()
}

// snapshot returns the repositories of index.json as it is now.
func (s *Server) snapshot(ctx context.Context) (*snapshot, error) {
	var fi os.FileInfo
	if s.dir {
		var err error
		if fi, err = os.Stat(filepath.Join(s.opts.Path, ocispec.ImageIndexFile)); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	if s.snap != nil && (!s.dir || s.snapFI != nil && os.SameFile(fi, s.snapFI) && fi.ModTime().Equal(s.snapFI.ModTime()) && fi.Size() == s.snapFI.Size()) {
		sn := s.snap
		s.mu.Unlock()
		return sn, nil
	}
	s.mu.Unlock()
	idx, err := s.st.Index(ctx)
	if err != nil {
		return nil, err
	}
	sn := newSnapshot(idx, s.opts.Repo)
	s.mu.Lock()
	s.snap, s.snapFI = sn, fi
	s.mu.Unlock()
	return sn, nil
}

// invalidate makes the next request read index.json again.
func (s *Server) invalidate() {
	s.mu.Lock()
	s.snap = nil
	s.mu.Unlock()
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.opts.AccessLog != nil {
		lw := &logWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		defer func() {
			fmt.Fprintf(s.opts.AccessLog, "%s %s %s %d %d %s\n", r.RemoteAddr, r.Method, r.URL.RequestURI(), lw.status, lw.n, time.Since(start).Round(time.Microsecond))
		}()
		w = lw
	}
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if s.users != nil && !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", s.opts.Realm))
		writeError(w, r, errf(http.StatusUnauthorized, CodeUnauthorized, "authentication required"))
		return
	}
	if e := s.route(w, r); e != nil {
		writeError(w, r, e)
	}
}

// route dispatches r; an error is answered by ServeHTTP.
func (s *Server) route(w http.ResponseWriter, r *http.Request) *apiError {
	p := r.URL.Path
	if p == "/v2" || p == "/v2/" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return errf(http.StatusMethodNotAllowed, CodeUnsupported, "method not allowed")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		if r.Method == http.MethodGet {
			io.WriteString(w, "{}")
		}
		return nil
	}
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return errf(http.StatusNotFound, CodeUnsupported, "not a registry API path")
	}
	if rest == "_catalog" {
		if r.Method != http.MethodGet {
			return errf(http.StatusMethodNotAllowed, CodeUnsupported, "method not allowed")
		}
		return s.catalog(w, r)
	}
	var name, kind, arg string
	if n, ok := strings.CutSuffix(rest, "/tags/list"); ok {
		name, kind = n, "tags"
	} else if i := strings.LastIndex(rest, "/blobs/uploads"); i >= 0 && (len(rest) == i+14 || rest[i+14] == '/') {
		name, kind, arg = rest[:i], "uploads", strings.TrimPrefix(rest[i+14:], "/")
	} else {
		for _, k := range []string{"manifests", "blobs", "referrers"} {
			if i := strings.LastIndex(rest, "/"+k+"/"); i >= 0 {
				name, kind, arg = rest[:i], k, rest[i+len(k)+2:]
				break
			}
		}
	}
	if kind == "" {
		return errf(http.StatusNotFound, CodeUnsupported, "not a registry API path")
	}
	if !validRepo(name) {
		return errf(http.StatusBadRequest, CodeNameInvalid, "invalid repository name")
	}
	write := r.Method != http.MethodGet && r.Method != http.MethodHead
	if write && !s.opts.Writable {
		return errf(http.StatusMethodNotAllowed, CodeUnsupported, "the registry is read-only")
	}
	switch kind {
	case "tags":
		if write {
			return errf(http.StatusMethodNotAllowed, CodeUnsupported, "method not allowed")
		}
		return s.tagsList(w, r, name)
	case "referrers":
		if write {
			return errf(http.StatusMethodNotAllowed, CodeUnsupported, "method not allowed")
		}
		return s.referrers(w, r, name, arg)
	case "manifests":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			return s.getManifest(w, r, name, arg)
		case http.MethodPut:
			return s.putManifest(w, r, name, arg)
		case http.MethodDelete:
			return s.deleteManifest(w, r, name, arg)
		}
	case "blobs":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			return s.getBlob(w, r, name, arg)
		case http.MethodDelete:
			return s.deleteBlob(w, r, name, arg)
		}
	case "uploads":
		return s.upload(w, r, name, arg)
	}
	return errf(http.StatusMethodNotAllowed, CodeUnsupported, "method not allowed")
}

// logWriter counts what a response sends.
type logWriter struct {
	http.ResponseWriter
	status int
	n      int64
	wrote  bool
}

func (l *logWriter) WriteHeader(code int) {
	if !l.wrote {
		l.status, l.wrote = code, true
	}
	l.ResponseWriter.WriteHeader(code)
}

func (l *logWriter) Write(b []byte) (int, error) {
	l.wrote = true
	n, err := l.ResponseWriter.Write(b)
	l.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (l *logWriter) Unwrap() http.ResponseWriter { return l.ResponseWriter }

// Timeouts of the http.Server that NewHTTPServer returns. There is no read
// or write timeout on a whole request: a blob of many GiB takes as long as
// it takes; a slow client is bounded by ReadHeaderTimeout while it sends its
// header, by MaxUpload while it sends a body.
const (
	ReadHeaderTimeout = 30 * time.Second
	IdleTimeout       = 2 * time.Minute
)

// NewHTTPServer returns an http.Server for h with the timeouts against slow
// clients that `ocipack serve` uses (ReadHeaderTimeout, IdleTimeout).
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: ReadHeaderTimeout, IdleTimeout: IdleTimeout}
}
