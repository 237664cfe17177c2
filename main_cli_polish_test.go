package main

// Tests of the command line's polish: the progress line of push and pull,
// and ls of untagged layout entries. Every identifier here starts with
// "polish" so as not to clash with the other test files of this package.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"oras.land/oras-go/v2"

	"github.com/ocipack/ocipack/inspect"
	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/transfer"
)

// polishRun runs the command line in-process and fails the test unless it
// exits 0.
func polishRun(t *testing.T, args ...string) string {
	t.Helper()
	return wantExit0(t, args, runCLI(t, 45*time.Second, nil, args...)).stdout
}

// polishTotal matches the total of a progress line: "DONE / TOTAL".
var polishTotal = regexp.MustCompile(` / ([0-9.]+ [KMGTPE]?i?B) `)

// polishCheckBar checks what a transfer's progress line wrote to a
// 60-column terminal: no line reaches the last column, the line says
// ing while it works and past at the end, and the total of the first
// redraw is that of the last.
func polishCheckBar(t *testing.T, out, ing, past string) {
	t.Helper()
	t.Logf("progress output: %q", out)
	lines := strings.FieldsFunc(out, func(r rune) bool { return r == '\r' || r == '\n' })
	if len(lines) < 2 {
		t.Fatalf("%d progress line(s) drawn, want at least a first and a last: %q", len(lines), out)
	}
	for _, l := range lines {
		if n := utf8.RuneCountInString(l); n > 59 {
			t.Errorf("a progress line of %d columns in a 60-column terminal: %q", n, l)
		}
	}
	for _, l := range lines[:len(lines)-1] {
		if !strings.HasPrefix(l, ing+" ") {
			t.Errorf("progress line %q does not start with %q", l, ing)
		}
	}
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, past+" ") || !strings.Contains(last, "100%") {
		t.Errorf("last progress line %q, want %q and 100%%", last, past)
	}
	first, end := polishTotal.FindStringSubmatch(lines[0]), polishTotal.FindStringSubmatch(last)
	if first == nil || end == nil || first[1] != end[1] {
		t.Errorf("the total changed: first redraw %q, last %q", lines[0], last)
	}
}

// TestPolishTransferProgressLine pushes and pulls several blobs with the
// progress line on, as on a 60-column terminal.
func TestPolishTransferProgressLine(t *testing.T) {
	t.Setenv("COLUMNS", "60")
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	work := t.TempDir()
	rng := rand.New(rand.NewPCG(11, 60))
	var args []string
	for i := range 4 {
		data := make([]byte, 200<<10+i*1000)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		p := filepath.Join(work, fmt.Sprintf("file-%d.bin", i))
		testkit.WriteFile(t, p, data)
		args = append(args, p)
	}
	src := filepath.Join(work, "src")
	polishRun(t, append([]string{"pack", src + ":v1"}, args...)...)
	l, err := layout.Open(t.Context(), src)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ref, err := transfer.ParseReference(reg.Ref("apps/polish:v1"))
	if err != nil {
		t.Fatal(err)
	}

	var stderr bytes.Buffer
	onEvent, finish := transfer.NewReporter(&stderr, "pushed", true)
	_, err = transfer.Push(t.Context(), l, "v1", ref, "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, OnEvent: onEvent})
	finish()
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	polishCheckBar(t, stderr.String(), "pushing", "pushed")

	dst, err := layout.OpenOrCreate(t.Context(), filepath.Join(work, "dst"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	stderr.Reset()
	onEvent, finish = transfer.NewReporter(&stderr, "pulled", true)
	_, err = transfer.Pull(t.Context(), ref, dst, "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, OnEvent: onEvent})
	finish()
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	polishCheckBar(t, stderr.String(), "pulling", "pulled")

	// Again: every blob is there already, and the line ends full.
	stderr.Reset()
	onEvent, finish = transfer.NewReporter(&stderr, "pushed", true)
	_, err = transfer.Push(t.Context(), l, "v1", ref, "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}, OnEvent: onEvent})
	finish()
	if err != nil {
		t.Fatalf("second push: %v", err)
	}
	polishCheckBar(t, stderr.String(), "pushing", "pushed")
}

// TestPolishLsUntagged lists the manifests a layout's index.json holds
// without a tag (as crane pull --format=oci writes them) by digest, and
// leaves out referrers, which layout also keeps untagged.
func TestPolishLsUntagged(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	lay := filepath.Join(dir, "lay")
	in := filepath.Join(dir, "in.txt")
	testkit.WriteFile(t, in, []byte("untagged content\n"))
	polishRun(t, "pack", lay+":tagged", in, "-q")
	polishRun(t, "pack", lay+":gone", in, "--annotation", "x=y", "-q")

	// Drop the tag of "gone": its manifest stays listed, untagged.
	l, untagged := openTagged(t, lay, "gone")
	untagged.Annotations = nil
	if err := l.Put(ctx, untagged); err != nil {
		t.Fatal(err)
	}
	if err := l.Untag(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	// A referrer of the tagged manifest: layout lists it untagged too.
	tagged, err := l.Resolve(ctx, "tagged")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := oras.PackManifest(ctx, l, oras.PackManifestVersion1_1, "application/vnd.example.sbom",
		oras.PackManifestOptions{Subject: &tagged})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if untagged.Digest == "" {
		t.Fatal("no entry tagged gone")
	}

	out := polishRun(t, "ls", lay)
	t.Logf("ls:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("ls printed %d lines, want a header, the tag and the untagged entry", len(lines))
	}
	if f := strings.Fields(lines[1]); f[0] != "tagged" || f[1] != tagged.Digest.String() {
		t.Errorf("first row %q, want the tag", lines[1])
	}
	if f := strings.Fields(lines[2]); f[0] != "<none>" || f[1] != untagged.Digest.String() {
		t.Errorf("second row %q, want <none> %s", lines[2], untagged.Digest)
	}
	if strings.Contains(out, ref.Digest.String()) {
		t.Errorf("ls lists the referrer %s as an entry", ref.Digest)
	}

	var entries []inspect.Summary
	if err := json.Unmarshal([]byte(polishRun(t, "ls", lay, "--json")), &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[1].Tag != "" || entries[1].Digest != untagged.Digest || entries[1].Files != 1 {
		t.Errorf("ls --json = %+v, want the tag and the untagged entry (tag \"\", 1 file)", entries)
	}

	// The untagged entry is addressed by its digest.
	polishRun(t, "unpack", lay+"@"+untagged.Digest.String(), "-o", filepath.Join(dir, "out"), "-q")
	if b, err := os.ReadFile(filepath.Join(dir, "out", "in.txt")); err != nil || string(b) != "untagged content\n" {
		t.Errorf("unpack of the untagged entry: %q, %v", b, err)
	}
}
