package serve

import (
	"context"
	"io"
	"slices"
	"sync"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/graph"
	"github.com/ocipack/ocipack/layout"
)

// AnnotationRepository is the annotation of an index.json entry that a
// manifest pushed by digest (with no tag) gets: the repository it was pushed
// to, so that the server lists it there again.
const AnnotationRepository = "io.ocipack.serve.repository"

// store is what the server reads: a layout or a source.
type store interface {
	Fetch(ctx context.Context, target ocispec.Descriptor) (io.ReadCloser, error)
	Exists(ctx context.Context, target ocispec.Descriptor) (bool, error)
	Index(ctx context.Context) (*ocispec.Index, error)
}

// entry is one index.json entry as a repository sees it.
type entry struct {
	host string // the registry of a full name, "" otherwise
	tag  string // "" for an untagged entry
	name string // the entry's name in index.json ("" when untagged)
	desc ocispec.Descriptor
}

// reach is what a repository's entries reach.
type reach struct {
	blobs     map[digest.Digest]ocispec.Descriptor
	referrers map[digest.Digest][]ocispec.Descriptor
}

// snapshot is the repositories of one version of index.json.
type snapshot struct {
	repos   map[string][]entry
	orphans []ocispec.Descriptor // untagged, no repository: referrers of whatever reaches their subject
	defRepo string

	mu    sync.Mutex
	reach map[string]*reach
}

func newSnapshot(idx *ocispec.Index, defRepo string) *snapshot {
	s := &snapshot{repos: map[string][]entry{}, defRepo: defRepo, reach: map[string]*reach{}}
	for _, d := range idx.Manifests {
		name := layout.EntryName(d)
		switch {
		case name == "":
			if r := d.Annotations[AnnotationRepository]; validRepo(r) {
				s.repos[r] = append(s.repos[r], entry{desc: d})
			} else {
				s.orphans = append(s.orphans, d)
			}
		case layout.ValidTag(name):
			s.repos[defRepo] = append(s.repos[defRepo], entry{tag: name, name: d.Annotations[ocispec.AnnotationRefName], desc: d})
		case layout.IsFullName(name):
			named, err := reference.ParseNamed(name)
			if err != nil {
				continue
			}
			e := entry{host: reference.Domain(named), name: d.Annotations[ocispec.AnnotationRefName], desc: d}
			if t, ok := named.(reference.Tagged); ok {
				e.tag = t.Tag()
			}
			if p := reference.Path(named); validRepo(p) {
				s.repos[p] = append(s.repos[p], e)
			}
		case layout.IsRepoName(name):
			i := len(name) - len(layout.NameTag(name)) - 1
			s.repos[name[:i]] = append(s.repos[name[:i]], entry{tag: name[i+1:], name: name, desc: d})
		}
	}
	return s
}

// names returns the repositories, sorted.
func (s *snapshot) names() []string {
	out := make([]string, 0, len(s.repos))
	for n := range s.repos {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// tags returns repo's tags as a client with ns (containerd's ns=HOST, ""
// for none) sees them: for each tag, the entry of host ns, else one
// without a host, else (with no ns) the first host's in sorted order.
func (s *snapshot) tags(repo, ns string) map[string]entry {
	out := map[string]entry{}
	rank := func(e entry) int {
		switch {
		case ns != "" && e.host == ns:
			return 0
		case e.host == "":
			return 1
		case ns == "":
			return 2
		}
		return -1
	}
	for _, e := range s.repos[repo] {
		if e.tag == "" || rank(e) < 0 {
			continue
		}
		if old, ok := out[e.tag]; ok && (rank(old) < rank(e) || rank(old) == rank(e) && old.host <= e.host) {
			continue
		}
		out[e.tag] = e
	}
	return out
}

// reachOf returns what repo's entries reach, walking the graph once per
// snapshot and repository.
func (s *snapshot) reachOf(ctx context.Context, st store, repo string) *reach {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.reach[repo]; ok {
		return r
	}
	r := &reach{blobs: map[digest.Digest]ocispec.Descriptor{}, referrers: map[digest.Digest][]ocispec.Descriptor{}}
	w := &graph.Walker{Fetcher: st, Visit: func(_ context.Context, n graph.Node) error {
		r.blobs[n.Descriptor.Digest] = n.Descriptor
		if m := n.Manifest; m != nil && m.Subject != nil {
			r.referrers[m.Subject.Digest] = append(r.referrers[m.Subject.Digest], referrerDescriptor(n.Descriptor, m))
		}
		return nil
	}}
	for _, e := range s.repos[repo] {
		_ = w.Walk(ctx, e.desc) // a broken graph still serves what it reaches
	}
	// Untagged entries of no repository: the default repository's, and
	// every repository's that reaches their subject (referrers pulled with
	// what they refer to).
	pending := s.orphans
	for changed := true; changed; {
		changed = false
		var rest []ocispec.Descriptor
		for _, d := range pending {
			subj := subjectOf(ctx, st, d)
			if _, ok := r.blobs[subj]; ok || repo == s.defRepo && subj == "" {
				_ = w.Walk(ctx, d)
				changed = true
			} else {
				rest = append(rest, d)
			}
		}
		pending = rest
	}
	s.reach[repo] = r
	return r
}

func subjectOf(ctx context.Context, st store, d ocispec.Descriptor) digest.Digest {
	m, err := graph.Read(ctx, st, d)
	if err != nil || m.Subject == nil {
		return ""
	}
	return m.Subject.Digest
}

// referrerDescriptor is the descriptor the referrers API lists for the
// manifest d, m: its artifact type (the config's media type for an image
// manifest without one) and annotations.
func referrerDescriptor(d ocispec.Descriptor, m *graph.Manifest) ocispec.Descriptor {
	out := ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, ArtifactType: m.ArtifactType, Annotations: m.Annotations}
	if out.MediaType == "" {
		out.MediaType = m.MediaType
	}
	if out.ArtifactType == "" && m.Config != nil {
		out.ArtifactType = m.Config.MediaType
	}
	return out
}
