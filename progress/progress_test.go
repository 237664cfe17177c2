package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestBytes(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{1 << 20, "1.0 MiB"}, {40 << 30, "40.0 GiB"}, {3 << 40, "3.0 TiB"},
	} {
		if got := Bytes(c.n); got != c.want {
			t.Errorf("Bytes(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

func TestNilBarIsSilent(t *testing.T) {
	b := New(&bytes.Buffer{}, "x", false)
	if b != nil {
		t.Fatal("New with enabled=false returned a Bar")
	}
	b.Update(1, 2) // must not panic
	b.Finish()
}

func TestBarDrawsAndThrottles(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1000, 0)
	b := New(&buf, "packing", true)
	b.start = now
	b.now = func() time.Time { return now }

	now = now.Add(time.Second)
	b.Update(512<<20, 1<<30) // first update draws
	first := buf.String()
	if !strings.Contains(first, "packing 512.0 MiB / 1.0 GiB  50%") || !strings.Contains(first, "512.0 MiB/s") || !strings.Contains(first, "1s left") {
		t.Fatalf("first draw = %q", first)
	}
	b.Update(600<<20, 1<<30) // within 100 ms: not drawn
	if buf.String() != first {
		t.Fatalf("update within the interval redrew: %q", buf.String())
	}
	now = now.Add(time.Second)
	b.Update(1<<30, 1<<30)
	if !strings.Contains(buf.String(), "1.0 GiB / 1.0 GiB 100%") {
		t.Fatalf("second draw missing: %q", buf.String())
	}
	b.Finish()
	if !strings.HasSuffix(buf.String(), "\n") {
		t.Fatalf("Finish did not end the line: %q", buf.String())
	}
	n := buf.Len()
	b.Finish() // a second Finish adds nothing
	if buf.Len() != n {
		t.Fatalf("second Finish wrote %q", buf.String()[n:])
	}
}

// visibleLines splits what a Bar wrote into the lines a terminal shows one
// after another: a redraw starts with \r, a finished line ends with \n.
func visibleLines(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' })
}

// TestBarFitsNarrowTerminal: in a 60-column terminal no redraw may reach
// the last column, or every redraw wraps and leaves a stale line behind.
func TestBarFitsNarrowTerminal(t *testing.T) {
	t.Setenv("COLUMNS", "60")
	var buf bytes.Buffer
	now := time.Unix(1000, 0)
	b := New(&buf, "pushing", true)
	b.start = now
	b.now = func() time.Time { return now }
	for i := int64(1); i <= 10; i++ {
		now = now.Add(time.Second)
		b.Update(i*(100<<20)+12345, 1000<<20+7)
	}
	b.Finish()
	lines := visibleLines(buf.String())
	if len(lines) < 10 {
		t.Fatalf("%d lines drawn, want at least 10: %q", len(lines), buf.String())
	}
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > 59 {
			t.Errorf("a line of %d columns in a 60-column terminal: %q", n, l)
		}
	}
}

func TestBarWidthOption(t *testing.T) {
	t.Setenv("COLUMNS", "200") // the option wins
	for _, width := range []int{2, 8, 20, 30, 40, 60, 80} {
		var buf bytes.Buffer
		now := time.Unix(1000, 0)
		b := New(&buf, "a-rather-long-label-for-the-work", true, Width(width), Final("done"))
		b.start = now
		b.now = func() time.Time { return now }
		now = now.Add(3 * time.Second)
		b.UpdateSkipping(400<<20, 100<<20, 4<<30)
		now = now.Add(time.Second)
		b.Update(4<<30, 4<<30)
		b.Finish()
		for _, l := range visibleLines(buf.String()) {
			if n := utf8.RuneCountInString(l); n != width-1 {
				t.Errorf("width %d: a line of %d columns, want exactly %d (padded): %q", width, n, width-1, l)
			}
		}
		if width >= 40 {
			first := visibleLines(buf.String())[0]
			if !strings.Contains(first, "400.0 MiB / 4.0 GiB  10%") {
				t.Errorf("width %d: the counts were cut: %q", width, first)
			}
		}
		if width == 80 {
			// The rate counts only the bytes moved: 300 MiB in 3 s.
			if first := visibleLines(buf.String())[0]; !strings.Contains(first, "100.0 MiB/s") {
				t.Errorf("rate counts skipped bytes: %q", first)
			}
		}
	}
}

func TestBarFinalLabel(t *testing.T) {
	for _, c := range []struct {
		done int64
		want string
	}{{100, "pushed 100 B / 100 B 100%"}, {40, "pushing 40 B / 100 B  40%"}} {
		var buf bytes.Buffer
		b := New(&buf, "pushing", true, Width(60), Final("pushed"))
		b.Update(c.done, 100)
		b.Finish()
		lines := visibleLines(buf.String())
		if last := lines[len(lines)-1]; !strings.HasPrefix(last, c.want) {
			t.Errorf("done %d of 100: last line %q, want it to start with %q", c.done, last, c.want)
		}
	}
}
