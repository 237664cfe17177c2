package transfer

import (
	"fmt"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/ocipack/ocipack/progress"
)

// NewReporter returns an Options.OnEvent that shows a transfer's progress
// on w, and a function to call once the transfer is over (it ends the
// progress line). verb is "pushed", "pulled" or "copied".
//
// With terminal set, it draws one progress line. The line counts the blobs
// (layers and configs) of the graph: their total is known before the first
// starts (BlobPlanned), so it stays the same throughout; a blob the
// destination has counts as done. Blobs not planned (those of referrers)
// are left out of the line. Without terminal, it prints one plain line a
// blob. The returned functions are safe for concurrent use.
func NewReporter(w io.Writer, verb string, terminal bool) (onEvent func(Event), finish func()) {
	if terminal {
		ing := map[string]string{"pushed": "pushing", "pulled": "pulling", "copied": "copying"}[verb]
		bar := progress.New(w, ing, true, progress.Final(verb))
		var mu sync.Mutex
		var total, done, skipped int64
		planned := map[digest.Digest]bool{}
		perBlob := map[digest.Digest]int64{} // bytes counted as done so far
		return func(ev Event) {
			mu.Lock()
			defer mu.Unlock()
			d := ev.Descriptor
			if ev.Kind == BlobPlanned {
				if !planned[d.Digest] {
					planned[d.Digest] = true
					total += d.Size
				}
				return // drawn once the transfer starts, with the whole total
			}
			if !planned[d.Digest] {
				return
			}
			switch ev.Kind {
			case BlobStarted:
				done -= perBlob[d.Digest] // a retried blob starts over
				perBlob[d.Digest] = 0
			case BlobProgress, BlobDone:
				done += ev.Bytes - perBlob[d.Digest]
				perBlob[d.Digest] = ev.Bytes
			case BlobSkipped:
				if perBlob[d.Digest] < d.Size {
					skipped += d.Size - perBlob[d.Digest]
					done += d.Size - perBlob[d.Digest]
					perBlob[d.Digest] = d.Size
				}
			}
			bar.UpdateSkipping(done, skipped, total)
		}, bar.Finish
	}
	var mu sync.Mutex
	return func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		switch ev.Kind {
		case BlobDone:
			fmt.Fprintf(w, "%s %s %s %s\n", verb, ev.Descriptor.Digest, progress.Bytes(ev.Descriptor.Size), ev.Descriptor.MediaType)
		case BlobSkipped:
			fmt.Fprintf(w, "skipped %s %s (already there)\n", ev.Descriptor.Digest, progress.Bytes(ev.Descriptor.Size))
		}
	}, func() {}
}
