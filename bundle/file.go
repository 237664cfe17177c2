// Package bundle fills a layout from a declarative bundle file: container
// images from registries (optionally only some platforms), Helm charts
// (from an OCI registry, a classic chart repository, a local packaged chart
// or a chart directory) and files (local, or
// downloaded and checked against a sha256), each stored under one name.
// Sync writes a lock file beside the bundle file that records what every
// entry resolved to, so that a second run transfers only what changed and
// a run with Locked fetches exactly what the lock names.
//
// A bundle file looks like this:
//
//	images:
//	  - ref: registry.example/library/nginx:1.27   # a tag or @sha256:…
//	    platforms: [linux/amd64, linux/arm64]      # optional; default all
//	charts:
//	  - ref: oci://registry.example/charts/podinfo # a chart in an OCI registry
//	    version: 6.7.0
//	  - repo: https://charts.example/stable        # a classic chart repository
//	    name: podinfo
//	    version: ^6.7.0                            # exact, or a semver range
//	    images: true                               # and the images it lists
//	  - path: ./charts/mychart-1.0.0.tgz           # a packaged local chart
//	  - path: ./charts/mychart                     # a chart directory
//	files:
//	  - path: ./install.sh                         # a file or directory
//	    name: tools/install:1.0
//	  - url: https://downloads.example/tool-1.0.tar.gz
//	    sha256: 9f86d081…
//	    name: tools/tool:1.0
package bundle

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.yaml.in/yaml/v3"

	"github.com/Masterminds/semver/v3"

	"github.com/ocipack/ocipack/graph"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
	"github.com/ocipack/ocipack/transfer"
)

// ErrInvalid is wrapped by every error about the content of a bundle file
// or its lock: an unknown key, a missing or malformed value, a path that
// does not exist, a lock that disagrees with the file.
var ErrInvalid = errors.New("invalid bundle")

// ErrUnsupported is wrapped by the error about a part of the bundle format
// that this version parses but does not carry out. Every part of the
// format is carried out now; it is kept for callers that test for it.
var ErrUnsupported = errors.New("not supported yet")

// LocalHost is the registry part of the full names given to entries that
// come from no registry (local charts, and files whose name has no
// registry): charts/NAME:VERSION is stored as bundle.local/charts/NAME:VERSION.
// No registry answers to it; `push --mirror` drops it like any source host.
const LocalHost = "bundle.local"

// Kind says what an entry is.
type Kind string

// The kinds of Entry.
const (
	KindImage Kind = "image"
	KindChart Kind = "chart"
	KindFile  Kind = "file"
)

// Entry is one item of a bundle file.
type Entry struct {
	// Kind is image, chart or file.
	Kind Kind
	// Line is the line of the bundle file the item starts on.
	Line int
	// Name is the entry's name in the layout (a full name, see
	// layout.IsFullName, or a plain tag for a file named by one).
	Name string
	// Ref is the registry reference to pull (images and OCI charts), with
	// its tag or digest: "registry.example/app:v1".
	Ref string
	// Platforms limits an image index to these platforms (empty: all).
	Platforms []ocispec.Platform
	// Path is a local file, directory or packaged chart (absolute).
	Path string
	// PathAsWritten is Path as the bundle file writes it (relative to
	// the bundle file's directory, or absolute), with forward slashes:
	// what the lock file records, so that it means the same on every
	// machine that checks the bundle out.
	PathAsWritten string
	// URL is a file to download; SHA256 is its expected digest (hex).
	URL, SHA256 string
	// Helm is true for a chart.
	Helm bool
	// Repo is the URL of the classic chart repository (index.yaml) a chart
	// comes from, ChartName its name there, and Version the version asked
	// for: exact, or a semver range (Helm's, Masterminds/semver).
	Repo, ChartName, Version string
	// Images adds the images a chart's Chart.yaml lists in its
	// artifacthub.io/images annotation as image entries.
	Images bool
	// ImagesOf is, for an image a chart lists, the name of the chart's
	// entry ("" for an image of the bundle file).
	ImagesOf string

	// pick is what a chart repository entry resolved to (set by Sync).
	pick *chartPick
}

