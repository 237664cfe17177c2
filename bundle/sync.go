package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.yaml.in/yaml/v3"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/ocipack/ocipack/graph"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
	"github.com/ocipack/ocipack/transfer"
)

// Status says what Sync did to an entry.
type Status string

// The statuses of an EntryResult.
const (
	Added     Status = "added"
	Updated   Status = "updated"
	Unchanged Status = "unchanged"
	Pruned    Status = "pruned"
)

// Options says how Sync runs.
type Options struct {
	// Transfer reaches registries and URLs (Connection, Retry,
	// Concurrency, Resume, Referrers). Its Platforms are the default of
	// images that name none; its OnEvent is told about each blob. With its
	// Policy, each image and OCI chart (what comes from a registry) is
	// pulled with its referrers and must carry a valid signature before it
	// is tagged (see transfer.Options.Policy), also when it did not change
	// since the last sync; a refused entry stops the sync, named, and
	// keeps what the layout had under its name. Files and charts packed
	// here (local paths, URLs, chart repositories) carry no upstream
	// signature and are not checked.
	Transfer transfer.Options
	// Locked fetches exactly what the lock file names, and fails before
	// fetching anything when the bundle file and the lock disagree. The
	// lock file is not written.
	Locked bool
	// Prune untags the entries Sync added earlier that the bundle file no
	// longer lists (recorded in the lock).
	Prune bool
	// SourceDateEpoch is the creation time packed files and charts
	// record; nil means the Unix epoch, so that the same input packs to
	// the same digest.
	SourceDateEpoch *time.Time
	// OnEntry, when set, is told when an entry starts (Status "") and when
	// it is done.
	OnEntry func(EntryResult)
}

// EntryResult is what Sync did to one entry.
type EntryResult struct {
	// Name is the entry's name in the layout.
	Name string `json:"name"`
	// Kind is image, chart or file.
	Kind Kind `json:"kind"`
	// Line is the entry's line in the bundle file (0 for a pruned one).
	Line int `json:"line,omitempty"`
	// Digest is its manifest digest in the layout.
	Digest string `json:"digest"`
	// Size is the size of its graph in the layout, in bytes.
	Size int64 `json:"size"`
	// Status says whether it was added, updated, unchanged or pruned.
	Status Status `json:"status"`
	// Bytes is the number of bytes transferred for it (received from a
	// registry or downloaded).
	Bytes int64 `json:"bytes"`
}

// Result is what Sync did.
type Result struct {
	// Entries are the bundle's entries in the file's order, then the
	// pruned ones.
	Entries []EntryResult
	// Lock is the lock as written (or, with Locked, as read).
	Lock *Lock
}

