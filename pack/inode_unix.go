//go:build unix

package pack

import (
	"os"
	"syscall"
)

// fileID identifies a file on disk, to find hard links.
type fileID struct{ dev, ino uint64 }

// linkID returns the identity of a regular file that has more than one hard
// link, so that the second and later names become tar hard links.
func linkID(fi os.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Nlink < 2 {
		return fileID{}, false
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, true //nolint:unconvert // Dev is int32 on darwin
}