// Where returns "FILE:LINE" of the entry in the bundle file file.
func (e Entry) Where(file string) string { return fmt.Sprintf("%s:%d", file, e.Line) }

// File is a parsed bundle file.
type File struct {
	// Path is the bundle file's path.
	Path string
	// Entries are its items: images, then charts, then files, each in the
	// file's order.
	Entries []Entry
}

// Load reads and checks the bundle file at path. Relative paths in it are
// relative to the file's directory. Nothing is fetched: every error names
// the file and line, and wraps ErrInvalid.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bundle file: %w", err)
	}
	return Parse(path, b)
}

// Parse checks the bundle file named name, of content b (see Load).
func Parse(name string, b []byte) (*File, error) {
	p := parser{file: name, dir: filepath.Dir(name)}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if err.Error() == "EOF" {
			return nil, fmt.Errorf("%w: %s: empty bundle file", ErrInvalid, name)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, p.errf(root, "a bundle file is a mapping of images, charts and files")
	}
	f := &File{Path: name}
	seen := map[string]int{}
	err := p.each(root, map[string]func(*yaml.Node) error{
		"images": func(n *yaml.Node) error { return p.list(n, "images", p.image, f) },
		"charts": func(n *yaml.Node) error { return p.list(n, "charts", p.chart, f) },
		"files":  func(n *yaml.Node) error { return p.list(n, "files", p.fileItem, f) },
	})
	if err != nil {
		return nil, err
	}
	for _, e := range f.Entries {
		if prev, ok := seen[e.Name]; ok {
			return nil, fmt.Errorf("%w: %s: %s is named %s, as the entry of line %d is", ErrInvalid, e.Where(name), e.Kind, e.Name, prev)
		}
		seen[e.Name] = e.Line
	}
	if len(f.Entries) == 0 {
		return nil, fmt.Errorf("%w: %s: the bundle lists no images, charts or files", ErrInvalid, name)
	}
	return f, nil
}

type parser struct {
	file, dir string
}

func (p *parser) errf(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%w: %s:%d: %s", ErrInvalid, p.file, n.Line, fmt.Sprintf(format, args...))
}

// each calls the handler of every key of the mapping n; a key without one
// is an error naming its line.
func (p *parser) each(n *yaml.Node, keys map[string]func(*yaml.Node) error) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		h, ok := keys[k.Value]
		if !ok {
			known := make([]string, 0, len(keys))
			for name := range keys {
				known = append(known, name)
			}
			slices.Sort(known)
			return p.errf(k, "unknown key %q (known here: %s)", k.Value, strings.Join(known, ", "))
		}
		if err := h(v); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) list(n *yaml.Node, what string, item func(*yaml.Node) (Entry, error), f *File) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return p.errf(n, "%s is a list of items (- ...)", what)
	}
	for _, it := range n.Content {
		if it.Kind != yaml.MappingNode {
			return p.errf(it, "an item of %s is a mapping (ref: ..., path: ...)", what)
		}
		e, err := item(it)
		if err != nil {
			return err
		}
		e.Line = it.Line
		f.Entries = append(f.Entries, e)
	}
	return nil
}

// scalar stores the string value of n in *s.
func (p *parser) scalar(s *string, lines *int) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if n.Kind != yaml.ScalarNode || n.Value == "" {
			return p.errf(n, "give a value")
		}
		*s = n.Value
		if lines != nil {
			*lines = n.Line
		}
		return nil
	}
}

