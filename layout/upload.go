package layout

import (
	"fmt"
	"os"
	"path/filepath"
)

// CreateTemp creates a new file in the layout's temporary area
// (.ocipack/tmp), named prefix followed by a random string, for content
// whose digest is not known yet (an upload to a registry served from the
// layout, see package serve); the caller stores it with Push once it is
// complete, and removes the file. `ocipack gc` removes such files as every
// other temporary file, and `ocipack verify` lists them as warnings.
// prefix must be a plain file name.
func (l *Layout) CreateTemp(prefix string) (*os.File, error) {
	if prefix == "" || filepath.Base(prefix) != prefix || prefix[0] == '.' {
		return nil, fmt.Errorf("temporary file prefix %q: %w", prefix, ErrInvalidReference)
	}
	if err := l.ensureDirs(); err != nil {
		return nil, err
	}
	return os.CreateTemp(filepath.Join(l.root, WorkDir, tmpName), prefix+"*")
}
