package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

// hostileExport packs two tags into a layout and exports them to dir/name.
func hostileExport(t *testing.T, dir, name string) (lay, arch string) {
	t.Helper()
	lay = filepath.Join(dir, "src")
	for i, tag := range []string{"v1", "v2"} {
		in := filepath.Join(dir, fmt.Sprintf("in%d.bin", i))
		b := make([]byte, 300<<10)
		for j := range b {
			b[j] = byte(j*(i+7)) ^ byte(j>>11) ^ byte(j>>3)
		}
		testkit.WriteFile(t, in, b)
		mustRun(t, "pack", lay+":"+tag, in)
	}
	arch = filepath.Join(dir, name)
	mustRun(t, "export", lay, arch)
	return lay, arch
}

func hostileWrite(t *testing.T, p string, b []byte) string {
	t.Helper()
	testkit.WriteFile(t, p, b)
	return p
}

// hostileFails runs the command line and fails unless it exits 1 with one
// line on stderr naming every one of wants.
func hostileFails(t *testing.T, args []string, wants ...string) result {
	t.Helper()
	r := ocipack(t, args...)
	if r.code != 1 {
		t.Fatalf("ocipack %s: exit %d, want 1\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	oneStderrLine(t, r, wants...)
	return r
}

// verify and unpack of ARCHIVE:TAG (read in place) refuse a .tar cut at
// an entry boundary, naming the missing blob, as import does.
func TestCLIArchiveCutAtEntryBoundary(t *testing.T) {
	dir := t.TempDir()
	_, arch := hostileExport(t, dir, "x.tar")
	b, last := testkit.ReadTarLast(t, arch)
	missing := "sha256:" + path.Base(last.Name)
	if digest.Digest(missing).Validate() != nil {
		t.Fatalf("the last entry %q is not a blob", last.Name)
	}
	cut := hostileWrite(t, filepath.Join(dir, "cut.tar"), b[:last.Header])
	hostileFails(t, []string{"verify", cut}, "truncated", missing)
	hostileFails(t, []string{"unpack", cut + ":v2", "-o", filepath.Join(dir, "out")}, "truncated", missing)
	hostileFails(t, []string{"import", cut, filepath.Join(dir, "dst")}, "truncated", missing)
}

// verify refuses a .tar.zst whose seek table was cut off.
func TestCLIArchiveZstdWithoutSeekTable(t *testing.T) {
	dir := t.TempDir()
	_, arch := hostileExport(t, dir, "x.tar.zst")
	b := testkit.ReadFile(t, arch)
	foot := b[len(b)-9:]
	n := int(binary.LittleEndian.Uint32(foot))
	table := len(b) - 9 - 8*n - 8
	cut := hostileWrite(t, filepath.Join(dir, "cut.tar.zst"), b[:table])
	hostileFails(t, []string{"verify", cut}, "truncated", "seek table")
	hostileFails(t, []string{"unpack", cut + ":v1", "-o", filepath.Join(dir, "out")}, "truncated", "seek table")
	hostileFails(t, []string{"import", cut, filepath.Join(dir, "dst")}, "truncated", "seek table")
}

// An archive with two index.json entries is refused alike by verify,
// unpack in place and import.
func TestCLIArchiveDuplicateIndex(t *testing.T) {
	dir := t.TempDir()
	_, arch := hostileExport(t, dir, "x.tar")
	b := testkit.ReadFile(t, arch)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var index []byte
	for _, s := range testkit.TarSpans(t, b) {
		h := &tar.Header{Name: s.Name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(s.Body))}
		if strings.HasSuffix(s.Name, "/") {
			h = &tar.Header{Name: s.Name, Typeflag: tar.TypeDir, Mode: 0o755}
		}
		if s.Name == "index.json" {
			index = s.Body
		}
		tw.WriteHeader(h)
		tw.Write(s.Body)
	}
	// The second index.json moves v2 to v1's manifest.
	var idx struct {
		SchemaVersion int              `json:"schemaVersion"`
		Manifests     []map[string]any `json:"manifests"`
	}
	if err := json.Unmarshal(index, &idx); err != nil {
		t.Fatal(err)
	}
	idx.Manifests[1]["digest"], idx.Manifests[1]["size"] = idx.Manifests[0]["digest"], idx.Manifests[0]["size"]
	second, _ := json.Marshal(idx)
	tw.WriteHeader(&tar.Header{Name: "index.json", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(second))})
	tw.Write(second)
	tw.Close()
	dup := hostileWrite(t, filepath.Join(dir, "dup.tar"), buf.Bytes())

	var lines []string
	for _, args := range [][]string{
		{"verify", dup},
		{"unpack", dup + ":v2", "-o", filepath.Join(dir, "out")},
		{"import", dup, filepath.Join(dir, "dst")},
	} {
		r := hostileFails(t, args, "duplicate archive entry", "index.json")
		lines = append(lines, r.stderr[strings.Index(r.stderr, "duplicate"):])
	}
	if lines[0] != lines[1] || lines[1] != lines[2] {
		t.Errorf("the readers disagree:\n%s", strings.Join(lines, ""))
	}
	if _, err := os.Lstat(filepath.Join(dir, "out")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("unpack wrote %s", filepath.Join(dir, "out"))
	}
}

