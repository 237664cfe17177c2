package testkit

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// PartContent is the content of the file of its own that artifact i of
// PackTagged holds: "part i\n", 10+i times.
func PartContent(i int) []byte {
	return []byte(strings.Repeat(fmt.Sprintf("part %d\n", i), 10+i))
}

// PackTagged makes n artifacts, tagged t00, t01, …: each one file of its
// own (part-NN.txt in a temporary directory, with PartContent(NN)) and the
// file shared, which they all hold. packOne packs the paths of one artifact
// as tag and returns its manifest digest (the layout and packing are the
// caller's, so that testkit needs no pack). PackTagged returns the tags in
// order and their manifest digests.
func PackTagged(t testing.TB, n int, shared string, packOne func(tag string, paths ...string) digest.Digest) ([]string, map[string]digest.Digest) {
	t.Helper()
	dir := t.TempDir()
	var tags []string
	want := map[string]digest.Digest{}
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("part-%02d.txt", i))
		WriteFile(t, p, PartContent(i))
		tag := fmt.Sprintf("t%02d", i)
		tags = append(tags, tag)
		want[tag] = packOne(tag, p, shared)
	}
	return tags, want
}

// ReadTarLast reads the uncompressed tar at path and returns its bytes and
// its last entry, failing the test if it is not a tar with an entry.
func ReadTarLast(t testing.TB, path string) ([]byte, TarSpan) {
	t.Helper()
	b := ReadFile(t, path)
	spans := TarSpans(t, b)
	if len(spans) == 0 {
		t.Fatalf("%s: a tar without entries", path)
	}
	return b, spans[len(spans)-1]
}

// WriteFiles writes files (slash-separated path below dir -> content) as
// WriteFile does.
func WriteFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		WriteFile(t, filepath.Join(dir, filepath.FromSlash(name)), body)
	}
}
