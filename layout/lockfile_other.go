//go:build !windows && !(unix && !aix && !solaris)

package layout

import (
	"errors"
	"io/fs"
	"os"
)

// lockOpenFlag is how lock files are opened.
const lockOpenFlag = os.O_RDWR

// openNoFollow is os.OpenFile; openRegular checks with Lstat before and
// the file after that it opened the regular file it saw.
func openNoFollow(p string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(p, flag, perm)
}

// errNoLocks says that this system has no file locks ocipack can use.
var errNoLocks = errors.New("file locks are not supported on this system")

func tryLockFile(*os.File, bool) (bool, error) { return false, errNoLocks }

func unlockFile(*os.File) error { return nil }
