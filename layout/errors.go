package layout

import (
	"errors"

	"oras.land/oras-go/v2/errdef"
)

// Sentinel errors. Test for them with errors.Is.
var (
	// ErrNotFound means a tag, digest or blob is not in the layout. It
	// matches oras-go's errdef.ErrNotFound too, so oras.Copy understands it.
	ErrNotFound = errdef.ErrNotFound
	// ErrAlreadyExists is returned by Push when the blob is already stored;
	// it matches oras-go's errdef.ErrAlreadyExists, which oras.Copy ignores.
	ErrAlreadyExists = errdef.ErrAlreadyExists
	// ErrNotLayout means a directory is not an OCI image layout.
	ErrNotLayout = errors.New("not an OCI image layout")
	// ErrInvalidReference means a layout reference or tag could not be parsed.
	ErrInvalidReference = errors.New("invalid reference")
	// ErrDigestMismatch means content did not hash to the digest expected.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrSizeMismatch means content was not the size expected.
	ErrSizeMismatch = errors.New("size mismatch")
	// ErrCorrupt means a file of the layout itself (oci-layout, index.json,
	// a manifest) could not be parsed.
	ErrCorrupt = errors.New("corrupt layout")
	// ErrUnsafeLayout means a directory or lock file that ocipack itself
	// uses inside a layout (blobs/, blobs/<algorithm>/, .ocipack/,
	// .ocipack/tmp/, the lock files) is a symbolic link, or not what it
	// should be (a fifo where a lock file belongs, a file where a directory
	// belongs). ocipack refuses such a layout as a whole rather than follow
	// the link out of it or block on the fifo.
	ErrUnsafeLayout = errors.New("unsafe layout")
)
