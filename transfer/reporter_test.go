package transfer

import (
	"bytes"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestReporterPlainLines: without a terminal, one line a blob done or
// skipped, nothing for the other events.
func TestReporterPlainLines(t *testing.T) {
	var w bytes.Buffer
	a := ocispec.Descriptor{MediaType: "application/x-a", Digest: digest.FromString("a"), Size: 2048}
	b := ocispec.Descriptor{MediaType: "application/x-b", Digest: digest.FromString("b"), Size: 10}
	onEvent, finish := NewReporter(&w, "pushed", false)
	onEvent(Event{Kind: BlobPlanned, Descriptor: a})
	onEvent(Event{Kind: BlobStarted, Descriptor: a})
	onEvent(Event{Kind: BlobProgress, Descriptor: a, Bytes: 1024})
	onEvent(Event{Kind: BlobDone, Descriptor: a, Bytes: 2048})
	onEvent(Event{Kind: BlobSkipped, Descriptor: b})
	finish()
	want := "pushed " + a.Digest.String() + " 2.0 KiB application/x-a\n" +
		"skipped " + b.Digest.String() + " 10 B (already there)\n"
	if w.String() != want {
		t.Errorf("got\n%q\nwant\n%q", w.String(), want)
	}
}

// TestReporterLine: on a terminal, one progress line whose total is the
// planned blobs' from the first draw, a retried blob counted once, a
// skipped blob counted as done, and an unplanned blob (a referrer's) left
// out; finish ends it with the verb.
func TestReporterLine(t *testing.T) {
	t.Setenv("COLUMNS", "80")
	var w bytes.Buffer
	a := ocispec.Descriptor{Digest: digest.FromString("a"), Size: 3 << 20}
	b := ocispec.Descriptor{Digest: digest.FromString("b"), Size: 1 << 20}
	r := ocispec.Descriptor{Digest: digest.FromString("r"), Size: 50 << 20}
	onEvent, finish := NewReporter(&w, "pulled", true)
	onEvent(Event{Kind: BlobPlanned, Descriptor: a})
	onEvent(Event{Kind: BlobPlanned, Descriptor: b})
	onEvent(Event{Kind: BlobPlanned, Descriptor: a}) // planned twice: counted once
	onEvent(Event{Kind: BlobStarted, Descriptor: a})
	onEvent(Event{Kind: BlobProgress, Descriptor: a, Bytes: 2 << 20})
	onEvent(Event{Kind: BlobStarted, Descriptor: a}) // a retry starts over
	onEvent(Event{Kind: BlobDone, Descriptor: a, Bytes: 3 << 20})
	onEvent(Event{Kind: BlobStarted, Descriptor: r})
	onEvent(Event{Kind: BlobDone, Descriptor: r, Bytes: 50 << 20})
	onEvent(Event{Kind: BlobSkipped, Descriptor: b})
	finish()
	out := w.String()
	if !strings.Contains(out, "pulling") || !strings.Contains(out, "pulled") {
		t.Errorf("no pulling/pulled line: %q", out)
	}
	if strings.Contains(out, "50.0 MiB") || strings.Contains(out, "53.0 MiB") || strings.Contains(out, "54.0 MiB") {
		t.Errorf("the unplanned 50 MiB blob shows in the line: %q", out)
	}
	if !strings.Contains(out, "4.0 MiB") {
		t.Errorf("the line does not show the 4.0 MiB total: %q", out)
	}
	if strings.Contains(out, "5.0 MiB") || strings.Contains(out, "6.0 MiB") || strings.Contains(out, "7.0 MiB") {
		t.Errorf("the line counts a blob twice: %q", out)
	}
}