func (p *parser) image(n *yaml.Node) (Entry, error) {
	e := Entry{Kind: KindImage}
	var refLine int
	var plats *yaml.Node
	err := p.each(n, map[string]func(*yaml.Node) error{
		"ref":       p.scalar(&e.Ref, &refLine),
		"platforms": func(v *yaml.Node) error { plats = v; return nil },
	})
	if err != nil {
		return e, err
	}
	if e.Ref == "" {
		return e, p.errf(n, "an image needs a ref: REGISTRY/REPO:TAG or @sha256:…")
	}
	if ref, err := transfer.ParseReference(e.Ref); err == nil && ref.Reference == "" {
		return e, p.errf(at(n, refLine), "ref %q names no tag or digest: write %s:TAG or %s@sha256:…", e.Ref, e.Ref, e.Ref)
	}
	name, err := layout.FullName(e.Ref)
	if err != nil {
		return e, p.errf(at(n, refLine), "ref %q: %v", e.Ref, err)
	}
	// Pulled by its full name: nginx:1.27 from docker.io/library/nginx.
	if _, err := transfer.ParseReference(name); err != nil {
		return e, p.errf(at(n, refLine), "ref %q: %v", e.Ref, err)
	}
	e.Name, e.Ref = name, name
	if plats != nil {
		switch plats.Kind {
		case yaml.SequenceNode:
			for _, v := range plats.Content {
				if v.Kind != yaml.ScalarNode {
					return e, p.errf(v, "a platform is OS/ARCH[/VARIANT]")
				}
				ps, err := graph.ParsePlatforms([]string{v.Value})
				if err != nil {
					return e, p.errf(v, "platform %q: %v", v.Value, err)
				}
				e.Platforms = append(e.Platforms, ps...)
			}
		case yaml.ScalarNode:
			ps, err := graph.ParsePlatforms([]string{plats.Value})
			if err != nil {
				return e, p.errf(plats, "platforms %q: %v", plats.Value, err)
			}
			e.Platforms = ps
		default:
			return e, p.errf(plats, "platforms is a list: [linux/amd64, linux/arm64]")
		}
	}
	return e, nil
}

func (p *parser) chart(n *yaml.Node) (Entry, error) {
	e := Entry{Kind: KindChart, Helm: true}
	var ref, version, path, repo, name, images string
	var refLine, pathLine, repoLine, versionLine, imagesLine int
	err := p.each(n, map[string]func(*yaml.Node) error{
		"ref":     p.scalar(&ref, &refLine),
		"version": p.scalar(&version, &versionLine),
		"path":    p.scalar(&path, &pathLine),
		"repo":    p.scalar(&repo, &repoLine),
		"name":    p.scalar(&name, nil),
		"images":  p.scalar(&images, &imagesLine),
	})
	if err != nil {
		return e, err
	}
	switch {
	case repo != "":
		if ref != "" || path != "" {
			return e, p.errf(n, "a chart has one of ref, repo or path")
		}
		u, err := url.Parse(repo)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return e, p.errf(at(n, repoLine), "repo %q: give the chart repository's http:// or https:// URL", repo)
		}
		if name == "" || version == "" {
			return e, p.errf(n, "a chart of a chart repository needs name: and version: (exact, or a range such as ^6.7.0)")
		}
		if _, err := semver.NewConstraint(version); err != nil {
			return e, p.errf(at(n, versionLine), "version %q is neither a version nor a semver range: %v", version, err)
		}
		switch images {
		case "", "false":
		case "true":
			e.Images = true
		default:
			return e, p.errf(at(n, imagesLine), "images is true or false")
		}
		e.Repo, e.ChartName, e.Version = repo, name, version
		// The name until Sync resolves the version.
		if e.Name, err = RepoChartName(repo, name, "0"); err != nil {
			return e, p.errf(at(n, repoLine), "%v", err)
		}
		e.Name = strings.TrimSuffix(e.Name, ":0") + ":" + version
	case ref != "":
		if path != "" || name != "" || images != "" {
			return e, p.errf(n, "an OCI chart (ref: oci://…) takes only version besides ref")
		}
		rest, ok := strings.CutPrefix(ref, "oci://")
		if !ok {
			return e, p.errf(at(n, refLine), "chart ref %q: write oci://REGISTRY/PATH/NAME (a chart repository is repo:)", ref)
		}
		if version == "" {
			return e, p.errf(n, "chart %s needs a version", ref)
		}
		if r, err := transfer.ParseReference(rest); err != nil || r.Reference != "" {
			return e, p.errf(at(n, refLine), "chart ref %q: write oci://REGISTRY/PATH/NAME with no tag, and the version as version:", ref)
		}
		e.Ref = rest + ":" + pack.HelmTag(version)
		var err error
		if e.Name, err = layout.FullName(e.Ref); err != nil {
			return e, p.errf(at(n, refLine), "chart ref %q: %v", ref, err)
		}
	case path != "":
		if version != "" || name != "" || images != "" {
			return e, p.errf(n, "a local chart takes only path (its name and version are its Chart.yaml's)")
		}
		e.Path, e.PathAsWritten = p.abs(path), filepath.ToSlash(filepath.Clean(path))
		fi, err := os.Stat(e.Path)
		if err != nil {
			return e, p.errf(at(n, pathLine), "chart path %s: %v", path, errors.Unwrap(err))
		}
		var meta *pack.HelmMetadata
		if fi.IsDir() {
			meta, err = pack.HelmDirMetadata(e.Path)
		} else {
			meta, err = pack.HelmChartMetadata(e.Path)
		}
		if err != nil {
			return e, p.errf(at(n, pathLine), "chart path %s: %v", path, err)
		}
		e.Name = LocalHost + "/charts/" + meta.Name + ":" + pack.HelmTag(meta.Version)
		if !layout.IsFullName(e.Name) {
			return e, p.errf(at(n, pathLine), "chart %s: name %q and version %q make no valid name", path, meta.Name, meta.Version)
		}
	default:
		return e, p.errf(n, "a chart needs ref: oci://… and version:, or path:")
	}
	return e, nil
}

