package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
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
