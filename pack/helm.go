package pack

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"sigs.k8s.io/yaml"

	"github.com/ocipack/ocipack/layout"
)

// A packaged Helm chart is stored the way Helm 3 itself pushes one
// (helm.sh/helm/v3 pkg/registry, Client.Push; checked byte for byte against
// `helm push` of v3.22.0, and the same shape in Helm 3.8 and later and in
// Helm 4.3, except the created annotation: none before 3.13, the time of
// the push in 3.13 and 3.14, the chart file's mtime from 3.15 on):
//
//   - the config is the JSON of the chart's metadata (Chart.yaml as Helm
//     loads it: apiVersion defaulted to v1, requirements.yaml merged, strings
//     sanitized), media type HelmConfigMediaType;
//   - one layer is the .tgz, byte for byte, media type HelmChartMediaType and
//     no annotations; a provenance file CHART.tgz.prov beside it, which
//     `helm push` picks up, is a second layer (HelmProvenanceMediaType), and
//     the layers are sorted by digest as Helm sorts them;
//   - the manifest has no mediaType field and no artifactType, and the
//     annotations Helm derives from the metadata (see helmAnnotations);
//   - the tag is the chart version with '+' replaced by '_', the only tag
//     under which `helm pull --version VERSION` finds it.
//
// So that `helm pull oci://REGISTRY/REPO/NAME --version VERSION` works after
// `ocipack push`, push it to a repository whose last path element is the
// chart's name, as `helm push CHART.tgz oci://REGISTRY/REPO` does.
const (
	// HelmConfigMediaType is the media type of a Helm chart's config blob.
	HelmConfigMediaType = "application/vnd.cncf.helm.config.v1+json"
	// HelmChartMediaType is the media type of the layer holding the
	// packaged chart (.tgz).
	HelmChartMediaType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
	// HelmProvenanceMediaType is the media type of the layer holding a
	// chart's provenance (.prov) file.
	HelmProvenanceMediaType = "application/vnd.cncf.helm.chart.provenance.v1.prov"
	// MaxHelmChartYAMLSize bounds the Chart.yaml (and requirements.yaml)
	// read from a chart archive.
	MaxHelmChartYAMLSize = 1 << 20
)

// Helm's own limits on a chart archive (pkg/chart/loader/archive.go): a
// chart larger than these cannot be loaded (installed, templated) by Helm.
const (
	helmMaxDecompressedChartSize = 100 << 20
	helmMaxDecompressedFileSize  = 5 << 20
)

// ErrNotHelmChart means a file is not a packaged Helm chart that Helm would
// load: not a gzip-compressed tar, no Chart.yaml, an invalid Chart.yaml.
var ErrNotHelmChart = errors.New("not a Helm chart")

// ErrHelmTagMismatch means a chart was to be tagged with something other
// than its version; `helm pull --version VERSION` would not find it.
var ErrHelmTagMismatch = errors.New("tag does not match the chart version")

// HelmMetadata is a chart's metadata as Helm stores it in the config blob.
// Its fields, their order and their JSON names are those of Helm 3's
// chart.Metadata (helm.sh/helm/v3/pkg/chart/metadata.go), so that its JSON
// is byte for byte the config `helm push` writes.
type HelmMetadata struct {
	// The name of the chart. Required.
	Name string `json:"name,omitempty"`
	// The URL to a relevant project page, git repo, or contact person
	Home string `json:"home,omitempty"`
	// Source is the URL to the source code of this chart
	Sources []string `json:"sources,omitempty"`
	// A SemVer 2 conformant version string of the chart. Required.
	Version string `json:"version,omitempty"`
	// A one-sentence description of the chart
	Description string `json:"description,omitempty"`
	// A list of string keywords
	Keywords []string `json:"keywords,omitempty"`
	// A list of name and URL/email address combinations for the maintainer(s)
	Maintainers []*HelmMaintainer `json:"maintainers,omitempty"`
	// The URL to an icon file.
	Icon string `json:"icon,omitempty"`
	// The API Version of this chart: v1 or v2.
	APIVersion string `json:"apiVersion,omitempty"`
	// The condition to check to enable chart
	Condition string `json:"condition,omitempty"`
	// The tags to check to enable chart
	Tags string `json:"tags,omitempty"`
	// The version of the application enclosed inside of this chart.
	AppVersion string `json:"appVersion,omitempty"`
	// Whether or not this chart is deprecated
	Deprecated bool `json:"deprecated,omitempty"`
	// Annotations are additional mappings uninterpreted by Helm,
	// made available for inspection by other applications.
	Annotations map[string]string `json:"annotations,omitempty"`
	// KubeVersion is a SemVer constraint specifying the version of Kubernetes required.
	KubeVersion string `json:"kubeVersion,omitempty"`
	// Dependencies are a list of dependencies for a chart.
	Dependencies []*HelmDependency `json:"dependencies,omitempty"`
	// Specifies the chart type: application or library
	Type string `json:"type,omitempty"`
}