func (p *parser) fileItem(n *yaml.Node) (Entry, error) {
	e := Entry{Kind: KindFile}
	var path, name string
	var pathLine, urlLine, shaLine, nameLine int
	err := p.each(n, map[string]func(*yaml.Node) error{
		"path":   p.scalar(&path, &pathLine),
		"url":    p.scalar(&e.URL, &urlLine),
		"sha256": p.scalar(&e.SHA256, &shaLine),
		"name":   p.scalar(&name, &nameLine),
	})
	if err != nil {
		return e, err
	}
	switch {
	case path != "" && e.URL != "":
		return e, p.errf(n, "a file has a path or a url, not both")
	case path != "":
		if e.SHA256 != "" {
			return e, p.errf(at(n, shaLine), "sha256 goes with url:, not path:")
		}
		e.Path, e.PathAsWritten = p.abs(path), filepath.ToSlash(filepath.Clean(path))
		if _, err := os.Stat(e.Path); err != nil {
			return e, p.errf(at(n, pathLine), "path %s: %v", path, errors.Unwrap(err))
		}
	case e.URL != "":
		if !strings.HasPrefix(e.URL, "https://") && !strings.HasPrefix(e.URL, "http://") {
			return e, p.errf(at(n, urlLine), "url %q: give an http:// or https:// URL", e.URL)
		}
		if e.SHA256 == "" {
			return e, p.errf(n, "url %s needs its sha256: (the hex digest it must have)", e.URL)
		}
		e.SHA256 = strings.ToLower(strings.TrimPrefix(e.SHA256, "sha256:"))
		if b, err := hex.DecodeString(e.SHA256); err != nil || len(b) != 32 {
			return e, p.errf(at(n, shaLine), "sha256 %q: give 64 hex digits", e.SHA256)
		}
	default:
		return e, p.errf(n, "a file needs path: or url: (with sha256:)")
	}
	if name == "" {
		return e, p.errf(n, "a file needs a name: its entry's name in the layout, such as tools/install:1.0")
	}
	if e.Name, err = fileName(name); err != nil {
		return e, p.errf(at(n, nameLine), "name %q: %v", name, err)
	}
	return e, nil
}

// fileName is the layout name of a file entry named name: a plain tag or a
// full name stays as it is; REPO:TAG (no registry) becomes
// LocalHost/REPO:TAG.
func fileName(name string) (string, error) {
	if layout.ValidName(name) {
		return name, nil
	}
	full := LocalHost + "/" + name
	if strings.Contains(name, ":") && layout.IsFullName(full) {
		return full, nil
	}
	return "", errors.New("write a tag (v1), REPO:TAG (tools/install:1.0) or REGISTRY/REPO:TAG")
}

func (p *parser) abs(path string) string {
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.dir, path)
	}
	if a, err := filepath.Abs(path); err == nil {
		return a
	}
	return path
}

// at is n, or a node at line when line is set (for errors about one value).
func at(n *yaml.Node, line int) *yaml.Node {
	if line == 0 {
		return n
	}
	return &yaml.Node{Line: line}
}
