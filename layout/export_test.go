package layout

import "os"

// The segment files of a Writer, for the tests.

func (p *Writer) Segments() ([]segment, error) { return p.segments() }

func (p *Writer) OpenSegment(start int64) (*os.File, error) { return p.openSegment(start) }

func (p *Writer) TruncateSegment(start, n int64) error { return p.truncateSegment(start, n) }