// HelmMaintainer is Helm 3's chart.Maintainer.
type HelmMaintainer struct {
	// Name is a user name or organization name
	Name string `json:"name,omitempty"`
	// Email is an optional email address to contact the named maintainer
	Email string `json:"email,omitempty"`
	// URL is an optional URL to an address for the named maintainer
	URL string `json:"url,omitempty"`
}

// HelmDependency is Helm 3's chart.Dependency.
type HelmDependency struct {
	Name         string   `json:"name"`
	Version      string   `json:"version,omitempty"`
	Repository   string   `json:"repository"`
	Condition    string   `json:"condition,omitempty"`
	Tags         []string `json:"tags,omitempty"`
	Enabled      bool     `json:"enabled,omitempty"`
	ImportValues []any    `json:"import-values,omitempty"`
	Alias        string   `json:"alias,omitempty"`
}

// HelmTag returns the tag Helm pushes a chart version under: the version
// with '+' (not allowed in a tag) replaced by '_'.
func HelmTag(version string) string {
	return strings.ReplaceAll(version, "+", "_")
}

// HelmChartMetadata reads the metadata of the packaged chart at path (a
// .tgz made by `helm package`), as Helm loads it. It streams the archive
// and keeps only Chart.yaml (at most MaxHelmChartYAMLSize bytes) in memory.
// It fails with ErrNotHelmChart when path is not a chart Helm would load.
func HelmChartMetadata(path string) (*HelmMetadata, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := checkChartFile(f, path); err != nil {
		return nil, err
	}
	return readHelmChart(context.Background(), f, path)
}

