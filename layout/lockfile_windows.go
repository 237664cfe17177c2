//go:build windows

package layout

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/windows"
)

// lockOpenFlag is how lock files are opened: reading suffices for
// LockFileEx.
const lockOpenFlag = os.O_RDONLY

// openNoFollow is os.OpenFile: Windows has no O_NOFOLLOW and no fifos that
// block an open; openRegular checks with Lstat before and the handle after
// that it opened the regular file it saw.
func openNoFollow(p string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(p, flag, perm)
}

// errLockViolation is ERROR_LOCK_VIOLATION: the range is locked elsewhere.
const errLockViolation windows.Errno = 33

// tryLockFile tries once to lock the first byte of f, exclusively or
// shared, as github.com/gofrs/flock did, so that older ocipack binaries
// and this one exclude each other. It returns false and no error when the
// lock is held elsewhere.
func tryLockFile(f *os.File, exclusive bool) (bool, error) {
	flags := uint32(windows.LOCKFILE_FAIL_IMMEDIATELY)
	if exclusive {
		flags |= windows.LOCKFILE_EXCLUSIVE_LOCK
	}
	err := windows.LockFileEx(windows.Handle(f.Fd()), flags, 0, 1, 0, &windows.Overlapped{})
	if err == nil || errors.Is(err, windows.Errno(0)) {
		return true, nil
	}
	if errors.Is(err, errLockViolation) || errors.Is(err, windows.ERROR_IO_PENDING) {
		return false, nil
	}
	return false, err
}

// unlockFile releases the lock on f.
func unlockFile(f *os.File) error {
	err := windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &windows.Overlapped{})
	if err != nil && !errors.Is(err, windows.Errno(0)) {
		return err
	}
	return nil
}
