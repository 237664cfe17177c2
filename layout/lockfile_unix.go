//go:build unix && !aix && !solaris

package layout

import (
	"errors"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// lockOpenFlag is how lock files are opened: reading suffices for flock.
const lockOpenFlag = os.O_RDONLY

// openNoFollow is os.OpenFile with O_NOFOLLOW (a link is refused, not
// followed) and O_NONBLOCK (a fifo does not block the open). O_NONBLOCK is
// cleared again once open; openRegular refuses anything but a regular file.
func openNoFollow(p string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(p, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, perm)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		if err := unix.SetNonblock(int(f.Fd()), false); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// tryLockFile tries once to flock f, exclusively or shared. It returns
// false and no error when the lock is held elsewhere.
func tryLockFile(f *os.File, exclusive bool) (bool, error) {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EWOULDBLOCK):
			return false, nil
		case errors.Is(err, unix.EINTR):
			continue
		}
		return false, err
	}
}

// unlockFile releases the lock on f.
func unlockFile(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_UN) }