// Sync fills the layout l from the bundle file f: each entry is resolved
// (a registry tag with a HEAD request, a file by its sha256), compared with
// the lock file beside f (see LockPath) and with l, and fetched and stored
// only when it changed. It writes the lock, also after a failure (then
// with the entries done so far), unless opts.Locked. An entry is tagged
// only once all of its content is stored, so a failure half way leaves
// every entry l had as it was; the error names the entry's file and line.
func Sync(ctx context.Context, f *File, l *layout.Layout, opts Options) (*Result, error) {
	lockPath := LockPath(f.Path)
	old, err := ReadLock(lockPath)
	if err != nil {
		return nil, err
	}
	s := &syncer{f: f, l: l, opts: opts, old: old}
	// Chart repositories first: a version no repository has fails before
	// anything is fetched.
	todo, err := s.resolveCharts(ctx, lockPath)
	if err != nil {
		return nil, err
	}
	if opts.Locked {
		if err := s.checkLocked(todo, lockPath); err != nil {
			return nil, err
		}
	}
	res := &Result{}
	next := &Lock{Version: LockVersion}
	var runErr error
	done := 0
	for i := 0; i < len(todo); i++ {
		e := todo[i]
		if opts.OnEntry != nil {
			opts.OnEntry(EntryResult{Name: e.Name, Kind: e.Kind, Line: e.Line})
		}
		le, er, err := s.entry(ctx, e)
		if err != nil {
			runErr = fmt.Errorf("%s: %s %s: %w", e.Where(f.Path), e.Kind, e.Name, err)
			// What was locked for this entry stays locked.
			if prev := old.find(e.Name); prev != nil && prev.Source == le.Source {
				next.Entries = append(next.Entries, *prev)
			}
			break
		}
		done = i + 1
		next.Entries = append(next.Entries, le)
		res.Entries = append(res.Entries, er)
		if opts.OnEntry != nil {
			opts.OnEntry(er)
		}
		if e.Images {
			more, err := s.chartImages(ctx, e, todo)
			if err != nil {
				runErr = fmt.Errorf("%s: %s %s: %w", e.Where(f.Path), e.Kind, e.Name, err)
				break
			}
			todo = slices.Insert(todo, i+1, more...)
		}
	}
	listed := map[string]bool{}
	for _, e := range todo {
		listed[e.Name] = true
	}
	if runErr != nil {
		// Entries not reached keep their old lock, and so do the images of
		// charts not reached.
		for _, e := range todo[done:] {
			if prev := old.find(e.Name); prev != nil && next.find(e.Name) == nil {
				next.Entries = append(next.Entries, *prev)
			}
		}
		for _, le := range old.Entries {
			if le.Chart != "" && listed[le.Chart] && next.find(le.Name) == nil {
				next.Entries = append(next.Entries, le)
				listed[le.Name] = true
			}
		}
	}
	// Entries sync added before that the file no longer lists.
	for _, le := range append(slices.Clone(old.Entries), old.Stale...) {
		if listed[le.Name] || next.findStale(le.Name) {
			continue
		}
		if opts.Prune && runErr == nil {
			if d, err := l.Resolve(ctx, le.Name); err == nil && d.Digest.String() == le.Digest {
				if err := l.Untag(ctx, le.Name); err != nil {
					runErr = fmt.Errorf("prune %s: %w", le.Name, err)
					next.Stale = append(next.Stale, le)
					continue
				}
			}
			er := EntryResult{Name: le.Name, Kind: le.Kind, Digest: le.Digest, Size: le.Size, Status: Pruned}
			res.Entries = append(res.Entries, er)
			if opts.OnEntry != nil {
				opts.OnEntry(er)
			}
			continue
		}
		next.Stale = append(next.Stale, le)
	}
	res.Lock = next
	if opts.Locked {
		res.Lock = old
		return res, runErr
	}
	if err := next.Write(lockPath); err != nil && runErr == nil {
		runErr = err
	}
	return res, runErr
}

// resolveCharts returns the bundle's entries with every chart of a chart
// repository resolved to a version (from the repository's index, or with
// Locked from the lock) and named after it.
func (s *syncer) resolveCharts(ctx context.Context, lockPath string) ([]Entry, error) {
	todo := slices.Clone(s.f.Entries)
	indexes := map[string]*repoIndex{}
	for i := range todo {
		e := &todo[i]
		if e.Repo == "" {
			continue
		}
		var pick chartPick
		if s.opts.Locked {
			le := s.old.findSource(source(*e, nil))
			if le == nil {
				return nil, fmt.Errorf("%w: %s: chart %s %s of %s is not in the lock file %s", ErrInvalid, e.Where(s.f.Path), e.ChartName, e.Version, redact(e.Repo), lockPath)
			}
			pick = chartPick{version: le.Version, url: withUser(le.URL, e.Repo), digest: strings.TrimPrefix(le.Resolved, "sha256:")}
		} else {
			key, err := IndexURL(e.Repo)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, e.Where(s.f.Path), err)
			}
			idx := indexes[key]
			if idx == nil {
				if idx, err = s.fetchIndex(ctx, e.Repo); err != nil {
					return nil, fmt.Errorf("%s: chart %s: %w", e.Where(s.f.Path), e.ChartName, err)
				}
				indexes[key] = idx
			}
			if pick, err = pickVersion(idx, e.Repo, e.ChartName, e.Version); err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, e.Where(s.f.Path), err)
			}
		}
		name, err := RepoChartName(e.Repo, e.ChartName, pick.version)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, e.Where(s.f.Path), err)
		}
		e.Name, e.pick = name, &pick
	}
	seen := map[string]int{}
	for _, e := range todo {
		if prev, ok := seen[e.Name]; ok {
			return nil, fmt.Errorf("%w: %s: %s is named %s, as the entry of line %d is", ErrInvalid, e.Where(s.f.Path), e.Kind, e.Name, prev)
		}
		seen[e.Name] = e.Line
	}
	return todo, nil
}

