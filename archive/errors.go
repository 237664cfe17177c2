package archive

import (
	"errors"
	"fmt"

	"github.com/ocipack/ocipack/layout"
)

// Sentinel errors. Test for them with errors.Is. The error returned also
// names the file, volume or digest at fault.
var (
	// ErrTampered means content in an archive does not match its digest or
	// size: a blob, or a volume's payload. It wraps layout.ErrDigestMismatch,
	// so errors.Is(err, layout.ErrDigestMismatch) holds too (and, for a
	// wrong size, errors.Is(err, layout.ErrSizeMismatch)).
	ErrTampered error = &sentinel{msg: "archive tampered or damaged", is: layout.ErrDigestMismatch}
	// ErrMissingVolume means a volume of a split archive was not given (or
	// could not be found next to the others).
	ErrMissingVolume = errors.New("missing volume")
	// ErrForeignVolume means a volume belongs to another archive than the
	// other volumes given, or was given twice with different content.
	ErrForeignVolume = errors.New("volume of another archive")
	// ErrTruncated means an archive or a volume ends before its end: a
	// copy was cut short.
	ErrTruncated = errors.New("archive truncated")
	// ErrIncompleteDelta means a delta archive needs blobs that the target
	// layout does not hold: import it into a layout that holds the archive
	// or layout it was made against.
	ErrIncompleteDelta = errors.New("incomplete delta")
	// ErrIncomplete means a (non-delta) archive does not hold every blob
	// its tags need, and the target does not hold them either.
	ErrIncomplete = errors.New("archive incomplete")
	// ErrNoSpace means the destination file system has less free space than
	// the export or import needs. Nothing was written.
	ErrNoSpace = errors.New("not enough free space")
	// ErrUnsafeEntry means an archive holds an entry that could write
	// outside its directory or is not a plain file or directory: an
	// absolute name, a ".." component, a link, a device or a fifo.
	ErrUnsafeEntry = errors.New("unsafe archive entry")
	// ErrNotArchive means a file is not an OCI image layout archive: not a
	// tar (plain, gzip or zstd), or without index.json.
	ErrNotArchive = errors.New("not an OCI layout archive")
	// ErrDuplicateEntry means an archive holds the same layout file twice:
	// two index.json, oci-layout or contents list entries, or two entries
	// for one blob. Readers would disagree on which one counts, so every
	// reader (Import, Open, Check) refuses such an archive. It matches
	// ErrNotArchive too.
	ErrDuplicateEntry error = &sentinel{msg: "duplicate archive entry", is: ErrNotArchive}
)

// sentinel is an error that also matches another sentinel.
type sentinel struct {
	msg string
	is  error
}

func (s *sentinel) Error() string        { return s.msg }
func (s *sentinel) Is(target error) bool { return target == s.is }

// tampered wraps a verification error from the layout package (digest or
// size mismatch) as ErrTampered, keeping both in the chain.
func tampered(err error) error {
	if errors.Is(err, layout.ErrDigestMismatch) || errors.Is(err, layout.ErrSizeMismatch) {
		if errors.Is(err, ErrTampered) {
			return err
		}
		return fmt.Errorf("%w: %w", ErrTampered, err)
	}
	return err
}
