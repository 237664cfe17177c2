package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/graph"
)

// LockVersion is the version of the lock file format Sync writes.
const LockVersion = 1

// Lock is what a bundle file resolved to, written beside it (see LockPath).
type Lock struct {
	// Version is LockVersion.
	Version int `json:"version"`
	// Entries are the bundle file's entries, in its order.
	Entries []LockEntry `json:"entries"`
	// Stale are entries Sync added that the bundle file no longer lists
	// and that were not pruned yet; Prune untags them.
	Stale []LockEntry `json:"stale,omitempty"`
}

// LockEntry is one entry of a Lock.
type LockEntry struct {
	// Name is the entry's name in the layout.
	Name string `json:"name"`
	// Kind is image, chart or file.
	Kind Kind `json:"kind"`
	// Source says where the entry comes from, as the bundle file says it:
	// the reference and its platforms, the URL and its sha256, or the
	// path. The bundle file and the lock agree on an entry when their
	// Sources are equal.
	Source string `json:"source"`
	// Resolved is what the source resolved to: the registry's manifest
	// digest (before a platform subset), or the sha256 of a file's content
	// (of a directory: of its tree, see treeDigest).
	Resolved string `json:"resolved"`
	// Digest is the manifest digest the entry has in the layout.
	Digest string `json:"digest"`
	// Size is the size of the entry's graph in the layout, in bytes.
	Size int64 `json:"size"`
	// Version is the version a chart of a chart repository resolved to,
	// and URL the URL its archive was fetched from; Resolved is then the
	// archive's sha256.
	Version string `json:"version,omitempty"`
	URL     string `json:"url,omitempty"`
	// Chart is, for an image a chart lists (images: true), the name of the
	// chart's entry.
	Chart string `json:"chart,omitempty"`
}

// LockPath returns the lock file of the bundle file path: bundle.yaml's is
// bundle.lock, beside it.
func LockPath(path string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + ".lock"
}

// ReadLock reads the lock file at path. A missing file is an empty lock
// and no error.
func ReadLock(path string) (*Lock, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &Lock{Version: LockVersion}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	var l Lock
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("%w: lock file %s: %v", ErrInvalid, path, err)
	}
	if l.Version != LockVersion {
		return nil, fmt.Errorf("%w: lock file %s: version %d, this ocipack reads %d", ErrInvalid, path, l.Version, LockVersion)
	}
	return &l, nil
}

// Write writes the lock to path, whole or not at all (a temporary file
// renamed over it).
func (l *Lock) Write(path string) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".bundle-lock-*")
	if err != nil {
		return fmt.Errorf("write lock file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write lock file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write lock file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write lock file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write lock file: %w", err)
	}
	return nil
}

// find returns the entry named name, or nil.
func (l *Lock) find(name string) *LockEntry {
	for i := range l.Entries {
		if l.Entries[i].Name == name {
			return &l.Entries[i]
		}
	}
	return nil
}

// findSource returns the entry of source src, or nil.
func (l *Lock) findSource(src string) *LockEntry {
	for i := range l.Entries {
		if l.Entries[i].Source == src {
			return &l.Entries[i]
		}
	}
	return nil
}

// source returns the source of e as a LockEntry records it, with the
// platforms an image is limited to (its own, else the default ones).
func source(e Entry, platforms []ocispec.Platform) string {
	switch {
	case e.Repo != "":
		return "repo " + redact(e.Repo) + " chart " + e.ChartName + " version " + e.Version
	case e.URL != "":
		return e.URL + " sha256:" + e.SHA256
	case e.PathAsWritten != "":
		return "path " + e.PathAsWritten
	case e.Path != "":
		return "path " + e.Path
	}
	s := e.Ref
	if len(platforms) > 0 {
		ps := make([]string, len(platforms))
		for i, p := range platforms {
			ps[i] = graph.FormatPlatform(p)
		}
		s += " platforms " + strings.Join(ps, ",")
	}
	return s
}
