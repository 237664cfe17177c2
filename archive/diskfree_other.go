//go:build !linux && !darwin && !freebsd && !windows

package archive

import "errors"

// freeSpace is not implemented on this platform: the space checks pass.
func freeSpace(string) (int64, error) { return 0, errors.ErrUnsupported }
