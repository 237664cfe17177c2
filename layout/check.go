package layout

import (
	"context"
	_ "crypto/sha512" // sha384 and sha512 blobs can be verified too
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/graph"
)

// ProblemKind says what is wrong with a file of a layout.
type ProblemKind string

// The kinds of problem Check reports in CheckReport.Problems: the layout is
// damaged or does not follow the image-layout spec.
const (
	// ProblemMissing: a blob that something reachable from index.json
	// references is not stored.
	ProblemMissing ProblemKind = "missing"
	// ProblemSize: a blob is stored with another size than its descriptor
	// says, or two descriptors of one digest disagree on its size.
	ProblemSize ProblemKind = "size"
	// ProblemDigest: a blob's content does not hash to its digest.
	ProblemDigest ProblemKind = "digest"
	// ProblemNotRegular: a blob is a symlink, a directory or another
	// non-regular file.
	ProblemNotRegular ProblemKind = "not-regular"
	// ProblemUnreadable: a file could not be read (permissions, I/O error).
	ProblemUnreadable ProblemKind = "unreadable"
	// ProblemCorruptManifest: a manifest or image index does not parse, is
	// too large, nests too deep or holds an invalid descriptor.
	ProblemCorruptManifest ProblemKind = "corrupt-manifest"
	// ProblemCorruptIndex: index.json does not parse, is not schemaVersion
	// 2, or has a bad entry.
	ProblemCorruptIndex ProblemKind = "corrupt-index"
	// ProblemUnknownMediaType: index.json or an image index lists a
	// manifest of a media type ocipack cannot read, so what it references
	// is unknown.
	ProblemUnknownMediaType ProblemKind = "unknown-media-type"
	// ProblemBadLayoutFile: oci-layout, index.json or blobs/ is missing, or
	// oci-layout is not version 1.0.0.
	ProblemBadLayoutFile ProblemKind = "bad-layout-file"
	// ProblemBadName: something in blobs/ is not named as a blob
	// (blobs/<algorithm>/<encoded digest>).
	ProblemBadName ProblemKind = "bad-name"
)

// The kinds of problem Check reports in CheckReport.Warnings: the layout is
// sound, but holds something that GC would remove.
const (
	// ProblemUnreferenced: a blob that nothing reachable from a tag or a
	// kept index.json entry references. `ocipack rm` leaves such blobs
	// behind until the next GC.
	ProblemUnreferenced ProblemKind = "unreferenced"
	// ProblemOrphanedReferrer: an untagged index.json entry for a referrer
	// whose subject nothing keeps; GC removes the entry and the referrer.
	ProblemOrphanedReferrer ProblemKind = "orphaned-referrer"
	// ProblemMissingSubject: a manifest's subject is not stored. The spec
	// allows it (a signature may be copied without what it signs).
	ProblemMissingSubject ProblemKind = "missing-subject"
	// ProblemTempFile: a temporary file left by an interrupted write (or a
	// write in progress, since Check takes no lock).
	ProblemTempFile ProblemKind = "temp-file"
)

// Problem is one thing Check found wrong with a layout.
type Problem struct {
	// Digest is the blob concerned, if any.
	Digest digest.Digest `json:"digest,omitempty"`
	// Path is the file concerned, relative to the layout directory with
	// forward slashes ("blobs/sha256/…", "index.json"); for a missing blob,
	// where it should be.
	Path string `json:"path"`
	// Kind says what is wrong.
	Kind ProblemKind `json:"kind"`
	// Detail says it in words, naming what references the blob.
	Detail string `json:"detail"`
}

