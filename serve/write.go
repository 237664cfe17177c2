package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/graph"
	"github.com/ocipack/ocipack/layout"
)

var specsVersioned = specs.Versioned{SchemaVersion: 2}

// maxUploads bounds the uploads in progress at once; an upload left idle
// for uploadIdle is dropped (its temporary file removed) when a new one
// starts.
const (
	maxUploads = 1024
	uploadIdle = time.Hour
)

// upload is a blob upload in progress: its bytes in a temporary file of the
// layout.
type upload struct {
	mu   sync.Mutex
	repo string
	f    *os.File
	size int64
	last time.Time // last request, under uploads.mu
}

type uploads struct {
	mu sync.Mutex
	m  map[string]*upload
}

func (u *uploads) get(id string) *upload {
	u.mu.Lock()
	defer u.mu.Unlock()
	up := u.m[id]
	if up != nil {
		up.last = time.Now()
	}
	return up
}

// idle returns the uploads nothing touched for uploadIdle.
func (u *uploads) idle() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var ids []string
	for id, up := range u.m {
		if time.Since(up.last) > uploadIdle {
			ids = append(ids, id)
		}
	}
	return ids
}

func (u *uploads) remove(id string) {
	u.mu.Lock()
	up := u.m[id]
	delete(u.m, id)
	u.mu.Unlock()
	if up != nil {
		up.f.Close()
		os.Remove(up.f.Name())
	}
}

func (u *uploads) closeAll() {
	u.mu.Lock()
	ids := make([]string, 0, len(u.m))
	for id := range u.m {
		ids = append(ids, id)
	}
	u.mu.Unlock()
	for _, id := range ids {
		u.remove(id)
	}
}

// writer opens the layout for one write; the caller closes it, which lets
// go of the layout's lock so that gc is not held off between requests.
func (s *Server) writer(ctx context.Context) (*layout.Layout, *apiError) {
	l, err := layout.Open(ctx, s.opts.Path)
	if err != nil {
		return nil, internalError(err)
	}
	return l, nil
}

func (s *Server) remember(repo string, desc ocispec.Descriptor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pushed[repo] == nil {
		s.pushed[repo] = map[digest.Digest]ocispec.Descriptor{}
	}
	s.pushed[repo][desc.Digest] = desc
}

func uploadHeaders(w http.ResponseWriter, repo, id string, size int64) {
	w.Header().Set("Location", "/v2/"+repo+"/blobs/uploads/"+id)
	w.Header().Set("Docker-Upload-UUID", id)
	w.Header().Set("Range", fmt.Sprintf("0-%d", max(size-1, 0)))
	w.Header().Set("Content-Length", "0")
}

