package transfer

import (
	"errors"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/graph"
)

// Bounds on what a registry can make a copy list or fetch. A registry that
// is broken or hostile could otherwise keep a listing going forever (a tag
// list or a referrers list whose every page links to a next one) or have a
// blob of no stated size downloaded without limit.
const (
	// MaxTagPages is the most pages of a tag list read (pull --all-tags).
	MaxTagPages = 1000
	// MaxTags is the most tags a tag list may hold.
	MaxTags = 100_000
	// MaxReferrerPages is the most pages of one manifest's referrers list
	// read.
	MaxReferrerPages = 100
	// MaxReferrers is the most referrers (of every manifest of the graph,
	// and of the referrers themselves) one copy carries along.
	MaxReferrers = 10_000
)

// Sentinel errors for content a registry serves that a copy refuses.
var (
	// ErrTooManyPages means a registry kept returning more pages (or
	// entries) of a tag list or a referrers list than the bounds above.
	ErrTooManyPages = errors.New("registry keeps returning more pages")
	// ErrInvalidDescriptor means a manifest describes a blob with a
	// negative size, a size beyond graph.MaxBlobSize, or an invalid digest.
	// It is graph.ErrInvalidDescriptor, so that the errors of the graph
	// walk match it too.
	ErrInvalidDescriptor = graph.ErrInvalidDescriptor
	// ErrUnsupportedGraph means what a pull fetched is a graph that the
	// layout could not keep soundly (a manifest of an unknown media type,
	// one that does not parse, sizes that disagree): verify would report
	// it as damage, so it is not tagged.
	ErrUnsupportedGraph = errors.New("artifact refused")
)

// tooManyError is an ErrTooManyPages that says which listing went on too
// long, and what to do.
type tooManyError struct{ msg string }

func (e *tooManyError) Error() string { return e.msg }

func (e *tooManyError) Unwrap() error { return ErrTooManyPages }

func tooMany(format string, args ...any) error {
	return &tooManyError{msg: fmt.Sprintf(format, args...)}
}

// checkDescriptor refuses a descriptor no blob can have: an invalid
// digest, a negative size, or one beyond graph.MaxBlobSize (see
// graph.CheckDescriptor). A negative size would otherwise have the blob
// downloaded without any limit. in names where the descriptor was found,
// for the error.
func checkDescriptor(d ocispec.Descriptor, in string) error {
	if err := graph.CheckDescriptor(d); err != nil {
		return fmt.Errorf("%w: %s lists %s (%s): %v; refusing to download it", ErrInvalidDescriptor, in, d.Digest, d.MediaType, err)
	}
	return nil
}
