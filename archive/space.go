package archive

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ocipack/ocipack/progress"
)

// FreeSpace returns the bytes available to this user on the file system
// holding path. When path does not exist yet, its nearest existing parent
// is asked. On platforms where free space cannot be asked, and on file
// systems that do not know it (they report no size at all, as proc and
// some FUSE file systems do), it fails with an error matching
// errors.ErrUnsupported.
func FreeSpace(path string) (int64, error) {
	p, err := existingAncestor(path)
	if err != nil {
		return 0, err
	}
	n, err := freeSpace(p)
	if err != nil {
		return 0, fmt.Errorf("free space on %s: %w", p, err)
	}
	return n, nil
}

// CheckSpace fails with ErrNoSpace, saying "need X, Y free on PATH", when
// the file system holding path has fewer than need bytes available.
//
// When the free space cannot be read (statfs fails, the file system does
// not know it, or the platform has no way to ask), the check is skipped
// with no error, as on a system without df: it never claims "0 B free".
// The write that follows then reports the real failure, ENOSPC ("no space
// left on device") included, naming the file.
func CheckSpace(path string, need int64) error {
	return checkSpace(nil, path, need)
}

// checkSpace is CheckSpace with an injectable free-space function (nil
// means FreeSpace).
func checkSpace(fn func(string) (int64, error), path string, need int64) error {
	if need <= 0 {
		return nil
	}
	if fn == nil {
		fn = FreeSpace
	}
	free, err := fn(path)
	if err != nil {
		return nil // unknown: see CheckSpace
	}
	if free < need {
		return fmt.Errorf("%w: need %s, %s free on %s", ErrNoSpace, progress.Bytes(need), progress.Bytes(free), path)
	}
	return nil
}

// existingAncestor returns path, or its nearest parent that exists.
func existingAncestor(path string) (string, error) {
	p, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", fmt.Errorf("free space on %s: no existing directory", path)
		}
		p = parent
	}
}
