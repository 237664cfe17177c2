package bundle

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
	"go.yaml.in/yaml/v3"

	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
)

// MaxIndexSize is the largest chart repository index.yaml Sync reads.
const MaxIndexSize = 64 << 20

// repoIndex is the part of a chart repository's index.yaml that Sync
// reads (Helm's repo.IndexFile).
type repoIndex struct {
	APIVersion string                       `yaml:"apiVersion"`
	Entries    map[string][]*repoIndexEntry `yaml:"entries"`
}

// repoIndexEntry is one chart version of an index (Helm's
// repo.ChartVersion: the chart's metadata, its URLs and digest).
type repoIndexEntry struct {
	Name    string   `yaml:"name"`
	Version string   `yaml:"version"`
	URLs    []string `yaml:"urls"`
	Digest  string   `yaml:"digest"`
}

// chartPick is what a chart repository entry resolved to.
type chartPick struct {
	version string // the chart version
	url     string // its archive's absolute URL
	digest  string // its archive's sha256 (hex), "" when the index has none
}

// IndexURL returns the URL of the index of the chart repository at repo,
// as Helm builds it: REPO/index.yaml.
func IndexURL(repo string) (string, error) {
	u, err := url.Parse(repo)
	if err != nil {
		return "", err
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/index.yaml"
	if u.RawPath != "" {
		u.RawPath = strings.TrimSuffix(u.RawPath, "/") + "/index.yaml"
	}
	return u.String(), nil
}

// ResolveChartURL resolves a chart URL of an index against the repository
// URL repo as Helm does (repo.ResolveReferenceURL): an absolute URL stays
// as it is; a relative one is resolved against repo with a trailing slash,
// and keeps repo's query.
func ResolveChartURL(repo, ref string) (string, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	if r.IsAbs() {
		return ref, nil
	}
	b, err := url.Parse(repo)
	if err != nil {
		return "", err
	}
	b.RawPath = strings.TrimSuffix(b.RawPath, "/") + "/"
	b.Path = strings.TrimSuffix(b.Path, "/") + "/"
	u := b.ResolveReference(r)
	u.RawQuery = b.RawQuery
	return u.String(), nil
}

// RepoChartName returns the full name under which Sync stores version
// version of the chart named chart of the chart repository at repo:
// HOST[:PORT]/PATH/NAME:VERSION, after the repository's URL without its
// scheme, credentials, query and trailing slash
// (https://charts.example/stable, podinfo, 6.7.0 gives
// charts.example/stable/podinfo:6.7.0). Every element of the path and the
// name is lower-cased, each character a registry name cannot hold becomes
// '-', separators at an element's ends are dropped, and empty elements are
// left out; '+' in the version becomes '_' (see pack.HelmTag).
func RepoChartName(repo, chart, version string) (string, error) {
	u, err := url.Parse(repo)
	if err != nil {
		return "", err
	}
	parts := []string{strings.ToLower(u.Host)}
	for _, s := range append(strings.Split(u.Path, "/"), chart) {
		s = strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
				return r
			case r >= 'A' && r <= 'Z':
				return r + 'a' - 'A'
			}
			return '-'
		}, s)
		s = strings.Trim(s, "._-")
		if s != "" {
			parts = append(parts, s)
		}
	}
	name := strings.Join(parts, "/") + ":" + pack.HelmTag(version)
	if !layout.IsFullName(name) {
		return "", fmt.Errorf("repository %s and chart %s make no valid name (%s); the host needs a dot or a port", u.Redacted(), chart, name)
	}
	return name, nil
}

// fetchIndex downloads and parses the index of the chart repository at
// repo.
func (s *syncer) fetchIndex(ctx context.Context, repo string) (*repoIndex, error) {
	iu, err := IndexURL(repo)
	if err != nil {
		return nil, err
	}
	shown := iu
	if u, err := url.Parse(iu); err == nil {
		shown = u.Redacted()
	}
	hc, err := s.opts.Transfer.Connection.HTTPClient()
	if err != nil {
		return nil, err
	}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, iu, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", s.userAgent())
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("chart repository index: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("chart repository index %s: %s", shown, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxIndexSize+1))
	if err != nil {
		return nil, fmt.Errorf("chart repository index %s: %w", shown, err)
	}
	if len(b) > MaxIndexSize {
		return nil, fmt.Errorf("chart repository index %s is larger than %d bytes", shown, MaxIndexSize)
	}
	var idx repoIndex
	if err := yaml.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("chart repository index %s: %v", shown, err)
	}
	if idx.APIVersion == "" {
		return nil, fmt.Errorf("chart repository index %s has no apiVersion: is it a chart repository?", shown)
	}
	return &idx, nil
}

// pickVersion picks the version of chart asked for by want, as Helm's
// IndexFile.Get picks it: a version written exactly as want, else the
// highest that satisfies want as a semver constraint (prereleases only
// when the constraint names one).
func pickVersion(idx *repoIndex, repo, chart, want string) (chartPick, error) {
	vs := slices.DeleteFunc(slices.Clone(idx.Entries[chart]), func(v *repoIndexEntry) bool { return v == nil || v.Version == "" })
	if len(vs) == 0 {
		return chartPick{}, fmt.Errorf("the chart repository %s has no chart %s", redact(repo), chart)
	}
	var best *repoIndexEntry
	var bestV *semver.Version
	for _, v := range vs {
		if v.Version == want {
			best = v
			break
		}
	}
	if best == nil {
		c, err := semver.NewConstraint(want)
		if err != nil {
			return chartPick{}, fmt.Errorf("version %q: %v", want, err)
		}
		for _, v := range vs {
			sv, err := semver.NewVersion(v.Version)
			if err != nil || !c.Check(sv) {
				continue
			}
			if bestV == nil || sv.GreaterThan(bestV) {
				best, bestV = v, sv
			}
		}
	}
	if best == nil {
		have := make([]string, 0, len(vs))
		for _, v := range vs {
			have = append(have, v.Version)
		}
		if len(have) > 10 {
			have = append(have[:10], "…")
		}
		return chartPick{}, fmt.Errorf("the chart repository %s has no version %s of chart %s (it has %s)", redact(repo), want, chart, strings.Join(have, ", "))
	}
	if len(best.URLs) == 0 {
		return chartPick{}, fmt.Errorf("the chart repository %s gives no URL for chart %s %s", redact(repo), chart, best.Version)
	}
	u, err := ResolveChartURL(repo, best.URLs[0])
	if err != nil {
		return chartPick{}, fmt.Errorf("chart %s %s: URL %q: %v", chart, best.Version, best.URLs[0], err)
	}
	p := chartPick{version: best.Version, url: u}
	if best.Digest != "" {
		d := strings.ToLower(strings.TrimPrefix(best.Digest, "sha256:"))
		if b, err := hex.DecodeString(d); err != nil || len(b) != 32 {
			return chartPick{}, fmt.Errorf("chart %s %s: the index's digest %q is no sha256", chart, best.Version, best.Digest)
		}
		p.digest = d
	}
	return p, nil
}

func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return raw
}

func (s *syncer) userAgent() string {
	if ua := s.opts.Transfer.Connection.UserAgent; ua != "" {
		return ua
	}
	return "ocipack"
}

// withUser gives the URL raw (as a lock records it, credentials redacted)
// the credentials of the repository URL repo when both have one host.
func withUser(raw, repo string) string {
	u, err := url.Parse(raw)
	r, rerr := url.Parse(repo)
	if err != nil || rerr != nil || r.User == nil || u.Host != r.Host {
		return raw
	}
	u.User = r.User
	return u.String()
}