func blobCreated(w http.ResponseWriter, repo string, d digest.Digest) {
	w.Header().Set("Location", "/v2/"+repo+"/blobs/"+d.String())
	w.Header().Set("Docker-Content-Digest", d.String())
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// upload handles /v2/<repo>/blobs/uploads/[<id>].
func (s *Server) upload(w http.ResponseWriter, r *http.Request, repo, id string) *apiError {
	ctx := r.Context()
	if id == "" {
		if r.Method != http.MethodPost {
			return errf(http.StatusMethodNotAllowed, CodeUnsupported, "method not allowed")
		}
		q := r.URL.Query()
		if m := q.Get("mount"); m != "" {
			if d, ok := parseDigest(m); ok {
				if sn, err := s.snapshot(ctx); err == nil {
					from := q.Get("from")
					var froms []string
					if validRepo(from) {
						froms = []string{from}
					} else if from == "" { // anonymous: any repository
						froms = s.repoNames(sn)
					}
					for _, f := range froms {
						if desc, ok := s.lookup(r, sn, f, d); ok {
							s.remember(repo, desc)
							blobCreated(w, repo, d)
							return nil
						}
					}
				}
			}
		}
		if ds := q.Get("digest"); ds != "" {
			d, ok := parseDigest(ds)
			if !ok {
				return errf(http.StatusBadRequest, CodeDigestInvalid, "invalid digest")
			}
			up, e := s.newUpload(ctx, repo)
			if e != nil {
				return e
			}
			defer up.f.Close()
			defer os.Remove(up.f.Name())
			if e := s.appendBody(w, r, up); e != nil {
				return e
			}
			if e := s.commit(ctx, repo, up, d); e != nil {
				return e
			}
			blobCreated(w, repo, d)
			return nil
		}
		for _, id := range s.uploads.idle() {
			s.uploads.remove(id)
		}
		up, e := s.newUpload(ctx, repo)
		if e != nil {
			return e
		}
		up.last = time.Now()
		nid := make([]byte, 16)
		rand.Read(nid)
		id := hex.EncodeToString(nid)
		s.uploads.mu.Lock()
		if len(s.uploads.m) >= maxUploads {
			s.uploads.mu.Unlock()
			up.f.Close()
			os.Remove(up.f.Name())
			return errf(http.StatusTooManyRequests, CodeTooManyRequests, "too many uploads in progress")
		}
		s.uploads.m[id] = up
		s.uploads.mu.Unlock()
		uploadHeaders(w, repo, id, 0)
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	up := s.uploads.get(id)
	if up == nil || up.repo != repo {
		return errf(http.StatusNotFound, CodeBlobUploadUnknown, "blob upload unknown to registry")
	}
	switch r.Method {
	case http.MethodGet:
		up.mu.Lock()
		size := up.size
		up.mu.Unlock()
		uploadHeaders(w, repo, id, size)
		w.WriteHeader(http.StatusNoContent)
		return nil
	case http.MethodDelete:
		s.uploads.remove(id)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusNoContent)
		return nil
	case http.MethodPatch:
		up.mu.Lock()
		defer up.mu.Unlock()
		if e := s.appendChunk(w, r, repo, id, up); e != nil {
			return e
		}
		uploadHeaders(w, repo, id, up.size)
		w.WriteHeader(http.StatusAccepted)
		return nil
	case http.MethodPut:
		d, ok := parseDigest(r.URL.Query().Get("digest"))
		if !ok {
			return errf(http.StatusBadRequest, CodeDigestInvalid, "invalid or missing digest")
		}
		up.mu.Lock()
		defer up.mu.Unlock()
		if e := s.appendChunk(w, r, repo, id, up); e != nil {
			return e
		}
		e := s.commit(ctx, repo, up, d)
		s.uploads.mu.Lock()
		delete(s.uploads.m, id)
		s.uploads.mu.Unlock()
		up.f.Close()
		os.Remove(up.f.Name())
		if e != nil {
			return e
		}
		blobCreated(w, repo, d)
		return nil
	}
	return errf(http.StatusMethodNotAllowed, CodeUnsupported, "method not allowed")
}

// checkChunk refuses (416) a chunk whose Content-Range does not start where
// the upload ends; the upload stays as it was.
func checkChunk(w http.ResponseWriter, r *http.Request, repo, id string, up *upload) *apiError {
	cr := r.Header.Get("Content-Range")
	if cr == "" {
		return nil
	}
	a, _, _ := strings.Cut(strings.TrimPrefix(cr, "bytes "), "-")
	if start, err := strconv.ParseInt(a, 10, 64); err != nil || start != up.size {
		uploadHeaders(w, repo, id, up.size)
		return errf(http.StatusRequestedRangeNotSatisfiable, CodeRangeInvalid, "chunk does not start where the upload ends")
	}
	return nil
}

func (s *Server) newUpload(ctx context.Context, repo string) (*upload, *apiError) {
	l, e := s.writer(ctx)
	if e != nil {
		return nil, e
	}
	defer l.Close()
	f, err := l.CreateTemp("upload-")
	if err != nil {
		return nil, internalError(err)
	}
	return &upload{repo: repo, f: f}, nil
}

// appendBody appends r's body to up, at most MaxUpload bytes in all.
func (s *Server) appendBody(w http.ResponseWriter, r *http.Request, up *upload) *apiError {
	if r.Body == nil {
		return nil
	}
	limit := s.opts.MaxUpload - up.size
	if r.ContentLength > limit {
		// Refused before a byte is read: net/http closes the
		// connection rather than drain a body this large.
		return errf(http.StatusRequestEntityTooLarge, CodeSizeInvalid, "blob larger than the server accepts")
	}
	n, err := io.Copy(up.f, io.LimitReader(r.Body, limit+1))
	up.size += n
	if n > limit {
		return errf(http.StatusRequestEntityTooLarge, CodeSizeInvalid, "blob larger than the server accepts")
	}
	if err != nil {
		return errf(http.StatusBadRequest, CodeBlobUploadInvalid, "reading the body: "+err.Error())
	}
	return nil
}

// commit stores up's bytes as the blob d, verified.
func (s *Server) commit(ctx context.Context, repo string, up *upload, d digest.Digest) *apiError {
	if _, err := up.f.Seek(0, io.SeekStart); err != nil {
		return internalError(err)
	}
	desc := ocispec.Descriptor{MediaType: "application/octet-stream", Digest: d, Size: up.size}
	l, e := s.writer(ctx)
	if e != nil {
		return e
	}
	defer l.Close()
	err := l.Push(ctx, desc, io.LimitReader(up.f, up.size))
	switch {
	case err == nil, errors.Is(err, layout.ErrAlreadyExists):
	case errors.Is(err, layout.ErrDigestMismatch), errors.Is(err, layout.ErrSizeMismatch):
		return errf(http.StatusBadRequest, CodeDigestInvalid, "content does not match the digest")
	default:
		return internalError(err)
	}
	s.remember(repo, desc)
	return nil
}

func (s *Server) putManifest(w http.ResponseWriter, r *http.Request, repo, ref string) *apiError {
	ctx := r.Context()
	var tag string
	alg := digest.SHA256
	var want digest.Digest
	if strings.Contains(ref, ":") {
		d, ok := parseDigest(ref)
		if !ok {
			return errf(http.StatusBadRequest, CodeDigestInvalid, "invalid digest")
		}
		want, alg = d, d.Algorithm()
	} else if !validTag(ref) {
		return errf(http.StatusBadRequest, CodeTagInvalid, "invalid tag")
	} else {
		tag = ref
	}
	if r.ContentLength > graph.MaxManifestSize {
		return errf(http.StatusRequestEntityTooLarge, CodeSizeInvalid, "manifest too large")
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, graph.MaxManifestSize+1))
	if err != nil {
		return errf(http.StatusBadRequest, CodeManifestInvalid, "reading the body: "+err.Error())
	}
	if len(b) > graph.MaxManifestSize {
		return errf(http.StatusRequestEntityTooLarge, CodeSizeInvalid, "manifest too large")
	}
	d := alg.FromBytes(b)
	if want != "" && d != want {
		return errf(http.StatusBadRequest, CodeDigestInvalid, "manifest does not match the digest")
	}
	mt := r.Header.Get("Content-Type")
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = strings.TrimSpace(mt[:i])
	}
	if desc, _, err := graph.Describe(b); err == nil && desc != "" && (mt == "" || !graph.IsManifest(mt)) {
		mt = desc
	}
	desc := ocispec.Descriptor{MediaType: mt, Digest: d, Size: int64(len(b))}
	m, err := graph.Parse(desc, b)
	if err != nil {
		return errf(http.StatusBadRequest, CodeManifestInvalid, err.Error())
	}
	if m.ArtifactType != "" {
		desc.ArtifactType = m.ArtifactType
	}
	l, e := s.writer(ctx)
	if e != nil {
		return e
	}
	defer l.Close()
	for _, c := range m.Children() {
		if nondistributable(c) {
			continue
		}
		if ok, err := l.Exists(ctx, c); err != nil || !ok {
			return errf(http.StatusBadRequest, CodeManifestBlobUnknown, "manifest references a blob unknown to registry: "+c.Digest.String())
		}
	}
	if err := l.Push(ctx, desc, bytes.NewReader(b)); err != nil && !errors.Is(err, layout.ErrAlreadyExists) {
		return internalError(err)
	}
	entry := desc
	entry.Annotations = map[string]string{}
	if tag != "" {
		entry.Annotations[ocispec.AnnotationRefName] = repo + ":" + tag
	} else {
		entry.Annotations[AnnotationRepository] = repo
	}
	if err := l.Put(ctx, entry); err != nil {
		if errors.Is(err, layout.ErrInvalidReference) {
			return errf(http.StatusBadRequest, CodeNameInvalid, err.Error())
		}
		return internalError(err)
	}
	s.invalidate()
	if m.Subject != nil {
		w.Header().Set("OCI-Subject", m.Subject.Digest.String())
	}
	w.Header().Set("Location", "/v2/"+repo+"/manifests/"+d.String())
	w.Header().Set("Docker-Content-Digest", d.String())
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (s *Server) deleteManifest(w http.ResponseWriter, r *http.Request, repo, ref string) *apiError {
	ctx := r.Context()
	sn, desc, e := s.resolve(r, repo, ref)
	if e != nil {
		return e
	}
	var names []string
	if !strings.Contains(ref, ":") {
		names = append(names, sn.tags(repo, r.URL.Query().Get("ns"))[ref].name)
	} else {
		untagged := false
		for _, en := range sn.repos[repo] {
			if en.desc.Digest != desc.Digest {
				continue
			}
			if en.name != "" {
				names = append(names, en.name)
			} else {
				untagged = true
			}
		}
		if untagged {
			names = append(names, desc.Digest.String())
		}
	}
	if len(names) == 0 || names[0] == "" {
		return errf(http.StatusMethodNotAllowed, CodeUnsupported, "the manifest is only reached through another manifest: delete that one")
	}
	l, e := s.writer(ctx)
	if e != nil {
		return e
	}
	defer l.Close()
	if err := l.Untag(ctx, names...); err != nil {
		if errors.Is(err, layout.ErrNotFound) {
			return errf(http.StatusNotFound, CodeManifestUnknown, "manifest unknown")
		}
		return internalError(err)
	}
	s.invalidate()
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// appendChunk checks that the request body continues upload id where it
// stands and appends it. An upload that grew past MaxUpload is dropped: do
// not keep that many bytes on disk for an upload that can never complete.
// The caller holds up.mu.
func (s *Server) appendChunk(w http.ResponseWriter, r *http.Request, repo, id string, up *upload) *apiError {
	if e := checkChunk(w, r, repo, id, up); e != nil {
		return e
	}
	if e := s.appendBody(w, r, up); e != nil {
		if e.status == http.StatusRequestEntityTooLarge {
			s.uploads.remove(id)
		}
		return e
	}
	return nil
}

func (s *Server) deleteBlob(w http.ResponseWriter, r *http.Request, repo, ref string) *apiError {
	d, sn, e := s.digestRequest(r, ref)
	if e != nil {
		return e
	}
	if _, ok := sn.reachOf(r.Context(), s.st, repo).blobs[d]; ok {
		return errf(http.StatusMethodNotAllowed, CodeUnsupported, "the blob is referenced by a manifest of the repository: delete the manifest first")
	}
	s.mu.Lock()
	_, ok := s.pushed[repo][d]
	delete(s.pushed[repo], d)
	s.mu.Unlock()
	if !ok {
		return errf(http.StatusNotFound, CodeBlobUnknown, "blob unknown to registry")
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// nondistributable reports whether d is a layer that the spec lets a
// manifest name without the registry holding it (a non-distributable layer,
// fetched from its URLs).
func nondistributable(d ocispec.Descriptor) bool {
	return strings.Contains(d.MediaType, ".nondistributable.") || strings.Contains(d.MediaType, ".foreign.") || len(d.URLs) > 0
}
