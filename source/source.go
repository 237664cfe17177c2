// Package source opens a thing holding an OCI image layout as one read-only
// target: a layout directory, an archive file (.tar, .tar.zst, .tar.gz) or
// the volumes of a split archive, read in place.
//
// A Source implements oras.ReadOnlyGraphTarget (Fetch, Exists, Resolve,
// Predecessors), so that code reading content (unpack.Unpack,
// transfer.Push, oras.Copy) takes it and never asks what kind it is.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"

	"github.com/ocipack/ocipack/archive"
	"github.com/ocipack/ocipack/layout"
)

// ErrNoTags is returned by Source.Ref when no reference was given and the
// source has no tags to choose from.
var ErrNoTags = errors.New("has no tags")

// AmbiguousError is returned by Source.Ref when no reference was given and
// the source has several tags: the caller must name one.
type AmbiguousError struct {
	// Path is the source's path.
	Path string
	// Tags are the source's tags, sorted.
	Tags []string
}

func (e *AmbiguousError) Error() string {
	shown := e.Tags
	if len(shown) > 5 {
		shown = append(shown[:5:5], "…")
	}
	return fmt.Sprintf("%s has %d tags (%s): name one, as %s:TAG", e.Path, len(e.Tags), strings.Join(shown, ", "), e.Path)
}

// Source is a layout directory or an archive, opened for reading. Its
// methods are safe for concurrent use. Close it when done.
type Source struct {
	target oras.ReadOnlyTarget
	path   string
	kind   string // "layout" or "archive", for messages
	preds  func(context.Context, ocispec.Descriptor) ([]ocispec.Descriptor, error)
	tags   func(context.Context) ([]string, error)
	index  func(context.Context) (*ocispec.Index, error)
	close  func() error
	// state is the layout's State, nil for an archive.
	state *layout.State
}

var _ oras.ReadOnlyGraphTarget = (*Source)(nil)

// Open opens the layout directory or the archive at path: an archive file,
// one volume of a split archive, or the base name of its volumes (see
// IsArchive). A layout must exist already; an archive is checked whole as
// archive.Open does.
func Open(ctx context.Context, path string) (*Source, error) {
	if IsArchive(path) {
		r, err := archive.Open(ctx, path)
		if err != nil {
			return nil, err
		}
		none := func(context.Context, ocispec.Descriptor) ([]ocispec.Descriptor, error) { return nil, nil }
		index := func(ctx context.Context) (*ocispec.Index, error) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return r.Index(), nil
		}
		return &Source{target: r, path: path, kind: "archive", preds: none, tags: r.Tags, index: index, close: r.Close}, nil
	}
	l, err := layout.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	tags := func(ctx context.Context) ([]string, error) {
		ts, err := l.Tags(ctx)
		names := make([]string, len(ts))
		for i, t := range ts {
			names[i] = t.Tag
		}
		return names, err
	}
	return &Source{target: l, path: path, kind: "layout", preds: l.Predecessors, tags: tags, index: l.Index, close: l.Close, state: l.State()}, nil
}

// IsArchive reports whether path is an archive file (or the base name of
// split volumes, PATH.001 ...) rather than a layout directory.
func IsArchive(path string) bool {
	if fi, err := os.Stat(path); err == nil {
		return fi.Mode().IsRegular()
	}
	_, err := os.Stat(archive.VolumeName(path, 1))
	return err == nil
}

// Path returns the path the source was opened at.
func (s *Source) Path() string { return s.path }

// String names the source in messages: "layout PATH" or "archive PATH".
func (s *Source) String() string { return s.kind + " " + s.path }

// Close closes the source's files.
func (s *Source) Close() error { return s.close() }

// Fetch opens the blob target describes. Like layout.Layout's, it does not
// verify what it returns. It implements oras-go's content.Fetcher.
func (s *Source) Fetch(ctx context.Context, target ocispec.Descriptor) (io.ReadCloser, error) {
	return s.target.Fetch(ctx, target)
}

// Exists reports whether the source holds the blob target describes. It
// implements oras-go's content.ReadOnlyStorage.
func (s *Source) Exists(ctx context.Context, target ocispec.Descriptor) (bool, error) {
	return s.target.Exists(ctx, target)
}

// Resolve returns the descriptor of a tag, or of a manifest digest, the
// source holds. It implements oras-go's content.Resolver.
func (s *Source) Resolve(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	return s.target.Resolve(ctx, reference)
}

// Predecessors returns the referrers of node the source lists (those a
// layout keeps in its index.json; an archive read in place lists none). It
// implements oras-go's content.PredecessorFinder.
func (s *Source) Predecessors(ctx context.Context, node ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	return s.preds(ctx, node)
}

// Tags returns the source's tags, sorted.
func (s *Source) Tags(ctx context.Context) ([]string, error) { return s.tags(ctx) }

// Ref returns ref when it is not empty, else the source's only tag. With
// no tags it fails with ErrNoTags, with several with an *AmbiguousError.
func (s *Source) Ref(ctx context.Context, ref string) (string, error) {
	if ref != "" {
		return ref, nil
	}
	tags, err := s.Tags(ctx)
	if err != nil {
		return "", err
	}
	switch len(tags) {
	case 1:
		return tags[0], nil
	case 0:
		return "", fmt.Errorf("%s %w: nothing to take", s.path, ErrNoTags)
	}
	return "", &AmbiguousError{Path: s.path, Tags: tags}
}

