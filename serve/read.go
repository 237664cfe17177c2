package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/graph"
	"github.com/ocipack/ocipack/layout"
)

func internalError(err error) *apiError {
	return errf(http.StatusInternalServerError, CodeUnsupported, err.Error())
}

// known reports whether repo exists: it has entries, or blobs pushed to it.
func (s *Server) known(sn *snapshot, repo string) bool {
	if _, ok := sn.repos[repo]; ok {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pushed[repo]) > 0
}

// lookup returns the descriptor of digest d in repo: reached by its
// entries, or uploaded to it.
func (s *Server) lookup(r *http.Request, sn *snapshot, repo string, d digest.Digest) (ocispec.Descriptor, bool) {
	if desc, ok := sn.reachOf(r.Context(), s.st, repo).blobs[d]; ok {
		return desc, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	desc, ok := s.pushed[repo][d]
	return desc, ok
}

// page applies the spec's n and last to sorted names; it returns the page
// and the Link of the next one ("" for none).
func page(r *http.Request, all []string) ([]string, string, *apiError) {
	q := r.URL.Query()
	if last := q.Get("last"); last != "" {
		i, _ := slices.BinarySearch(all, last)
		for i < len(all) && all[i] <= last {
			i++
		}
		all = all[i:]
	}
	if ns := q.Get("n"); ns != "" {
		n, err := strconv.Atoi(ns)
		if err != nil || n < 0 {
			return nil, "", errf(http.StatusBadRequest, CodeUnsupported, "invalid n")
		}
		if n < len(all) {
			all = all[:n]
			if n > 0 {
				v := url.Values{"n": {ns}, "last": {all[n-1]}}
				if x := q.Get("ns"); x != "" {
					v.Set("ns", x)
				}
				return all, fmt.Sprintf("<%s?%s>; rel=\"next\"", r.URL.Path, v.Encode()), nil
			}
		}
	}
	return all, "", nil
}

func writeJSON(w http.ResponseWriter, r *http.Request, contentType string, v any) *apiError {
	b, err := json.Marshal(v)
	if err != nil {
		return internalError(err)
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if r.Method != http.MethodHead {
		w.Write(b)
	}
	return nil
}

func (s *Server) catalog(w http.ResponseWriter, r *http.Request) *apiError {
	sn, err := s.snapshot(r.Context())
	if err != nil {
		return internalError(err)
	}
	names := s.repoNames(sn)
	names, link, e := page(r, names)
	if e != nil {
		return e
	}
	if link != "" {
		w.Header().Set("Link", link)
	}
	return writeJSON(w, r, "application/json", map[string][]string{"repositories": nonNil(names)})
}

// repoNames returns the repositories: those of sn and those blobs were
// pushed to, sorted.
func (s *Server) repoNames(sn *snapshot) []string {
	names := sn.names()
	s.mu.Lock()
	for n, m := range s.pushed {
		if _, ok := sn.repos[n]; !ok && len(m) > 0 {
			names = append(names, n)
		}
	}
	s.mu.Unlock()
	slices.Sort(names)
	return names
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Server) tagsList(w http.ResponseWriter, r *http.Request, repo string) *apiError {
	sn, err := s.snapshot(r.Context())
	if err != nil {
		return internalError(err)
	}
	if !s.known(sn, repo) {
		return errf(http.StatusNotFound, CodeNameUnknown, "repository name not known to registry")
	}
	var tags []string
	for t := range sn.tags(repo, r.URL.Query().Get("ns")) {
		tags = append(tags, t)
	}
	slices.Sort(tags)
	tags, link, e := page(r, tags)
	if e != nil {
		return e
	}
	if link != "" {
		w.Header().Set("Link", link)
	}
	return writeJSON(w, r, "application/json", struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{repo, nonNil(tags)})
}

// digestRequest parses the digest of a blob or referrers request and takes
// the snapshot of the layout the answer is read from.
func (s *Server) digestRequest(r *http.Request, ref string) (digest.Digest, *snapshot, *apiError) {
	d, ok := parseDigest(ref)
	if !ok {
		return "", nil, errf(http.StatusBadRequest, CodeDigestInvalid, "invalid digest")
	}
	sn, err := s.snapshot(r.Context())
	if err != nil {
		return "", nil, internalError(err)
	}
	return d, sn, nil
}

func (s *Server) referrers(w http.ResponseWriter, r *http.Request, repo, ref string) *apiError {
	d, sn, e := s.digestRequest(r, ref)
	if e != nil {
		return e
	}
	list := []ocispec.Descriptor{}
	if _, ok := sn.repos[repo]; ok {
		list = append(list, sn.reachOf(r.Context(), s.st, repo).referrers[d]...)
	}
	if at := r.URL.Query().Get("artifactType"); at != "" {
		list = slices.DeleteFunc(list, func(d ocispec.Descriptor) bool { return d.ArtifactType != at })
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	slices.SortFunc(list, func(a, b ocispec.Descriptor) int { return strings.Compare(string(a.Digest), string(b.Digest)) })
	list = slices.CompactFunc(list, func(a, b ocispec.Descriptor) bool { return a.Digest == b.Digest })
	return writeJSON(w, r, graph.MediaTypeOCIIndex, ocispec.Index{
		Versioned: specsVersioned,
		MediaType: graph.MediaTypeOCIIndex,
		Manifests: list,
	})
}

// resolve finds the manifest ref (a tag or a digest) names in repo.
func (s *Server) resolve(r *http.Request, repo, ref string) (*snapshot, ocispec.Descriptor, *apiError) {
	sn, err := s.snapshot(r.Context())
	if err != nil {
		return nil, ocispec.Descriptor{}, internalError(err)
	}
	if strings.Contains(ref, ":") {
		d, ok := parseDigest(ref)
		if !ok {
			return nil, ocispec.Descriptor{}, errf(http.StatusBadRequest, CodeDigestInvalid, "invalid digest")
		}
		if !s.known(sn, repo) {
			return nil, ocispec.Descriptor{}, errf(http.StatusNotFound, CodeNameUnknown, "repository name not known to registry")
		}
		desc, ok := s.lookup(r, sn, repo, d)
		if !ok {
			return nil, ocispec.Descriptor{}, errf(http.StatusNotFound, CodeManifestUnknown, "manifest unknown")
		}
		return sn, desc, nil
	}
	if !validTag(ref) {
		return nil, ocispec.Descriptor{}, errf(http.StatusBadRequest, CodeTagInvalid, "invalid tag")
	}
	if !s.known(sn, repo) {
		return nil, ocispec.Descriptor{}, errf(http.StatusNotFound, CodeNameUnknown, "repository name not known to registry")
	}
	e, ok := sn.tags(repo, r.URL.Query().Get("ns"))[ref]
	if !ok {
		return nil, ocispec.Descriptor{}, errf(http.StatusNotFound, CodeManifestUnknown, "manifest unknown")
	}
	return sn, e.desc, nil
}

func (s *Server) getManifest(w http.ResponseWriter, r *http.Request, repo, ref string) *apiError {
	_, desc, e := s.resolve(r, repo, ref)
	if e != nil {
		return e
	}
	if desc.Size > graph.MaxManifestSize {
		return errf(http.StatusNotFound, CodeManifestUnknown, "manifest unknown (too large)")
	}
	desc.MediaType = ""
	b, err := layout.ReadBlob(r.Context(), s.st, ocispec.Descriptor{Digest: desc.Digest, Size: desc.Size}, graph.MaxManifestSize)
	if err != nil {
		if errors.Is(err, layout.ErrNotFound) {
			return errf(http.StatusNotFound, CodeManifestUnknown, "manifest unknown")
		}
		return internalError(err)
	}
	mt, _, err := graph.Describe(b)
	if err != nil || mt == "" {
		return errf(http.StatusNotFound, CodeManifestUnknown, "not a manifest")
	}
	w.Header().Set("Content-Type", mt)
	w.Header().Set("Docker-Content-Digest", desc.Digest.String())
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("Etag", `"`+desc.Digest.String()+`"`)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
	return nil
}

func (s *Server) getBlob(w http.ResponseWriter, r *http.Request, repo, ref string) *apiError {
	d, sn, e := s.digestRequest(r, ref)
	if e != nil {
		return e
	}
	if !s.known(sn, repo) {
		return errf(http.StatusNotFound, CodeNameUnknown, "repository name not known to registry")
	}
	desc, ok := s.lookup(r, sn, repo, d)
	if !ok {
		return errf(http.StatusNotFound, CodeBlobUnknown, "blob unknown to registry")
	}
	start, end, partial, e := parseRange(r.Header.Get("Range"), desc.Size)
	if e != nil {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", desc.Size))
		return e
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Accept-Ranges", "bytes")
	h.Set("Etag", `"`+d.String()+`"`)
	if r.Method == http.MethodHead && !partial {
		h.Set("Content-Length", strconv.FormatInt(desc.Size, 10))
		return nil
	}
	rc, err := s.st.Fetch(r.Context(), ocispec.Descriptor{MediaType: desc.MediaType, Digest: d, Size: desc.Size})
	if err != nil {
		if errors.Is(err, layout.ErrNotFound) {
			return errf(http.StatusNotFound, CodeBlobUnknown, "blob unknown to registry")
		}
		return internalError(err)
	}
	defer rc.Close()
	if start > 0 {
		if sk, ok := rc.(io.Seeker); ok {
			if _, err := sk.Seek(start, io.SeekStart); err != nil {
				return internalError(err)
			}
		} else if _, err := io.CopyN(io.Discard, rc, start); err != nil {
			return internalError(err)
		}
	}
	h.Set("Content-Length", strconv.FormatInt(end-start, 10))
	if partial {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end-1, desc.Size))
		w.WriteHeader(http.StatusPartialContent)
	}
	if r.Method == http.MethodHead {
		return nil
	}
	io.Copy(w, io.LimitReader(rc, end-start)) // a client gone away ends it
	return nil
}

// parseRange reads a Range header of one byte range; it returns
// [start, end) and whether it was a range.
func parseRange(h string, size int64) (start, end int64, partial bool, e *apiError) {
	if h == "" {
		return 0, size, false, nil
	}
	bad := errf(http.StatusRequestedRangeNotSatisfiable, CodeRangeInvalid, "invalid or unsatisfiable range")
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		// RFC 9110 14.2: a range unit the server does not know is
		// ignored; the whole blob is sent.
		return 0, size, false, nil
	}
	if strings.Contains(spec, ",") {
		return 0, 0, false, bad
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, 0, false, bad
	}
	if a == "" { // suffix: the last b bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 || size == 0 {
			return 0, 0, false, bad
		}
		return max(size-n, 0), size, true, nil
	}
	s, err := strconv.ParseInt(a, 10, 64)
	if err != nil || s < 0 || s >= size {
		return 0, 0, false, bad
	}
	end = size
	if b != "" {
		l, err := strconv.ParseInt(b, 10, 64)
		if err != nil || l < s {
			return 0, 0, false, bad
		}
		end = min(l+1, size)
	}
	return s, end, true, nil
}