// String returns the problem on one line.
func (p Problem) String() string {
	s := string(p.Kind) + ": " + p.Path
	if p.Digest != "" && !strings.HasSuffix(p.Path, p.Digest.Encoded()) {
		s += " (" + p.Digest.String() + ")"
	}
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// CheckOptions controls Check.
type CheckOptions struct {
	// SkipHash checks that blobs are present with the right size without
	// reading them ("--fast"). Manifests and indexes are always read, and
	// verified against their digests, since Check must parse them.
	SkipHash bool
	// Progress, when set, is called as blobs are hashed with the bytes
	// hashed so far and the total to hash.
	Progress func(done, total int64)
	// Roots, when not nil, checks only what these descriptors reach, each
	// as if index.json listed it, rather than the whole layout: the
	// manifests, image indexes and blobs below them (stored with the right
	// size; manifests and indexes verified against their digests, parsed,
	// of known media types and nested at most 32 deep; descriptors of one
	// digest agreeing on its size). Blobs other than manifests are not
	// hashed, blobs nothing reaches and temporary files are not looked
	// for, and the report counts nothing but Problems. Importers check
	// what they stored so before they Put its entries, so that they never
	// leave a layout that Check finds damaged.
	Roots []ocispec.Descriptor
}

// CheckReport is what Check found.
type CheckReport struct {
	// Problems are damage and breaches of the image-layout spec, sorted by
	// path, digest and kind. The layout is sound when there are none.
	Problems []Problem `json:"problems"`
	// Warnings are things that are not damage: unreferenced blobs, orphaned
	// referrers (both of which GC removes), temporary files, and subjects
	// that are not stored. Sorted like Problems.
	Warnings []Problem `json:"warnings"`
	// Manifests is how many distinct manifests and image indexes are
	// reachable from index.json.
	Manifests int `json:"manifests"`
	// Blobs is how many distinct blobs (manifests, indexes, configs and
	// layers) are reachable from index.json.
	Blobs int `json:"blobs"`
	// Bytes is the total size of those blobs, as their descriptors give it.
	Bytes int64 `json:"bytes"`
	// Tags is how many tags index.json has.
	Tags int `json:"tags"`
}

// OK reports whether Check found no problem. Warnings do not count.
func (r *CheckReport) OK() bool { return len(r.Problems) == 0 }

// Clean reports whether Check found neither a problem nor a warning.
func (r *CheckReport) Clean() bool { return len(r.Problems) == 0 && len(r.Warnings) == 0 }

// maxDepth bounds how deep image indexes may nest below index.json.
const maxDepth = graph.MaxDepth

// Check verifies the layout, as restic's `check` verifies a repository, and
// lists every problem it finds rather than stopping at the first:
//
//   - `oci-layout` exists and is version 1.0.0, and index.json parses, is
//     schemaVersion 2, and lists valid digests of known manifest media
//     types, each tag once;
//   - every manifest and image index reachable from index.json (through
//     nested indexes, and subjects) is stored, at most MaxManifestSize
//     bytes, hashes to its digest and parses;
//   - every blob they reference (configs, layers) is stored as a regular
//     file of the right size and, unless opts.SkipHash, hashes to its
//     digest; blobs are streamed through the hash, never loaded;
//   - everything in blobs/ is named blobs/<algorithm>/<encoded digest>.
//
// Those are Problems. Blobs that nothing kept references, orphaned
// referrers, subjects that are not stored, and leftover temporary files are
// Warnings: they are normal after `ocipack rm` and GC removes them.
//
// Check only reads and takes no lock: a pack running meanwhile may show as
// unreferenced blobs and temporary files, and a GC running meanwhile as
// missing blobs. It returns an error only when ctx is done, the layout
// directory cannot be read at all, or it is unsafe (ErrUnsafeLayout: Check
// never reads through a link in place of blobs/ or .ocipack/).
func (l *Layout) Check(ctx context.Context, opts CheckOptions) (*CheckReport, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.Roots != nil {
		problems, err := l.checkGraph(ctx, opts.Roots)
		if err != nil {
			return nil, err
		}
		return &CheckReport{Problems: problems}, nil
	}
	if _, err := os.Stat(l.root); err != nil {
		return nil, fmt.Errorf("check layout %s: %w", l.root, err)
	}
	if err := l.checkOwn(); err != nil {
		return nil, err
	}
	g := newGraph(l)
	g.checkLayoutFile()
	idx, ok := g.readIndexForCheck()
	rep := &CheckReport{}
	if ok {
		for _, e := range idx.Manifests {
			if e.Annotations[ocispec.AnnotationRefName] != "" {
				rep.Tags++
			}
		}
		if err := g.walk(ctx, idx); err != nil {
			return nil, err
		}
	}
	for _, n := range g.nodes {
		rep.Blobs++
		rep.Bytes += n.size
		if n.manifest {
			rep.Manifests++
		}
	}
	if !opts.SkipHash {
		if err := g.hashBlobs(ctx, opts.Progress); err != nil {
			return nil, err
		}
	}
	var live map[digest.Digest]bool
	orphaned := map[digest.Digest]bool{}
	if ok {
		var orphans []ocispec.Descriptor
		live, orphans = g.live(idx)
		for _, o := range orphans {
			orphaned[o.Digest] = true
			g.warn(ProblemOrphanedReferrer, o.Digest, ocispec.ImageIndexFile,
				fmt.Sprintf("untagged referrer of %s, which no tag or other entry keeps; gc removes the entry", g.nodes[o.Digest].subject))
		}
	}
	if err := g.scanBlobs(ctx, live, ok, orphaned); err != nil {
		return nil, err
	}
	for _, t := range l.tempFiles() {
		msg := "temporary file left by an interrupted write (or a write in progress); gc removes it"
		switch base := path.Base(t.rel); {
		case strings.HasPrefix(base, "partial-"):
			msg = "part of a blob an interrupted pull downloaded; the next pull continues it, gc removes it"
		case strings.HasPrefix(base, "upload-"):
			msg = "upload session an interrupted chunked push saved; the next push continues it, gc removes it"
		}
		g.warn(ProblemTempFile, "", t.rel, msg)
	}
	rep.Problems = sortProblems(g.problems)
	rep.Warnings = sortProblems(g.warnings)
	return rep, nil
}

// checkGraph is Check with opts.Roots: it returns the problems found
// under roots, sorted (none when the graph is sound), and an error only
// when ctx is done.
func (l *Layout) checkGraph(ctx context.Context, roots []ocispec.Descriptor) ([]Problem, error) {
	g := newGraph(l)
	idx := &ocispec.Index{}
	for i, d := range roots {
		if err := checkDescriptor(d); err != nil {
			g.problem(ProblemCorruptIndex, validOrEmpty(d.Digest), ocispec.ImageIndexFile, fmt.Sprintf("manifests[%d]: %v", i, err), true)
			continue
		}
		idx.Manifests = append(idx.Manifests, d)
	}
	if err := g.walk(ctx, idx); err != nil {
		return nil, err
	}
	return sortProblems(g.problems), nil
}

// checkLayoutFile checks oci-layout.
func (g *reachGraph) checkLayoutFile() {
	name := ocispec.ImageLayoutFile
	b, err := readFileLimited(filepath.Join(g.l.root, name), 1<<20)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			g.problem(ProblemBadLayoutFile, "", name, "missing: this is not an OCI image layout without it", false)
		} else {
			g.problem(ProblemBadLayoutFile, "", name, err.Error(), false)
		}
		return
	}
	var il ocispec.ImageLayout
	if err := json.Unmarshal(b, &il); err != nil {
		g.problem(ProblemBadLayoutFile, "", name, "not valid JSON: "+err.Error(), false)
		return
	}
	if il.Version != ocispec.ImageLayoutVersion {
		g.problem(ProblemBadLayoutFile, "", name, fmt.Sprintf("imageLayoutVersion %q, want %q", il.Version, ocispec.ImageLayoutVersion), false)
	}
}

