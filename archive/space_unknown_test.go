package archive_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/ocipack/ocipack/archive"
)

// TestUnknownFreeSpace: when the free space cannot be read (the query
// fails, or the file system does not know it), export and import skip the
// check instead of claiming 0 B free; the writes report a real shortage.
func TestUnknownFreeSpace(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	unknown := func(string) (int64, error) {
		return 0, errors.New("statfs: function not implemented")
	}
	out := filepath.Join(t.TempDir(), "x.tar")
	if _, err := archive.ExportFile(ctx, f.l, nil, out, archive.ExportOptions{FreeSpace: unknown}); err != nil {
		t.Fatalf("export with the free space unknown: %v", err)
	}
	dst := partialTarget(t, f)
	if _, err := archive.Import(ctx, []string{out}, dst, archive.ImportOptions{FreeSpace: unknown}); err != nil {
		t.Fatalf("import with the free space unknown: %v", err)
	}
}
