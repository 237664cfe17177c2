// Package progress draws a one-line progress display for long work on a
// terminal: bytes done of the total, percentage, rate and time left.
package progress

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// interval is how often the line is redrawn at most.
const interval = 100 * time.Millisecond

// defaultWidth is the terminal width assumed when it cannot be read.
const defaultWidth = 80

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// Bar is a progress line. A nil *Bar is valid and draws nothing, so callers
// need not check whether progress is wanted. Its methods are safe for
// concurrent use.
//
// The line is fitted to the terminal's width, read at every redraw, so
// that it never wraps: it is at most width-1 columns, and padded with
// spaces to exactly that to clear what the previous redraw left.
type Bar struct {
	w     io.Writer
	label string
	final string
	width int // 0: read the terminal's width at every redraw
	start time.Time
	now   func() time.Time

	mu                   sync.Mutex
	last                 time.Time
	done, skipped, total int64
	drawn                bool
}

// Option changes how a Bar draws.
type Option func(*Bar)

// Final sets the label of the last line Finish draws when the work is
// complete, in the past tense: "pushed" for a Bar labelled "pushing". By
// default the label stays as it is.
func Final(label string) Option { return func(b *Bar) { b.final = label } }

// Width fixes the width of the terminal, in columns, instead of reading it
// from the COLUMNS environment variable or the terminal itself.
func Width(columns int) Option { return func(b *Bar) { b.width = columns } }

// New returns a Bar drawing on w with label in front, or nil when enabled is
// false (for example when w is not a terminal, or with --quiet).
func New(w io.Writer, label string, enabled bool, opts ...Option) *Bar {
	if !enabled {
		return nil
	}
	b := &Bar{w: w, label: label, start: time.Now(), now: time.Now}
	for _, o := range opts {
		o(b)
	}
	return b
}

// Update records that done of total bytes are done, and redraws the line if
// it was not redrawn in the last 100 ms.
func (b *Bar) Update(done, total int64) {
	b.UpdateSkipping(done, 0, total)
}

// UpdateSkipping is Update for work that skips some bytes (blobs the
// destination has already): done counts them, skipped says how many of
// done they are, so that the rate shown counts only the bytes moved.
func (b *Bar) UpdateSkipping(done, skipped, total int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done, b.skipped, b.total = done, skipped, total
	if t := b.now(); t.Sub(b.last) >= interval {
		b.last = t
		b.draw(b.label)
	}
}

// Finish draws the final state and ends the line. The last line carries
// the Final label when the work is complete (done reached the total).
func (b *Bar) Finish() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		label := b.label
		if b.final != "" && b.done >= b.total {
			label = b.final
		}
		b.draw(label)
		fmt.Fprintln(b.w)
		b.drawn = false
	}
}

// columns is the width of the terminal: the Width option, else COLUMNS,
// else the terminal's own, else 80.
func (b *Bar) columns() int {
	if b.width > 0 {
		return b.width
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if f, ok := b.w.(interface{ Fd() uintptr }); ok {
		if n, _, err := term.GetSize(int(f.Fd())); err == nil && n > 0 {
			return n
		}
	}
	return defaultWidth
}

func (b *Bar) draw(label string) {
	b.drawn = true
	width := b.columns() - 1 // the last column would wrap on some terminals
	fmt.Fprintf(b.w, "\r%s", pad(b.line(label, width), width))
}

// line is the progress line for label, at most width columns. What does
// not fit is left out, least useful first: the time left, the rate, then
// the end of the label.
func (b *Bar) line(label string, width int) string {
	counts := " " + Bytes(b.done)
	if b.total > 0 {
		pct := float64(b.done) * 100 / float64(b.total)
		counts += fmt.Sprintf(" / %s %3.0f%%", Bytes(b.total), pct)
	}
	elapsed := b.now().Sub(b.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(b.done-b.skipped) / elapsed
	}
	rateText := fmt.Sprintf("  %s/s", Bytes(int64(rate)))
	left := ""
	if b.total > b.done && rate > 0 {
		d := time.Duration(float64(b.total-b.done) / rate * float64(time.Second)).Round(time.Second)
		left = fmt.Sprintf("  %s left", d)
	}
	for _, l := range []string{
		label + counts + rateText + left,
		label + counts + rateText,
		label + counts,
	} {
		if utf8.RuneCountInString(l) <= width {
			return l
		}
	}
	if room := width - utf8.RuneCountInString(counts); room >= 2 {
		return cut(label, room-1) + "…" + counts
	}
	return cut(strings.TrimPrefix(counts, " "), width)
}

// cut returns the first n runes of s.
func cut(s string, n int) string {
	if n <= 0 {
		return ""
	}
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// pad pads s with spaces to width columns.
func pad(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s
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