// readIndexForCheck reads index.json, recording every problem with it, and
// returns its valid entries; ok is false when it cannot be read at all.
func (g *reachGraph) readIndexForCheck() (idx *ocispec.Index, ok bool) {
	name := ocispec.ImageIndexFile
	b, err := readFileLimited(filepath.Join(g.l.root, name), maxIndexFileSize)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			g.problem(ProblemBadLayoutFile, "", name, "missing", true)
		} else {
			g.problem(ProblemCorruptIndex, "", name, err.Error(), true)
		}
		return nil, false
	}
	idx = &ocispec.Index{}
	if err := json.Unmarshal(b, idx); err != nil {
		g.problem(ProblemCorruptIndex, "", name, "not valid JSON: "+err.Error(), true)
		return nil, false
	}
	if idx.SchemaVersion != 2 {
		g.problem(ProblemCorruptIndex, "", name, fmt.Sprintf("schemaVersion %d, want 2", idx.SchemaVersion), true)
	}
	if idx.MediaType != "" && idx.MediaType != graph.MediaTypeOCIIndex {
		g.problem(ProblemCorruptIndex, "", name, fmt.Sprintf("mediaType %q, want %q", idx.MediaType, graph.MediaTypeOCIIndex), true)
	}
	tags := map[string]int{}
	kept := idx.Manifests[:0]
	for i, d := range idx.Manifests {
		if err := checkDescriptor(d); err != nil {
			g.problem(ProblemCorruptIndex, validOrEmpty(d.Digest), name, fmt.Sprintf("manifests[%d]: %v", i, err), true)
			continue
		}
		if t := d.Annotations[ocispec.AnnotationRefName]; t != "" {
			if j, dup := tags[t]; dup {
				g.problem(ProblemCorruptIndex, d.Digest, name, fmt.Sprintf("manifests[%d]: tag %q is listed already in manifests[%d]", i, t, j), false)
			}
			tags[t] = i
		}
		kept = append(kept, d)
	}
	idx.Manifests = kept
	return idx, true
}

