//go:build !unix

package pack

import "os"

// fileID identifies a file on disk, to find hard links.
type fileID struct{ dev, ino uint64 }

// linkID reports no hard links where the platform does not expose inode
// numbers through os.FileInfo: such files are packed as separate copies.
func linkID(os.FileInfo) (fileID, bool) { return fileID{}, false }