// ImagesAnnotation is the Chart.yaml annotation that lists a chart's
// images (Artifact Hub's): a YAML list of {name, image, platforms}.
const ImagesAnnotation = "artifacthub.io/images"

// chartImages returns the image entries for the images the chart of the
// entry c lists in its ImagesAnnotation, read from the chart as stored in
// the layout; images todo already has are left out.
func (s *syncer) chartImages(ctx context.Context, c Entry, todo []Entry) ([]Entry, error) {
	d, err := s.l.Resolve(ctx, c.Name)
	if err != nil {
		return nil, err
	}
	var m ocispec.Manifest
	if err := s.fetchJSON(ctx, d, &m); err != nil {
		return nil, fmt.Errorf("read the chart's manifest: %w", err)
	}
	var meta pack.HelmMetadata
	if err := s.fetchJSON(ctx, m.Config, &meta); err != nil {
		return nil, fmt.Errorf("read the chart's Chart.yaml: %w", err)
	}
	list := meta.Annotations[ImagesAnnotation]
	if list == "" {
		return nil, nil
	}
	var imgs []struct {
		Name      string   `yaml:"name"`
		Image     string   `yaml:"image"`
		Platforms []string `yaml:"platforms"`
	}
	if err := yaml.Unmarshal([]byte(list), &imgs); err != nil {
		return nil, fmt.Errorf("the chart's %s annotation: %v", ImagesAnnotation, err)
	}
	have := map[string]bool{}
	for _, e := range todo {
		have[e.Name] = true
	}
	var out []Entry
	for _, im := range imgs {
		name, err := layout.FullName(im.Image)
		if err != nil {
			return nil, fmt.Errorf("the chart's %s annotation: image %q: %w", ImagesAnnotation, im.Image, err)
		}
		if _, err := transfer.ParseReference(name); err != nil {
			return nil, fmt.Errorf("the chart's %s annotation: image %q: %w", ImagesAnnotation, im.Image, err)
		}
		if have[name] {
			continue
		}
		have[name] = true
		e := Entry{Kind: KindImage, Line: c.Line, Name: name, Ref: name, ImagesOf: c.Name}
		if len(im.Platforms) > 0 {
			if e.Platforms, err = graph.ParsePlatforms(im.Platforms); err != nil {
				return nil, fmt.Errorf("the chart's %s annotation: image %q: %w", ImagesAnnotation, im.Image, err)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// fetchJSON reads the small JSON blob d of the layout into v.
func (s *syncer) fetchJSON(ctx context.Context, d ocispec.Descriptor, v any) error {
	if d.Size > 4<<20 {
		return fmt.Errorf("%s is %d bytes, too large", d.Digest, d.Size)
	}
	rc, err := s.l.Fetch(ctx, d)
	if err != nil {
		return err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, d.Size+1))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func (l *Lock) findStale(name string) bool {
	for _, e := range l.Stale {
		if e.Name == name {
			return true
		}
	}
	return false
}

type syncer struct {
	f    *File
	l    *layout.Layout
	opts Options
	old  *Lock
}

// platforms are the platforms e is limited to.
func (s *syncer) platforms(e Entry) []ocispec.Platform {
	if e.Kind != KindImage {
		return nil
	}
	if len(e.Platforms) > 0 {
		return e.Platforms
	}
	return s.opts.Transfer.Platforms
}

// checkLocked fails when the bundle file (its entries todo) and its lock
// disagree.
func (s *syncer) checkLocked(todo []Entry, lockPath string) error {
	if len(s.old.Entries) == 0 {
		return fmt.Errorf("%w: --locked: no lock file %s (run sync without --locked to write it)", ErrInvalid, lockPath)
	}
	listed := map[string]bool{}
	for _, e := range todo {
		listed[e.Name] = true
		le := s.old.find(e.Name)
		if le == nil {
			return fmt.Errorf("%w: %s: %s %s is not in the lock file %s", ErrInvalid, e.Where(s.f.Path), e.Kind, e.Name, lockPath)
		}
		if src := source(e, s.platforms(e)); src != le.Source {
			return fmt.Errorf("%w: %s: %s %s is %s, the lock file %s says %s", ErrInvalid, e.Where(s.f.Path), e.Kind, e.Name, src, lockPath, le.Source)
		}
	}
	for _, le := range s.old.Entries {
		if !listed[le.Name] && !listed[le.Chart] {
			return fmt.Errorf("%w: the lock file %s has %s, which %s does not list", ErrInvalid, lockPath, le.Name, s.f.Path)
		}
	}
	return nil
}

// entry syncs one entry. The LockEntry has the Source even on failure.
func (s *syncer) entry(ctx context.Context, e Entry) (LockEntry, EntryResult, error) {
	le := LockEntry{Name: e.Name, Kind: e.Kind, Source: source(e, s.platforms(e)), Chart: e.ImagesOf}
	er := EntryResult{Name: e.Name, Kind: e.Kind, Line: e.Line}
	prev := s.old.find(e.Name)
	if prev != nil && prev.Source != le.Source {
		prev = nil
	}
	if s.opts.Locked && prev == nil {
		return le, er, fmt.Errorf("%w: not in the lock file %s as %s", ErrInvalid, LockPath(s.f.Path), le.Source)
	}
	if e.pick != nil {
		le.Version, le.URL = e.pick.version, redact(e.pick.url)
	}
	// What the layout has under the name now.
	var have ocispec.Descriptor
	if d, err := s.l.Resolve(ctx, e.Name); err == nil && layout.EntryName(d) == e.Name {
		have = d
	} else if err != nil && !errors.Is(err, layout.ErrNotFound) {
		return le, er, err
	}
	var err error
	switch {
	case s.opts.Locked:
		le.Resolved = prev.Resolved
	case e.pick != nil && e.pick.digest != "":
		le.Resolved = "sha256:" + e.pick.digest
	case e.pick != nil:
		// No digest in the index: the same version at the same URL is
		// taken to be the same chart.
		if prev != nil && prev.Version == le.Version && prev.URL == le.URL {
			le.Resolved = prev.Resolved
		}
	case e.Ref != "":
		le.Resolved, err = s.resolve(ctx, e.Ref)
	case e.URL != "":
		le.Resolved = "sha256:" + e.SHA256
	default:
		le.Resolved, err = inputDigest(e.Path)
	}
	if err != nil {
		return le, er, err
	}
	if s.opts.Locked && e.Path != "" {
		d, err := inputDigest(e.Path)
		if err != nil {
			return le, er, err
		}
		if d != le.Resolved {
			return le, er, fmt.Errorf("%s is %s now, the lock file says %s", e.Path, d, le.Resolved)
		}
	}
	// With a signature policy, what comes from a registry is pulled again
	// (blobs the layout has are skipped) with its signatures, and checked.
	recheck := s.opts.Transfer.Policy != nil && e.Ref != ""
	if !recheck && prev != nil && le.Resolved != "" && prev.Resolved == le.Resolved && prev.Version == le.Version && prev.URL == le.URL && have.Digest.String() == prev.Digest {
		if ok, err := s.l.Exists(ctx, have); err == nil && ok {
			le.Digest, le.Size = prev.Digest, prev.Size
			er.Digest, er.Size, er.Status = prev.Digest, prev.Size, Unchanged
			return le, er, nil
		}
	}
	var root ocispec.Descriptor
	switch {
	case e.Ref != "":
		src, err := transfer.ParseReference(e.Ref)
		if err != nil {
			return le, er, err
		}
		src.Reference = le.Resolved // exactly what was resolved (or locked)
		opts := s.opts.Transfer
		opts.Platforms = s.platforms(e)
		r, err := transfer.Pull(ctx, src, s.l, e.Name, opts)
		if err != nil {
			return le, er, err
		}
		root, er.Bytes = r.Manifest, r.Bytes
	case e.pick != nil:
		want, from := e.pick.digest, "the repository's index.yaml"
		if s.opts.Locked {
			want, from = strings.TrimPrefix(le.Resolved, "sha256:"), "the lock file"
		}
		var got string
		var err error
		root, er.Bytes, got, err = s.download(ctx, e.pick.url, want, from, func(file string) (*pack.Result, error) {
			return pack.PackHelm(ctx, s.l, e.Name, file, s.packOptions())
		})
		if err != nil {
			return le, er, err
		}
		le.Resolved = "sha256:" + got
	case e.URL != "":
		var err error
		root, er.Bytes, _, err = s.download(ctx, e.URL, e.SHA256, "the bundle file", func(file string) (*pack.Result, error) {
			return pack.Pack(ctx, s.l, e.Name, []pack.Input{{Path: file}}, s.packOptions())
		})
		if err != nil {
			return le, er, err
		}
	case e.Helm:
		r, err := s.packChart(ctx, e)
		if err != nil {
			return le, er, err
		}
		root = r.Manifest
	default:
		r, err := pack.Pack(ctx, s.l, e.Name, []pack.Input{{Path: e.Path}}, s.packOptions())
		if err != nil {
			return le, er, err
		}
		root = r.Manifest
	}
	if s.opts.Locked && prev.Digest != "" && root.Digest.String() != prev.Digest {
		return le, er, fmt.Errorf("stored as %s, the lock file says %s", root.Digest, prev.Digest)
	}
	st, err := graph.Count(ctx, s.l, graph.Walker{}, root)
	if err != nil {
		return le, er, err
	}
	le.Digest, le.Size = root.Digest.String(), st.Bytes
	er.Digest, er.Size, er.Status = le.Digest, le.Size, Added
	if have.Digest != "" {
		er.Status = Updated
		if have.Digest == root.Digest {
			er.Status = Unchanged
		}
	}
	return le, er, nil
}

// resolve returns the manifest digest ref names: its digest, or its tag
// resolved with a HEAD request.
func (s *syncer) resolve(ctx context.Context, ref string) (string, error) {
	r, err := transfer.ParseReference(ref)
	if err != nil {
		return "", err
	}
	if d, err := r.Digest(); err == nil {
		return d.String(), nil
	}
	repo, err := transfer.NewRepository(r, s.opts.Transfer.Connection)
	if err != nil {
		return "", err
	}
	defer func() {
		if ac, ok := repo.Client.(*auth.Client); ok && ac.Client != nil {
			ac.Client.CloseIdleConnections()
		}
	}()
	d, err := repo.Resolve(ctx, r.Reference)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", ref, err)
	}
	return d.Digest.String(), nil
}

func (s *syncer) packOptions() pack.Options {
	sde := s.opts.SourceDateEpoch
	if sde == nil {
		t := time.Unix(0, 0).UTC()
		sde = &t
	}
	return pack.Options{SourceDateEpoch: sde}
}

// ErrDigestMismatch is wrapped by the error of a download whose sha256 is
// not the one the bundle file gives.
var ErrDigestMismatch = errors.New("sha256 mismatch")

// download fetches rawURL into a temporary directory, under the URL's
// base name, checks its sha256 against want (hex; "" checks nothing; it
// comes from wantFrom: "the bundle file", "the lock file"…), and
// hands the file to store (which packs it into the layout). It returns the
// manifest store stored, the number of bytes received and the file's
// sha256 (hex).
func (s *syncer) download(ctx context.Context, rawURL, want, wantFrom string, store func(file string) (*pack.Result, error)) (m ocispec.Descriptor, n int64, got string, err error) {
	shown := redact(rawURL)
	hc, err := s.opts.Transfer.Connection.HTTPClient()
	if err != nil {
		return m, 0, "", err
	}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return m, 0, "", err
	}
	req.Header.Set("User-Agent", s.userAgent())
	resp, err := hc.Do(req)
	if err != nil {
		return m, 0, "", fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return m, 0, "", fmt.Errorf("download %s: %s", shown, resp.Status)
	}
	dir, err := os.MkdirTemp("", "ocipack-sync-*")
	if err != nil {
		return m, 0, "", err
	}
	defer os.RemoveAll(dir)
	base := "download"
	if u, err := url.Parse(rawURL); err == nil {
		if b := path.Base(u.Path); b != "" && b != "/" && b != "." && b != ".." {
			base = b
		}
	}
	name := filepath.Join(dir, base)
	out, err := os.Create(name)
	if err != nil {
		return m, 0, "", err
	}
	h := sha256.New()
	n, err = io.Copy(io.MultiWriter(out, h), resp.Body)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return m, n, "", fmt.Errorf("download %s: %w", shown, err)
	}
	got = hex.EncodeToString(h.Sum(nil))
	if want != "" && got != want {
		return m, n, got, fmt.Errorf("%w: %s has sha256 %s, %s says %s", ErrDigestMismatch, shown, got, wantFrom, want)
	}
	r, err := store(name)
	if err != nil {
		return m, n, got, err
	}
	return r.Manifest, n, got, nil
}

// packChart stores the local chart of e: a packaged chart as it is, a
// chart directory packaged as `helm package` packages it (see
// pack.PackageHelmDir), dated SourceDateEpoch.
func (s *syncer) packChart(ctx context.Context, e Entry) (*pack.Result, error) {
	opts := s.packOptions()
	fi, err := os.Stat(e.Path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return pack.PackHelm(ctx, s.l, e.Name, e.Path, opts)
	}
	dir, err := os.MkdirTemp("", "ocipack-chart-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	tgz := filepath.Join(dir, "chart.tgz")
	out, err := os.Create(tgz)
	if err != nil {
		return nil, err
	}
	_, err = pack.PackageHelmDir(ctx, e.Path, out, *opts.SourceDateEpoch)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return pack.PackHelm(ctx, s.l, e.Name, tgz, opts)
}

// inputDigest is the sha256 of the file at p, or of the tree of the
// directory at p (see treeDigest).
func inputDigest(p string) (string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if fi.IsDir() {
		return treeDigest(p)
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	d, err := digest.SHA256.FromReader(f)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	return d.String(), nil
}

// treeDigest is the sha256 of a listing of the tree at dir: for each entry,
// in lexical order, its slash-separated path, its type and permission
// bits, and its content's sha256 (a file) or its target (a symlink). It
// changes when anything that packing the tree stores changes (but mtimes,
// which pack does not keep by default).
func treeDigest(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%q %s", filepath.ToSlash(rel), fi.Mode().String())
		switch {
		case fi.Mode().IsRegular():
			sum, err := inputDigest(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, " %s", sum)
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, " %q", t)
		}
		h.Write([]byte{'\n'})
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("read %s: %w", dir, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