// validOrEmpty returns d if it is a valid digest, else "".
func validOrEmpty(d digest.Digest) digest.Digest {
	if d.Validate() != nil {
		return ""
	}
	return d
}

// checkDescriptor checks what a descriptor must have to be followed
// (graph.CheckDescriptor).
func checkDescriptor(d ocispec.Descriptor) error { return graph.CheckDescriptor(d) }

// hashBlobs hashes every stored, reachable blob that is not a manifest
// (those were verified when read), in digest order.
func (g *reachGraph) hashBlobs(ctx context.Context, progress func(done, total int64)) error {
	var todo []*gnode
	var total int64
	for _, n := range g.nodes {
		if n.stored && !n.manifest {
			todo = append(todo, n)
			total += n.size
		}
	}
	slices.SortFunc(todo, func(a, b *gnode) int { return strings.Compare(string(a.d), string(b.d)) })
	var done int64
	if progress != nil {
		progress(0, total)
	}
	buf := make([]byte, copyBufferSize)
	for _, n := range todo {
		got, err := hashFile(ctx, g.l.blobPath(n.d), n.d.Algorithm(), buf, func(k int) {
			done += int64(k)
			if progress != nil {
				progress(done, total)
			}
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			g.problem(ProblemUnreadable, n.d, blobRel(n.d), err.Error(), false)
			continue
		}
		if got != n.d {
			g.problem(ProblemDigest, n.d, blobRel(n.d), fmt.Sprintf("content hashes to %s (referenced by %s)", got, n.via), false)
		}
	}
	return nil
}

// hashFile streams the file at p through alg's hash.
func hashFile(ctx context.Context, p string, alg digest.Algorithm, buf []byte, onRead func(int)) (digest.Digest, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := alg.Hash()
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		k, err := f.Read(buf)
		if k > 0 {
			h.Write(buf[:k])
			onRead(k)
		}
		if err == io.EOF {
			return digest.NewDigest(alg, h), nil
		}
		if err != nil {
			return "", err
		}
	}
}

