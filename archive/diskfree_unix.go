//go:build linux || darwin || freebsd

package archive

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// freeSpace asks statfs(2) for the blocks available to unprivileged users.
// A file system that reports no blocks at all (proc, sysfs, some FUSE
// file systems) does not know its free space: that is ErrUnsupported, not
// 0 bytes free.
func freeSpace(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	if st.Blocks == 0 {
		return 0, fmt.Errorf("the file system reports no size: %w", errors.ErrUnsupported)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil //nolint:unconvert // field types differ by platform
}