// PackHelm stores the packaged Helm chart at chartPath (a .tgz made by
// `helm package`) in l as Helm's own OCI artifact, byte for byte the
// manifest, config and layer `helm push` would write for it, and tags it.
//
// tag must be the chart's version with '+' replaced by '_' (see HelmTag),
// the tag `helm pull --version VERSION` asks a registry for; any other tag
// fails with ErrHelmTagMismatch. An empty tag means that tag.
//
// The manifest's org.opencontainers.image.created annotation is
// opts.SourceDateEpoch when set, and otherwise the chart file's
// modification time, as `helm push` writes it (in UTC, where Helm uses the
// local time zone). opts.Annotations are added to the manifest's
// annotations, except that they cannot change the title and version Helm
// sets (Helm forbids that too). opts.ArtifactType and opts.Config cannot be
// set: a Helm chart has neither an artifact type nor a config of its own.
// opts.Compression and opts.KeepMtime do not apply: the chart is stored as
// it is. opts.Progress is called as the chart is stored.
//
// The chart is read twice: once to read and check its Chart.yaml (streaming,
// before anything is written), once to store it; it must not change in
// between. It fails with ErrNotHelmChart when chartPath is not a chart Helm
// would load.
func PackHelm(ctx context.Context, l *layout.Layout, tag string, chartPath string, opts Options) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.ArtifactType != "" {
		return nil, fmt.Errorf("a Helm chart has no artifact type: Helm sets none and `helm pull` would not need it (got %q)", opts.ArtifactType)
	}
	if opts.Config != nil {
		return nil, errors.New("a Helm chart's config is its Chart.yaml: no other config can be given")
	}
	f, err := os.Open(chartPath)
	if err != nil {
		return nil, fmt.Errorf("helm chart: %w", err)
	}
	defer f.Close()
	if err := checkChartFile(f, chartPath); err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}

	// Read the chart's metadata, hashing the whole file on the way, before
	// anything is written.
	h := sha256.New()
	counted := &countWriter{w: h}
	meta, err := readHelmChart(ctx, io.TeeReader(f, counted), chartPath)
	if err != nil {
		return nil, err
	}
	if err := drain(ctx, io.TeeReader(f, counted)); err != nil {
		return nil, fmt.Errorf("read %s: %w", chartPath, err)
	}
	scanned := ocispec.Descriptor{Digest: digest.NewDigest(digest.SHA256, h), Size: counted.n}

	want := HelmTag(meta.Version)
	if tag == "" {
		tag = want
	}
	// A full name (registry.example/charts/NAME:VERSION) carries the tag
	// Helm pulls after its last colon.
	if tag != want && layout.NameTag(tag) != want {
		return nil, fmt.Errorf("%s: %w: chart %s is version %s, which Helm pulls from tag %q, not %q; use tag %q (or give no tag)",
			chartPath, ErrHelmTagMismatch, meta.Name, meta.Version, want, tag, want)
	}
	if !layout.ValidName(tag) {
		return nil, fmt.Errorf("%s: chart version %q does not make a valid tag %q: %w", chartPath, meta.Version, tag, layout.ErrInvalidReference)
	}

	created := fi.ModTime()
	if opts.SourceDateEpoch != nil {
		created = *opts.SourceDateEpoch
	}
	annotations := helmAnnotations(meta, created.UTC().Format(time.RFC3339))
	for _, k := range []string{ocispec.AnnotationTitle, ocispec.AnnotationVersion} {
		if v, ok := opts.Annotations[k]; ok && v != annotations[k] {
			return nil, fmt.Errorf("annotation %s=%q: a Helm chart's %s is %q, from its Chart.yaml", k, v, k, annotations[k])
		}
	}
	maps.Copy(annotations, opts.Annotations)

	// `helm push CHART.tgz` also pushes CHART.tgz.prov when there is one.
	var prov *os.File
	var provSize int64
	if pf, err := os.Open(chartPath + ".prov"); err == nil {
		defer pf.Close()
		pfi, err := pf.Stat()
		if err != nil {
			return nil, err
		}
		if pfi.Mode().IsRegular() {
			prov, provSize = pf, pfi.Size()
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("helm chart provenance: %w", err)
	}

	prog := &counter{total: scanned.Size + provSize, fn: opts.Progress}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("read %s: %w", chartPath, err)
	}
	chart, err := l.Ingest(ctx, HelmChartMediaType, prog.reader(f))
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", chartPath, err)
	}
	if chart.Digest != scanned.Digest || chart.Size != scanned.Size {
		return nil, fmt.Errorf("pack %s: the file changed while it was being packed; pack it again", chartPath)
	}
	layers := []ocispec.Descriptor{chart}
	if prov != nil {
		d, err := l.Ingest(ctx, HelmProvenanceMediaType, prog.reader(prov))
		if err != nil {
			return nil, fmt.Errorf("pack %s.prov: %w", chartPath, err)
		}
		layers = append(layers, d)
		// Helm sorts the layers by digest, "for determinism".
		slices.SortFunc(layers, func(a, b ocispec.Descriptor) int { return strings.Compare(string(a.Digest), string(b.Digest)) })
	}

	configJSON, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	config, err := l.Ingest(ctx, HelmConfigMediaType, bytes.NewReader(configJSON))
	if err != nil {
		return nil, fmt.Errorf("store config: %w", err)
	}

	// The manifest Helm writes: no mediaType field, no artifactType.
	m := ocispec.Manifest{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		Config:      config,
		Layers:      layers,
		Annotations: annotations,
	}
	desc, err := storeManifest(ctx, l, m, tag)
	if err != nil {
		return nil, err
	}
	return &Result{Manifest: desc, Layers: layers}, nil
}

