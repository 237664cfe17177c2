//go:build linux

package hashcopy

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteBack starts writing n bytes of f from off back to disk,
// without waiting. It reports false when the file does not support it.
func startWriteBack(f *os.File, off, n int64) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	}); err != nil {
		return false
	}
	// Only a file that cannot do it (a pipe: ESPIPE; some file systems:
	// EINVAL, ENOSYS) stops the attempts; a transient failure is left to
	// the final fsync to report.
	return serr != unix.ESPIPE && serr != unix.EINVAL && serr != unix.ENOSYS
}
