//go:build !unix

package pack

import "os"

// openFile opens the regular file p for reading.
func openFile(p string) (*os.File, error) { return os.Open(p) }
