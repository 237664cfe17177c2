package transfer_test

import (
	"testing"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/transfer"
)

// TestBlobPlannedBeforeFirstStart: a copy reports every blob of the graph
// as planned before the first blob starts, so that a progress line can
// show a total that does not grow; both ways.
func TestBlobPlannedBeforeFirstStart(t *testing.T) {
	ctx := testCtx(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	src, g, _ := packExample(t)

	check := func(what string, ev *events) {
		t.Helper()
		var planned int64
		n := 0
		for _, e := range ev.all {
			if e.Kind == transfer.BlobStarted {
				break
			}
			if e.Kind == transfer.BlobPlanned {
				planned += e.Descriptor.Size
				n++
			}
		}
		if n != len(g.blobs) || planned != g.blobBytes() {
			t.Errorf("%s: %d blob(s) of %d bytes planned before the first started, want %d of %d", what, n, planned, len(g.blobs), g.blobBytes())
		}
		if got := ev.digests(transfer.BlobPlanned); len(got) != n {
			t.Errorf("%s: %d distinct blobs planned, %d planned before the first started", what, len(got), n)
		}
	}
	ref := regRef(t, reg, "apps/bundle:v1")
	var push events
	if _, err := transfer.Push(ctx, src, "v1", ref, "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, OnEvent: push.on}); err != nil {
		t.Fatalf("push: %v", err)
	}
	check("push", &push)
	var pull events
	if _, err := transfer.Pull(ctx, ref, testkit.NewLayout(t), "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, OnEvent: pull.on}); err != nil {
		t.Fatalf("pull: %v", err)
	}
	check("pull", &pull)
}
