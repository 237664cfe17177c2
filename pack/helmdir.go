package pack

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// helmGzipExtra and helmGzipComment are the gzip header fields `helm
// package` writes (pkg/chartutil/save.go).
var helmGzipExtra = []byte("+aHR0cHM6Ly95b3V0dS5iZS96OVV6MWljandyTQo=")

const helmGzipComment = "Helm"

// HelmDirMetadata reads the metadata of the unpackaged chart in the
// directory dir (dir/Chart.yaml, and a v1 chart's requirements.yaml) as
// Helm loads a chart directory. It fails with ErrNotHelmChart when dir is
// not a chart Helm would load.
func HelmDirMetadata(dir string) (*HelmMetadata, error) {
	read := func(name string) ([]byte, error) {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, MaxHelmChartYAMLSize+1))
		if err != nil {
			return nil, err
		}
		if len(b) > MaxHelmChartYAMLSize {
			return nil, notChart(dir, "%s is larger than %d bytes", name, MaxHelmChartYAMLSize)
		}
		return bytes.TrimPrefix(b, utf8BOM), nil
	}
	b, err := read("Chart.yaml")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notChart(dir, "the directory has no Chart.yaml")
	}
	if err != nil {
		return nil, err
	}
	meta := new(HelmMetadata)
	if err := yaml.Unmarshal(b, meta); err != nil {
		return nil, notChart(dir, "invalid Chart.yaml: %v", err)
	}
	if meta.APIVersion == "" {
		meta.APIVersion = "v1"
	}
	req, err := read("requirements.yaml")
	switch {
	case err == nil:
		if err := yaml.Unmarshal(req, meta); err != nil {
			return nil, notChart(dir, "invalid requirements.yaml: %v", err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	if err := meta.validate(); err != nil {
		return nil, notChart(dir, "Chart.yaml %v", err)
	}
	return meta, nil
}

// PackageHelmDir writes the unpackaged chart in the directory dir to w as
// `helm package` writes it: a gzip-compressed tar (with Helm's gzip header)
// whose entries are NAME/PATH, NAME being the chart's name, every file with
// mode 0644, no directory entries, and the files .helmignore leaves out
// left out. Unlike `helm package`, it is reproducible: entries are in
// lexical order (Chart.yaml first), every modification time is mtime
// (rounded down to the second), and no owner is recorded; and files are
// stored as they are, where Helm rewrites Chart.yaml from its parsed
// metadata and unpacks packaged dependencies in charts/ (this keeps
// charts/*.tgz as they are, which Helm loads the same way).
//
// .helmignore is read as Helm reads it (pkg/ignore): one pattern a line, #
// comments, path.Match globs matched against the base name, or against the
// path from the chart's top when the pattern holds a slash, a trailing /
// for directories, ! negation with Helm's own meaning; ** fails, as in
// Helm. Helm's default rule templates/.?* is added. Symbolic links to files
// are followed, as Helm follows them; a symbolic link to a directory and
// any other file that is not regular fail. Helm's size limits apply.
func PackageHelmDir(ctx context.Context, dir string, w io.Writer, mtime time.Time) (*HelmMetadata, error) {
	meta, err := HelmDirMetadata(dir)
	if err != nil {
		return nil, err
	}
	rules, err := readHelmIgnore(dir)
	if err != nil {
		return nil, err
	}
	var files []string // slash-separated, relative to dir
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		n := filepath.ToSlash(rel)
		fi, err := os.Stat(p) // follows symbolic links, as Helm does
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rules.ignore(n, true) {
				return filepath.SkipDir
			}
			return nil
		}
		if rules.ignore(n, fi.IsDir()) {
			return nil
		}
		if fi.IsDir() {
			return notChart(dir, "%s is a symbolic link to a directory, which is not supported: copy the directory in", n)
		}
		if !fi.Mode().IsRegular() {
			return notChart(dir, "%s is not a regular file", n)
		}
		if fi.Size() > helmMaxDecompressedFileSize {
			return notChart(dir, "%s is larger than Helm's limit of %d bytes for a file of a chart", n, helmMaxDecompressedFileSize)
		}
		if n == "Chart.yaml" {
			files = append([]string{n}, files...)
		} else {
			files = append(files, n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("package chart %s: %w", dir, err)
	}
	if len(files) == 0 || files[0] != "Chart.yaml" {
		return nil, notChart(dir, ".helmignore leaves out Chart.yaml")
	}

	gz, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	gz.Header.Extra = helmGzipExtra
	gz.Header.Comment = helmGzipComment
	tw := tar.NewWriter(gz)
	mtime = mtime.UTC().Truncate(time.Second)
	var total int64
	for _, n := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := func() error {
			f, err := os.Open(filepath.Join(dir, filepath.FromSlash(n)))
			if err != nil {
				return err
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				return err
			}
			total += fi.Size()
			if total > helmMaxDecompressedChartSize {
				return notChart(dir, "the chart is larger than Helm's limit of %d bytes", helmMaxDecompressedChartSize)
			}
			hd := &tar.Header{
				Typeflag: tar.TypeReg,
				Name:     meta.Name + "/" + n,
				Mode:     0o644,
				Size:     fi.Size(),
				ModTime:  mtime,
			}
			if err := tw.WriteHeader(hd); err != nil {
				return err
			}
			if _, err := io.Copy(tw, io.LimitReader(f, fi.Size())); err != nil {
				return err
			}
			return nil
		}(); err != nil {
			return nil, fmt.Errorf("package chart %s: %s: %w", dir, n, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return meta, nil
}

// helmIgnoreRule is one pattern of a .helmignore file (Helm's
// pkg/ignore.pattern).
type helmIgnoreRule struct {
	pattern string
	negate  bool
	mustDir bool
	mode    int // 0: base name, 1: path from the top
}

type helmIgnore []helmIgnoreRule

// readHelmIgnore reads dir/.helmignore (none is no rules) and adds Helm's
// default rule.
func readHelmIgnore(dir string) (helmIgnore, error) {
	var r helmIgnore
	b, err := os.ReadFile(filepath.Join(dir, ".helmignore"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for i, line := range strings.Split(string(b), "\n") {
		if err := r.add(line); err != nil {
			return nil, notChart(dir, ".helmignore line %d: %v", i+1, err)
		}
	}
	if err := r.add("templates/.?*"); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *helmIgnore) add(rule string) error {
	rule = strings.TrimSpace(rule)
	if rule == "" || strings.HasPrefix(rule, "#") {
		return nil
	}
	if strings.Contains(rule, "**") {
		return errors.New("double-star (**) syntax is not supported (nor is it by Helm)")
	}
	if _, err := path.Match(rule, "abc"); err != nil {
		return fmt.Errorf("%q: %w", rule, err)
	}
	p := helmIgnoreRule{}
	if rest, ok := strings.CutPrefix(rule, "!"); ok {
		p.negate, rule = true, rest
	}
	if rest, ok := strings.CutSuffix(rule, "/"); ok {
		p.mustDir, rule = true, rest
	}
	switch {
	case strings.HasPrefix(rule, "/"):
		p.mode, rule = 1, strings.TrimPrefix(rule, "/")
	case strings.Contains(rule, "/"):
		p.mode = 1
	}
	p.pattern = rule
	*r = append(*r, p)
	return nil
}

func (p helmIgnoreRule) match(n string) bool {
	if p.mode == 0 {
		n = path.Base(n)
	}
	ok, _ := path.Match(p.pattern, n)
	return ok
}

// ignore reports whether the path n (slash-separated, from the chart's
// top) is left out, as Helm's Rules.Ignore decides it.
func (r helmIgnore) ignore(n string, isDir bool) bool {
	if n == "" || n == "." || n == "./" {
		return false
	}
	for _, p := range r {
		if p.negate {
			// Helm's meaning: a negated rule ignores what it does not match.
			if p.mustDir && !isDir {
				return true
			}
			if !p.match(n) {
				return true
			}
			continue
		}
		if p.mustDir && !isDir {
			continue
		}
		if p.match(n) {
			return true
		}
	}
	return false
}
