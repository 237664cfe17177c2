//go:build windows

package archive

import "golang.org/x/sys/windows"

// freeSpace asks GetDiskFreeSpaceEx for the bytes available to the caller.
func freeSpace(path string) (int64, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return 0, err
	}
	var avail, total, free uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &total, &free); err != nil {
		return 0, err
	}
	return int64(avail), nil
}