// import refuses a contents list with impossible sizes before it stores
// anything, naming the digest.
func TestCLIArchiveContentsSizes(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int64{1 << 62, -5} {
		d1, d2 := digest.FromString(fmt.Sprint("one", size)), digest.FromString(fmt.Sprint("two", size))
		c := fmt.Sprintf(`{"mediaType":"application/vnd.ocipack.archive.contents.v1+json","tags":[],"blobs":[{"digest":%q,"size":%d},{"digest":%q,"size":%d}]}`, d1, size, d2, size)
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, e := range [][2]string{{"oci-layout", `{"imageLayoutVersion":"1.0.0"}`}, {"ocipack-archive.json", c}, {"index.json", `{"schemaVersion":2,"manifests":[]}`}} {
			tw.WriteHeader(&tar.Header{Name: e[0], Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e[1]))})
			tw.Write([]byte(e[1]))
		}
		tw.Close()
		p := hostileWrite(t, filepath.Join(dir, fmt.Sprintf("list%d.tar", size)), buf.Bytes())
		dst := filepath.Join(dir, fmt.Sprint("dst", size))
		hostileFails(t, []string{"import", p, dst}, d1.String(), "impossible size")
		if _, err := os.Lstat(dst); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the failed import left %s", dst)
		}
	}
}

// packingReader serves an archive to `import -`: before its first byte it
// runs `ocipack pack` into the layout the import just created, so that a
// pack stores and tags there while the import runs, deterministically.
type packingReader struct {
	r      io.Reader
	before func()
	done   bool
}

func (p *packingReader) Read(b []byte) (int, error) {
	if !p.done {
		p.done = true
		p.before()
	}
	return p.r.Read(b)
}

// A failed `import -` into a new directory keeps what a concurrent pack
// stored and tagged there.
func TestCLIArchiveFailedImportKeepsConcurrentPack(t *testing.T) {
	dir := t.TempDir()
	_, arch := hostileExport(t, dir, "x.tar")
	b, last := testkit.ReadTarLast(t, arch)
	cut := b[:last.Data+last.Size/2]
	other := filepath.Join(dir, "other.txt")
	testkit.WriteFile(t, other, []byte("packed meanwhile\n"))
	dst := filepath.Join(dir, "dst")
	in := &packingReader{r: bytes.NewReader(cut), before: func() {
		if _, err := layout.Open(context.Background(), dst); err != nil {
			t.Errorf("the import has not created the layout yet: %v", err)
		}
		mustRun(t, "pack", dst+":other", other)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"import", "-", dst}, in, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("import - of a cut archive: exit %d\n%s", code, stderr.String())
	}
	oneStderrLine(t, result{code, stdout.String(), stderr.String()}, "truncated")
	mustRun(t, "unpack", dst+":other", "-o", filepath.Join(dir, "out"))
	got, err := os.ReadFile(filepath.Join(dir, "out", "other.txt"))
	if err != nil || string(got) != "packed meanwhile\n" {
		t.Fatalf("the packed tag does not unpack: %q, %v", got, err)
	}
	mustRun(t, "verify", dst)
}