// helmAnnotations returns the manifest annotations Helm 3 writes for meta
// (pkg/registry/util.go, generateOCIAnnotations): description, title
// (name), version, url (home), created, source (the first of sources) and
// authors (the maintainers, "NAME (EMAIL), …"), each only when not blank;
// then the chart's own annotations, which may replace any of these but the
// title and the version.
func helmAnnotations(meta *HelmMetadata, created string) map[string]string {
	a := map[string]string{}
	add := func(k, v string) {
		if strings.TrimSpace(v) != "" {
			a[k] = v
		}
	}
	add(ocispec.AnnotationDescription, meta.Description)
	add(ocispec.AnnotationTitle, meta.Name)
	add(ocispec.AnnotationVersion, meta.Version)
	add(ocispec.AnnotationURL, meta.Home)
	add(ocispec.AnnotationCreated, created)
	if len(meta.Sources) > 0 {
		add(ocispec.AnnotationSource, meta.Sources[0])
	}
	if len(meta.Maintainers) > 0 {
		var sb strings.Builder
		for i, m := range meta.Maintainers {
			sb.WriteString(m.Name)
			if m.Email != "" {
				sb.WriteString(" (" + m.Email + ")")
			}
			if i < len(meta.Maintainers)-1 {
				sb.WriteString(", ")
			}
		}
		add(ocispec.AnnotationAuthors, sb.String())
	}
	for k, v := range meta.Annotations {
		if k != ocispec.AnnotationVersion && k != ocispec.AnnotationTitle {
			a[k] = v
		}
	}
	return a
}

// checkChartFile refuses a directory (an unpackaged chart) or anything
// else that is not a regular file.
func checkChartFile(f *os.File, name string) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	switch {
	case fi.IsDir():
		return fmt.Errorf("%s: %w: it is a directory; package it first with `helm package %s`", name, ErrNotHelmChart, name)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s: %w: it is a %s, not a file", name, ErrNotHelmChart, fileKind(fi.Mode()))
	}
	return nil
}