// Digests returns the digests of the blobs the archive or layout at path
// holds (for a delta archive, also those it needs but left out): what to
// pass as archive.ExportOptions.Since to export only what changed since.
func Digests(ctx context.Context, path string) (archive.DigestSet, error) {
	if IsArchive(path) {
		return archive.DigestsOfArchive(ctx, path)
	}
	l, err := layout.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	return archive.DigestsOfLayout(ctx, l)
}

// ParseTagList reads LAYOUT[:TAG[,TAG...]], what export takes: the layout
// path and the tags (nil for all). A digest is refused. A TAG may be a full
// name (see layout.IsFullName); then LAYOUT is found as
// layout.ParseReference finds it: the longest prefix that exists, else the
// part before the first ':' that the list follows.
func ParseTagList(s string) (path string, tags []string, err error) {
	if ref, err := layout.ParseReference(s); err == nil && ref.Digest != "" {
		return "", nil, fmt.Errorf("%q: export takes tags, not a digest", s)
	}
	if path, tags, ok := parseNameList(s); ok {
		return path, tags, nil
	}
	if i := strings.LastIndex(s, ":"); i > 0 {
		tags := strings.Split(s[i+1:], ",")
		ok := true
		for _, t := range tags {
			ok = ok && layout.ValidTag(t)
		}
		if ok {
			return s[:i], tags, nil
		}
	}
	ref, err := layout.ParseReference(s)
	if err != nil {
		return "", nil, err
	}
	if ref.Digest != "" {
		return "", nil, fmt.Errorf("%q: export takes tags, not a digest", s)
	}
	return ref.Path, nil, nil
}

// parseNameList is ParseTagList of a list that holds a full name: ok is
// false when no ':' is followed by a list of valid names with a full name
// among them.
func parseNameList(s string) (path string, tags []string, ok bool) {
	type split struct {
		path string
		tags []string
	}
	var found []split
	for i := 1; i < len(s); i++ {
		if s[i] != ':' {
			continue
		}
		names := strings.Split(s[i+1:], ",")
		valid, full, repo := true, false, false
		for _, n := range names {
			isRepo := layout.IsRepoName(n) // REPO:TAG, as serve --writable names a push
			valid = valid && (layout.ValidName(n) || isRepo)
			full = full || layout.IsFullName(n)
			repo = repo || isRepo
		}
		// REPO:TAG counts only where its path is a directory, as
		// layout.ParseReference reads it.
		if fi, err := os.Stat(s[:i]); repo && (err != nil || !fi.IsDir()) && !full {
			repo = false
		}
		if valid && (full || repo || len(found) > 0) {
			found = append(found, split{s[:i], names})
		}
	}
	if len(found) == 0 {
		return "", nil, false
	}
	best := found[0]
	exists := false
	for _, f := range found {
		if _, err := os.Stat(f.path); err == nil && (!exists || len(f.path) > len(best.path)) {
			best, exists = f, true
		}
	}
	return best.path, best.tags, true
}

// Index returns the index.json of the layout or the archive: its tags and
// the manifests it lists untagged. inspect.Summaries reads it.
func (s *Source) Index(ctx context.Context) (*ocispec.Index, error) { return s.index(ctx) }

// State returns the State of the layout the source is (nil for an
// archive), where transfer.Push keeps the sessions of resumable chunked
// uploads from it.
func (s *Source) State() *layout.State { return s.state }

// VerifyOptions are the options of Verify.
type VerifyOptions struct {
	// SkipHash checks a layout's blobs for presence and size without
	// hashing them (manifests are always hashed). An archive is always
	// hashed whole.
	SkipHash bool
	// Progress, when set, is called as a layout's blobs are hashed.
	Progress func(done, total int64)
}

// VerifyReport is what Verify found: exactly one of its fields is set,
// after what path is.
type VerifyReport struct {
	// Layout is the report of a layout directory (layout.Layout.Check).
	Layout *layout.CheckReport
	// Archive is the report of a whole archive, or of all the volumes of
	// a split one (archive.Check).
	Archive *archive.CheckReport
	// Volume is the report of one volume of a split archive checked on
	// its own (archive.Verify).
	Volume *archive.Volume
}

// Verify checks what path holds: every blob of a layout directory (its
// problems are in the report, not an error), every entry of an archive,
// or one volume of a split archive on its own. It fails when path cannot
// be read, or when an archive is damaged.
func Verify(ctx context.Context, path string, opts VerifyOptions) (*VerifyReport, error) {
	if IsArchive(path) {
		v, err := archive.Verify(ctx, path)
		if errors.Is(err, archive.ErrNotArchive) || errors.Is(err, fs.ErrNotExist) {
			// A whole archive (or the base name of its volumes).
			rep, err := archive.Check(ctx, path)
			if err != nil {
				return nil, err
			}
			return &VerifyReport{Archive: rep}, nil
		}
		if err != nil {
			return nil, err
		}
		return &VerifyReport{Volume: v}, nil
	}
	l, err := layout.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	rep, err := l.Check(ctx, layout.CheckOptions{SkipHash: opts.SkipHash, Progress: opts.Progress})
	if cerr := l.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return &VerifyReport{Layout: rep}, nil
}
