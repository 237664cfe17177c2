package layout

import (
	"context"
	"os"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// What the tests reach inside a layout to build damaged or odd fixtures;
// the package keeps these unexported.

// BlobPath is where l stores the blob of digest d.
func (l *Layout) BlobPath(d digest.Digest) string { return l.blobPath(d) }

// UpdateIndex rewrites index.json under the layout's lock.
func (l *Layout) UpdateIndex(ctx context.Context, fn func(*ocispec.Index) error) error {
	return l.updateIndex(ctx, fn)
}

// Exclusive runs fn while no other writer is at work.
func (l *Layout) Exclusive(ctx context.Context, fn func() error) error { return l.exclusive(ctx, fn) }

// The segment files of a Writer, for the tests.

func (p *Writer) Segments() ([]segment, error) { return p.segments() }

func (p *Writer) OpenSegment(start int64) (*os.File, error) { return p.openSegment(start) }

func (p *Writer) TruncateSegment(start, n int64) error { return p.truncateSegment(start, n) }

// TempDir is the layout's directory for temporary files.
func (l *Layout) TempDir() string { return l.tempDir() }