// notChart returns an ErrNotHelmChart error naming the file, on one line.
func notChart(name, format string, args ...any) error {
	msg := strings.Join(strings.Fields(fmt.Sprintf(format, args...)), " ")
	return fmt.Errorf("%s: %w: %s", name, ErrNotHelmChart, msg)
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// readHelmChart reads the metadata of the chart archive r, named name in
// errors, the way Helm's loader.LoadArchive does (pkg/chart/loader): it
// streams the gzip-compressed tar, applies Helm's path checks and size
// limits to every entry, and keeps only Chart.yaml and requirements.yaml
// (at most MaxHelmChartYAMLSize bytes each) in memory. Helm strips the
// first element of every path, so Chart.yaml is TOPDIR/Chart.yaml.
//
// It is stricter than Helm where Helm is lax: an archive with more than one
// Chart.yaml (Helm merges them) and an apiVersion other than v1 and v2 are
// refused.
func readHelmChart(ctx context.Context, r io.Reader, name string) (*HelmMetadata, error) {
	br := bufio.NewReaderSize(r, 4096)
	head, _ := br.Peek(512)
	if !bytes.HasPrefix(head, []byte{0x1f, 0x8b, 0x08}) {
		switch {
		case len(head) == 0:
			return nil, notChart(name, "the file is empty; a packaged chart is a .tgz made by `helm package`")
		case len(head) >= 262 && string(head[257:262]) == "ustar":
			return nil, notChart(name, "it is an uncompressed tar archive; a packaged chart is a gzip-compressed tar (.tgz) made by `helm package`")
		case strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml"):
			return nil, notChart(name, "it seems to be a YAML file; a packaged chart is a .tgz made by `helm package`")
		}
		return nil, notChart(name, "it is not gzip-compressed; a packaged chart is a .tgz made by `helm package`")
	}
	gz, err := gzip.NewReader(br)
	if err != nil {
		return nil, notChart(name, "bad gzip data: %v", err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)

	var (
		meta         *HelmMetadata
		chartYAML    string // the entry Chart.yaml came from
		requirements []byte
		reqName      string
		files        int
		remaining    int64 = helmMaxDecompressedChartSize
	)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hd, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, notChart(name, "not a valid gzip-compressed tar archive: %v", err)
		}
		if hd.FileInfo().IsDir() || hd.Typeflag == tar.TypeXGlobalHeader || hd.Typeflag == tar.TypeXHeader {
			continue
		}
		n, err := helmEntryName(hd.Name)
		if err != nil {
			return nil, notChart(name, "%v", err)
		}
		if hd.Size > remaining {
			return nil, notChart(name, "the decompressed chart is larger than Helm's limit of %d bytes", helmMaxDecompressedChartSize)
		}
		if hd.Size > helmMaxDecompressedFileSize {
			return nil, notChart(name, "%s is larger than Helm's limit of %d bytes for a file of a chart", hd.Name, helmMaxDecompressedFileSize)
		}
		files++
		var data []byte
		var read int64
		if n == "Chart.yaml" || n == "requirements.yaml" {
			if hd.Size > MaxHelmChartYAMLSize {
				return nil, notChart(name, "%s is larger than %d bytes", hd.Name, MaxHelmChartYAMLSize)
			}
			data, err = io.ReadAll(io.LimitReader(tr, MaxHelmChartYAMLSize+1))
			read = int64(len(data))
			if err == nil && read > MaxHelmChartYAMLSize {
				return nil, notChart(name, "%s is larger than %d bytes", hd.Name, MaxHelmChartYAMLSize)
			}
		} else {
			read, err = io.Copy(io.Discard, io.LimitReader(tr, remaining))
		}
		if err != nil {
			return nil, notChart(name, "not a valid gzip-compressed tar archive: reading %s: %v", hd.Name, err)
		}
		remaining -= read
		if read < hd.Size || remaining <= 0 {
			return nil, notChart(name, "the decompressed chart is larger than Helm's limit of %d bytes", helmMaxDecompressedChartSize)
		}
		data = bytes.TrimPrefix(data, utf8BOM)
		switch n {
		case "Chart.yaml":
			if meta != nil {
				return nil, notChart(name, "it has two Chart.yaml files, %s and %s; a chart archive holds one top-level directory", chartYAML, hd.Name)
			}
			meta = new(HelmMetadata)
			chartYAML = hd.Name
			if err := yaml.Unmarshal(data, meta); err != nil {
				return nil, notChart(name, "invalid %s: %v", hd.Name, err)
			}
			// Helm 2 accepted charts without an apiVersion: Helm 3 takes
			// them for v1 charts.
			if meta.APIVersion == "" {
				meta.APIVersion = "v1"
			}
		case "requirements.yaml":
			if requirements != nil {
				return nil, notChart(name, "it has two requirements.yaml files, %s and %s; a chart archive holds one top-level directory", reqName, hd.Name)
			}
			requirements, reqName = data, hd.Name
		}
	}
	if files == 0 {
		return nil, notChart(name, "the archive holds no files")
	}
	if meta == nil {
		return nil, notChart(name, "it has no Chart.yaml (a chart archive holds CHARTNAME/Chart.yaml)")
	}
	// Helm merges the deprecated requirements.yaml (dependencies of
	// apiVersion v1 charts) into the metadata, whatever the apiVersion.
	if requirements != nil {
		if err := yaml.Unmarshal(requirements, meta); err != nil {
			return nil, notChart(name, "invalid %s: %v", reqName, err)
		}
	}
	if err := meta.validate(); err != nil {
		return nil, notChart(name, "%s %v", chartYAML, err)
	}
	return meta, nil
}

var windowsDrivePath = regexp.MustCompile(`^[a-zA-Z]:/`)

