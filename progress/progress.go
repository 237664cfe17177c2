// Package progress draws a one-line progress display for long work on a
// terminal: bytes done of the total, percentage, rate and time left.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// interval is how often the line is redrawn at most.
const interval = 100 * time.Millisecond

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// Bar is a progress line. A nil *Bar is valid and draws nothing, so callers
// need not check whether progress is wanted. Its methods are safe for
// concurrent use.
type Bar struct {
	w     io.Writer
	label string
	start time.Time
	now   func() time.Time

	mu          sync.Mutex
	last        time.Time
	done, total int64
	drawn       bool
}

// New returns a Bar drawing on w with label in front, or nil when enabled is
// false (for example when w is not a terminal, or with --quiet).
func New(w io.Writer, label string, enabled bool) *Bar {
	if !enabled {
		return nil
	}
	return &Bar{w: w, label: label, start: time.Now(), now: time.Now}
}

// Update records that done of total bytes are done, and redraws the line if
// it was not redrawn in the last 100 ms.
func (b *Bar) Update(done, total int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done, b.total = done, total
	if t := b.now(); t.Sub(b.last) >= interval {
		b.last = t
		b.draw()
	}
}

// Finish draws the final state and ends the line.
func (b *Bar) Finish() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		b.draw()
		fmt.Fprintln(b.w)
		b.drawn = false
	}
}

func (b *Bar) draw() {
	b.drawn = true
	elapsed := b.now().Sub(b.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(b.done) / elapsed
	}
	line := fmt.Sprintf("%s %s", b.label, Bytes(b.done))
	if b.total > 0 {
		pct := float64(b.done) * 100 / float64(b.total)
		line += fmt.Sprintf(" / %s %3.0f%%", Bytes(b.total), pct)
	}
	line += fmt.Sprintf("  %s/s", Bytes(int64(rate)))
	if b.total > b.done && rate > 0 {
		left := time.Duration(float64(b.total-b.done) / rate * float64(time.Second)).Round(time.Second)
		line += fmt.Sprintf("  %s left", left)
	}
	fmt.Fprintf(b.w, "\r%-70s", line)
}

// Bytes formats n bytes for people: "512 B", "1.5 MiB", "40.0 GiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