// scanBlobs lists blobs/: names that are not blobs are problems; blobs that
// are not live (what GC would remove) are warnings, when live is known.
func (g *reachGraph) scanBlobs(ctx context.Context, live map[digest.Digest]bool, liveKnown bool, orphaned map[digest.Digest]bool) error {
	blobs := filepath.Join(g.l.root, ocispec.ImageBlobsDir)
	algs, err := os.ReadDir(blobs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			g.problem(ProblemBadLayoutFile, "", ocispec.ImageBlobsDir, "the blobs directory is missing", false)
			return nil
		}
		g.problem(ProblemUnreadable, "", ocispec.ImageBlobsDir, err.Error(), false)
		return nil
	}
	note := ""
	if len(g.blockers) > 0 {
		note = " (some manifests could not be read, so it may be referenced after all)"
	}
	for _, a := range algs {
		if err := ctx.Err(); err != nil {
			return err
		}
		rel := path.Join(ocispec.ImageBlobsDir, a.Name())
		alg := digest.Algorithm(a.Name())
		if !a.IsDir() {
			g.problem(ProblemBadName, "", rel, "a file directly in blobs/, which holds only one directory per digest algorithm", false)
			continue
		}
		if !alg.Available() {
			g.problem(ProblemBadName, "", rel, fmt.Sprintf("%q is not a digest algorithm ocipack knows", a.Name()), false)
			continue
		}
		entries, err := os.ReadDir(filepath.Join(blobs, a.Name()))
		if err != nil {
			g.problem(ProblemUnreadable, "", rel, err.Error(), false)
			continue
		}
		for _, e := range entries {
			erel := path.Join(rel, e.Name())
			d := digest.NewDigestFromEncoded(alg, e.Name())
			if err := graph.ValidateDigest(d); err != nil {
				g.problem(ProblemBadName, "", erel, fmt.Sprintf("%q is not a %s digest", e.Name(), alg), false)
				continue
			}
			if !liveKnown || live[d] {
				continue
			}
			if e.IsDir() {
				g.problem(ProblemNotRegular, d, erel, "a directory where a blob would be", false)
				continue
			}
			detail := "nothing reachable from index.json references it; gc removes it"
			if n := g.nodes[d]; orphaned[d] {
				detail = fmt.Sprintf("an untagged referrer of %s, which no tag or other entry keeps; gc removes it", n.subject)
			} else if n != nil {
				detail = fmt.Sprintf("reachable only through referrers whose subject no tag keeps (first as the %s); gc removes it", n.via)
			}
			g.warn(ProblemUnreferenced, d, erel, detail+note)
		}
	}
	return nil
}

// tempFile is a leftover temporary file.
type tempFile struct {
	rel  string // relative to the layout, with forward slashes
	size int64
}

// tempFiles lists what is in .ocipack/tmp and the temporary files that
// writeFileAtomic leaves beside index.json and oci-layout if interrupted.
func (l *Layout) tempFiles() []tempFile {
	var out []tempFile
	tmpRel := path.Join(WorkDir, tmpName)
	if entries, err := os.ReadDir(filepath.Join(l.root, WorkDir, tmpName)); err == nil {
		for _, e := range entries {
			out = append(out, tempFile{rel: path.Join(tmpRel, e.Name()), size: entrySize(e)})
		}
	}
	if entries, err := os.ReadDir(l.root); err == nil {
		for _, e := range entries {
			n := e.Name()
			if !e.IsDir() && (strings.HasPrefix(n, "."+ocispec.ImageIndexFile+".tmp-") ||
				strings.HasPrefix(n, "."+ocispec.ImageLayoutFile+".tmp-")) {
				out = append(out, tempFile{rel: n, size: entrySize(e)})
			}
		}
	}
	return out
}

func entrySize(e fs.DirEntry) int64 {
	if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
		return fi.Size()
	}
	return 0
}

// sortProblems sorts problems by path, digest, kind and detail, dropping
// duplicates.
func sortProblems(ps []Problem) []Problem {
	slices.SortFunc(ps, func(a, b Problem) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		if c := strings.Compare(string(a.Digest), string(b.Digest)); c != 0 {
			return c
		}
		if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
			return c
		}
		return strings.Compare(a.Detail, b.Detail)
	})
	ps = slices.Compact(ps)
	if ps == nil {
		ps = []Problem{}
	}
	return ps
}

// blobRel is a blob's path relative to the layout, with forward slashes.
func blobRel(d digest.Digest) string {
	return path.Join(ocispec.ImageBlobsDir, d.Algorithm().String(), d.Encoded())
}

// readFileLimited reads the file at p, failing if it holds more than limit
// bytes.
func readFileLimited(p string, limit int64) ([]byte, error) {
	// A fifo would block Open; a symlink may point anywhere.
	if fi, err := os.Lstat(p); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is a %v, not a regular file", p, fi.Mode().Type())
	}
	return openAndReadLimited(p, limit)
}

// openAndReadLimited reads the file at p, which the caller saw is a regular
// file, failing if it holds more than limit bytes.
func openAndReadLimited(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Refuse an absurd size before reading (and allocating) a byte of it.
	if fi, err := f.Stat(); err == nil && fi.Size() > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, limit)
	}
	return b, nil
}