// helmEntryName returns the path of a tar entry inside the chart, without
// its first element, and refuses the paths Helm refuses.
func helmEntryName(name string) (string, error) {
	delim := "/"
	if strings.ContainsRune(name, '\\') {
		delim = `\`
	}
	parts := strings.Split(name, delim)
	if parts[0] == "Chart.yaml" {
		return "", errors.New("Chart.yaml is at the top of the archive, not in the chart's directory (a chart archive holds CHARTNAME/Chart.yaml)")
	}
	n := strings.ReplaceAll(strings.Join(parts[1:], delim), delim, "/")
	if path.IsAbs(n) {
		return "", fmt.Errorf("%s is an absolute path", name)
	}
	n = path.Clean(n)
	switch {
	case n == ".":
		return "", fmt.Errorf("%s is outside the chart's directory (a chart archive holds CHARTNAME/Chart.yaml, CHARTNAME/templates/, …)", name)
	case strings.HasPrefix(n, ".."):
		return "", fmt.Errorf("%s refers to a parent directory", name)
	case windowsDrivePath.MatchString(n):
		return "", fmt.Errorf("%s is an illegal name", name)
	}
	return n, nil
}

// validate checks the metadata as Helm's Metadata.Validate does, and
// sanitizes its strings the same way (Helm stores the sanitized metadata).
func (md *HelmMetadata) validate() error {
	md.Name = sanitizeString(md.Name)
	md.Description = sanitizeString(md.Description)
	md.Home = sanitizeString(md.Home)
	md.Icon = sanitizeString(md.Icon)
	md.Condition = sanitizeString(md.Condition)
	md.Tags = sanitizeString(md.Tags)
	md.AppVersion = sanitizeString(md.AppVersion)
	md.KubeVersion = sanitizeString(md.KubeVersion)
	for i := range md.Sources {
		md.Sources[i] = sanitizeString(md.Sources[i])
	}
	for i := range md.Keywords {
		md.Keywords[i] = sanitizeString(md.Keywords[i])
	}

	switch md.APIVersion {
	case "v1", "v2":
	default:
		return fmt.Errorf("has apiVersion %q; a Helm 3 chart is v1 or v2", md.APIVersion)
	}
	if md.Name == "" {
		return errors.New("has no name")
	}
	if md.Name == "." || md.Name == ".." || md.Name != filepath.Base(md.Name) {
		return fmt.Errorf("has name %q, which is not allowed", md.Name)
	}
	if md.Version == "" {
		return errors.New("has no version")
	}
	if err := checkHelmVersion(md.Version); err != nil {
		return fmt.Errorf("has version %q, which is not a semantic version: %v", md.Version, err)
	}
	switch md.Type {
	case "", "application", "library":
	default:
		return fmt.Errorf("has type %q, not application or library", md.Type)
	}
	for _, m := range md.Maintainers {
		if m == nil {
			return errors.New("has an empty or null maintainer")
		}
		m.Name = sanitizeString(m.Name)
		m.Email = sanitizeString(m.Email)
		m.URL = sanitizeString(m.URL)
	}
	seen := map[string]bool{}
	for _, d := range md.Dependencies {
		if d == nil {
			return errors.New("has an empty or null dependency")
		}
		d.Name = sanitizeString(d.Name)
		d.Version = sanitizeString(d.Version)
		d.Repository = sanitizeString(d.Repository)
		d.Condition = sanitizeString(d.Condition)
		for i := range d.Tags {
			d.Tags[i] = sanitizeString(d.Tags[i])
		}
		if d.Alias != "" && !aliasPattern.MatchString(d.Alias) {
			return fmt.Errorf("has dependency %q with disallowed characters in its alias %q", d.Name, d.Alias)
		}
		key := d.Name
		if d.Alias != "" {
			key = d.Alias
		}
		if seen[key] {
			return fmt.Errorf("has more than one dependency with name or alias %q", key)
		}
		seen[key] = true
	}
	return nil
}

var aliasPattern = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// sanitizeString turns every space character into ' ' and drops the
// characters that are not printable, as Helm does.
func sanitizeString(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return ' '
		}
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, s)
}

// looseSemver is the version grammar Helm accepts for a chart
// (github.com/Masterminds/semver/v3 NewVersion, which Helm calls): "v"
// optional, minor and patch optional.
var looseSemver = regexp.MustCompile(`^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?` +
	`(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?` +
	`(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$`)

// checkHelmVersion accepts the versions Masterminds/semver's NewVersion
// accepts.
func checkHelmVersion(v string) error {
	if len(v) > 256 {
		return errors.New("longer than 256 bytes")
	}
	m := looseSemver.FindStringSubmatch(v)
	if m == nil {
		return errors.New("want MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD]")
	}
	for _, s := range m[1:4] {
		if s = strings.TrimPrefix(s, "."); s != "" {
			if _, err := strconv.ParseUint(s, 10, 64); err != nil {
				return fmt.Errorf("number %s is too large", s)
			}
		}
	}
	if pre := m[5]; pre != "" {
		for _, p := range strings.Split(pre, ".") {
			if len(p) > 1 && p[0] == '0' && strings.Trim(p, "0123456789") == "" {
				return fmt.Errorf("pre-release number %s starts with 0", p)
			}
		}
	}
	return nil
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w hash.Hash
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.w.Write(p)
}

// drain reads r to its end, checking ctx between reads.
func drain(ctx context.Context, r io.Reader) error {
	buf := make([]byte, 256<<10)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, err := r.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
