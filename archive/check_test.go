package archive_test

import (
	"context"
	"testing"

	"github.com/ocipack/ocipack/archive"
	"github.com/ocipack/ocipack/layout"
)

func TestCheckWholeArchive(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for _, name := range []string{"all.tar", "all.tar.zst"} {
		p, rep := exportFile(t, f.l, nil, name, archive.ExportOptions{Compression: archive.CompressionFor(name)})
		got, err := archive.Check(ctx, p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Blobs != rep.Blobs || len(got.Tags) != 3 || len(got.Required) != 0 {
			t.Fatalf("%s: Check = %+v, export wrote %d blobs of 3 tags", name, got, rep.Blobs)
		}
	}

	// Split volumes are checked whole from the first one.
	p, rep := exportFile(t, f.l, nil, "split.tar", archive.ExportOptions{Split: 64 << 10})
	got, err := archive.Check(ctx, archive.VolumeName(p, 1))
	if err != nil || got.Blobs != rep.Blobs {
		t.Fatalf("split: Check = %+v, %v; want %d blobs", got, err, rep.Blobs)
	}

	// A flipped byte is named by its blob's digest.
	p, _ = exportFile(t, f.l, nil, "tampered.tar", archive.ExportOptions{})
	flipByteOf(t, p, f.files["b.bin"])
	_, err = archive.Check(ctx, p)
	mustIs(t, err, layout.ErrDigestMismatch)
	contains(t, err, blobDigestOf(t, f.l, "v1", "b.bin").String())

	// A delta lists what it leaves out.
	old, _ := exportFile(t, f.l, []string{"v1"}, "old.tar", archive.ExportOptions{})
	since, err := archive.DigestsOfArchive(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	delta, _ := exportFile(t, f.l, nil, "delta.tar", archive.ExportOptions{Since: since})
	got, err = archive.Check(ctx, delta)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Required) == 0 {
		t.Fatalf("delta: Check lists no required blobs: %+v", got)
	}
}
