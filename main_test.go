package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocipack/ocipack/internal/testkit"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/cli"
	"github.com/ocipack/ocipack/layout"
)

// run is the command line, run in-process.
var run = cli.Run

// binDir holds the ocipack binary that the process tests build once.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ocipack-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildErr  error
	buildOut  []byte
)

// ocipackBinary builds the command once per test process and returns its
// path.
func ocipackBinary(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(binDir, "ocipack")
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	buildOnce.Do(func() {
		cmd := exec.Command("go", "build", "-o", exe, ".")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return exe
}

// result is what one run of the command line gave.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the command line in-process, reading stdin (nil: nothing),
// under a context that ends after timeout.
func runCLI(t *testing.T, timeout time.Duration, stdin io.Reader, args ...string) result {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, stdin, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// ocipack runs the command line in-process.
func ocipack(t *testing.T, args ...string) result {
	t.Helper()
	return runCLI(t, 60*time.Second, nil, args...)
}

// wantExit0 fails the test unless r, the result of args, exited 0.
func wantExit0(t *testing.T, args []string, r result) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("ocipack %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// wantFailure checks that r, the result of args, exited with code and that
// stderr is exactly one line holding every one of wants.
func wantFailure(t *testing.T, args []string, r result, code int, wants ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("ocipack %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
		return
	}
	oneStderrLine(t, r, wants...)
}

// mustRun runs the command line and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) result {
	t.Helper()
	return wantExit0(t, args, ocipack(t, args...))
}

// openTagged opens the layout at dir, which the caller closes, and
// resolves tag in it.
func openTagged(t *testing.T, dir, tag string) (*layout.Layout, ocispec.Descriptor) {
	t.Helper()
	l, err := layout.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := l.Resolve(t.Context(), tag)
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	return l, d
}

// oneStderrLine fails unless stderr is exactly one line holding every one
// of wants.
func oneStderrLine(t *testing.T, r result, wants ...string) {
	t.Helper()
	if !strings.HasSuffix(r.stderr, "\n") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("stderr is not exactly one line: %q", r.stderr)
	}
	for _, w := range wants {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr %q does not name %q", r.stderr, w)
		}
	}
}

var manifestRE = regexp.MustCompile(`manifest (sha256:[0-9a-f]{64})`)

// packedDigest returns the manifest digest that `ocipack pack` printed.
func packedDigest(t *testing.T, r result) string {
	t.Helper()
	m := manifestRE.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("pack printed no manifest digest: %q", r.stdout)
	}
	return m[1]
}

const example = "testdata/example"

func TestCLIHelpAndVersion(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"--help"}, []string{"Usage", "pack", "unpack", "ls", "Exit status"}},
		{[]string{"-h"}, []string{"Usage"}},
		{[]string{"help"}, []string{"Usage"}},
		{[]string{"pack", "--help"}, []string{"Examples", "--compression", "SOURCE_DATE_EPOCH"}},
		{[]string{"help", "pack"}, []string{"Examples", "--compression"}},
		{[]string{"unpack", "-h"}, []string{"Examples", "--overwrite", "--output"}},
		{[]string{"ls", "--help"}, []string{"Examples", "--json"}},
		{[]string{"--version"}, []string{"ocipack "}},
		{[]string{"version"}, []string{"ocipack "}},
	} {
		r := ocipack(t, tc.args...)
		if r.code != 0 {
			t.Errorf("%v: exit %d, stderr %q", tc.args, r.code, r.stderr)
		}
		for _, w := range tc.wants {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%v: stdout does not contain %q:\n%s", tc.args, w, r.stdout)
			}
		}
		if r.stderr != "" {
			t.Errorf("%v: stderr %q", tc.args, r.stderr)
		}
	}
}

func TestCLIUsageErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.txt")
	testkit.WriteFile(t, file, []byte("f"))
	lay := filepath.Join(dir, "layout")
	for _, tc := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"frobnicate"}, []string{"frobnicate"}},
		{[]string{"pack"}, []string{"pack"}},
		{[]string{"pack", lay + ":v1"}, []string{"PATH"}},
		{[]string{"pack", lay, file}, []string{"names no tag"}},
		{[]string{"pack", lay + ":v1", file, "--compression", "lz4"}, []string{"lz4"}},
		{[]string{"pack", lay + ":v1", file, "--no-such-flag"}, []string{"no-such-flag"}},
		{[]string{"pack", lay + ":v1", file, "--annotation", "novalue"}, []string{"novalue"}},
		{[]string{"unpack"}, []string{"unpack"}},
		{[]string{"unpack", "a", "b"}, []string{"unpack"}},
		{[]string{"ls"}, []string{"ls"}},
		{[]string{"unpack", lay + "@sha256:abc"}, []string{"sha256:abc"}},
	} {
		r := ocipack(t, tc.args...)
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", tc.args, r.code, r.stderr)
			continue
		}
		oneStderrLine(t, r, tc.wants...)
	}
	// No arguments at all: the usage, on stderr, exit 2.
	r := ocipack(t)
	if r.code != 2 || !strings.Contains(r.stderr, "Usage") || r.stdout != "" {
		t.Errorf("no arguments: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(lay); err == nil {
		t.Errorf("a usage error created the layout")
	}
}

func TestCLIFailures(t *testing.T) {
	dir := t.TempDir()
	lay := filepath.Join(dir, "layout")
	mustRun(t, "pack", lay+":v1", filepath.Join(example, "hello-0.1.0.tgz"))

	t.Run("unpack of a missing tag", func(t *testing.T) {
		dest := filepath.Join(dir, "out-missing")
		r := ocipack(t, "unpack", lay+":nope", "-o", dest)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1 (stderr %q)", r.code, r.stderr)
		}
		oneStderrLine(t, r, "nope")
		if _, err := os.Stat(dest); err == nil {
			t.Errorf("the destination was created")
		}
	})
	t.Run("pack of a missing file", func(t *testing.T) {
		missing := filepath.Join(dir, "no-such-file.txt")
		r := ocipack(t, "pack", lay+":v2", filepath.Join(example, "app-1.0.tar"), missing)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1 (stderr %q)", r.code, r.stderr)
		}
		oneStderrLine(t, r, missing)
		l, err := layout.Open(context.Background(), lay)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Resolve(context.Background(), "v2"); err == nil {
			t.Errorf("v2 was tagged although pack failed")
		}
	})
	t.Run("ls of a directory that is no layout", func(t *testing.T) {
		r := ocipack(t, "ls", dir)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1 (stderr %q)", r.code, r.stderr)
		}
		oneStderrLine(t, r, dir)
	})
	t.Run("unpack from a missing layout", func(t *testing.T) {
		missing := filepath.Join(dir, "nowhere")
		r := ocipack(t, "unpack", missing+":v1", "-o", filepath.Join(dir, "o"))
		if r.code != 1 {
			t.Fatalf("exit %d, want 1 (stderr %q)", r.code, r.stderr)
		}
		oneStderrLine(t, r, missing)
	})
	t.Run("pack into a directory that is no layout", func(t *testing.T) {
		other := filepath.Join(dir, "other")
		if err := os.MkdirAll(other, 0o755); err != nil {
			t.Fatal(err)
		}
		testkit.WriteFile(t, filepath.Join(other, "keep.txt"), []byte("mine"))
		r := ocipack(t, "pack", other+":v1", filepath.Join(example, "app-1.0.tar"))
		if r.code != 1 {
			t.Fatalf("exit %d, want 1 (stderr %q)", r.code, r.stderr)
		}
		oneStderrLine(t, r, other)
	})
	t.Run("unpack over existing files", func(t *testing.T) {
		dest := filepath.Join(dir, "out-twice")
		mustRun(t, "unpack", lay+":v1", "-o", dest)
		r := ocipack(t, "unpack", lay+":v1", "-o", dest)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1 (stderr %q)", r.code, r.stderr)
		}
		oneStderrLine(t, r, "hello-0.1.0.tgz")
		mustRun(t, "unpack", lay+":v1", "-o", dest, "--overwrite")
	})
}

// TestCLIRoundTrip packs testdata/example, lists it and unpacks it.
func TestCLIRoundTrip(t *testing.T) {
	dir := t.TempDir()
	lay := filepath.Join(dir, "bundle")
	chart := filepath.Join(example, "hello-0.1.0.tgz")
	app := filepath.Join(example, "app-1.0.tar")
	site := filepath.Join(example, "site")

	r := mustRun(t, "pack", lay+":v1.0.0",
		chart+":application/vnd.cncf.helm.chart.content.v1.tar+gzip", app, site,
		"--artifact-type", "application/vnd.example.bundle.v1",
		"--annotation", "org.opencontainers.image.source=https://example.com/src")
	dgst := packedDigest(t, r)
	if !strings.Contains(r.stdout, "3 file(s)") {
		t.Errorf("pack output %q", r.stdout)
	}

	// ls, as text.
	r = mustRun(t, "ls", lay)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "TAG") {
		t.Fatalf("ls output:\n%s", r.stdout)
	}
	for _, w := range []string{"v1.0.0", dgst, "application/vnd.example.bundle.v1"} {
		if !strings.Contains(lines[1], w) {
			t.Errorf("ls line %q does not contain %q", lines[1], w)
		}
	}

	// ls --json.
	r = mustRun(t, "ls", lay, "--json")
	var entries []struct {
		Tag          string `json:"tag"`
		Digest       string `json:"digest"`
		MediaType    string `json:"mediaType"`
		ArtifactType string `json:"artifactType"`
		Size         int64  `json:"size"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
		t.Fatalf("ls --json is not JSON: %v\n%s", err, r.stdout)
	}
	if len(entries) != 1 {
		t.Fatalf("ls --json: %d entries", len(entries))
	}
	e := entries[0]
	if e.Tag != "v1.0.0" || e.Digest != dgst || e.MediaType != ocispec.MediaTypeImageManifest || e.ArtifactType != "application/vnd.example.bundle.v1" {
		t.Errorf("ls --json entry %+v", e)
	}
	// The size is the manifest's, the config's and the layers'.
	desc, m := testkit.Manifest(t, testkit.OpenLayout(t, lay), "v1.0.0")
	want := desc.Size + m.Config.Size
	for _, d := range m.Layers {
		want += d.Size
	}
	if e.Size != want {
		t.Errorf("ls --json size %d, want %d", e.Size, want)
	}
	if m.Annotations["org.opencontainers.image.source"] != "https://example.com/src" {
		t.Errorf("manifest annotations %v", m.Annotations)
	}
	if m.Layers[0].MediaType != "application/vnd.cncf.helm.chart.content.v1.tar+gzip" {
		t.Errorf("chart media type %q", m.Layers[0].MediaType)
	}

	// unpack, by tag and (with a single tag) without one.
	for _, ref := range []string{lay + ":v1.0.0", lay, lay + "@" + dgst} {
		dest := filepath.Join(t.TempDir(), "out")
		r = mustRun(t, "unpack", ref, "-o", dest)
		if !strings.Contains(r.stdout, dgst) {
			t.Errorf("unpack output does not name the digest: %q", r.stdout)
		}
		testkit.CompareFiles(t, chart, filepath.Join(dest, "hello-0.1.0.tgz"))
		testkit.CompareFiles(t, app, filepath.Join(dest, "app-1.0.tar"))
		testkit.CompareDirs(t, site, filepath.Join(dest, "site"))
		if target, err := os.Readlink(filepath.Join(dest, "site", "current")); err != nil || target != "releases/v1" {
			t.Errorf("site/current -> %q, %v", target, err)
		}
		if fi, err := os.Stat(filepath.Join(dest, "site", "bin", "deploy.sh")); err != nil || fi.Mode().Perm()&0o111 == 0 {
			t.Errorf("site/bin/deploy.sh is not executable: %v, %v", fi.Mode(), err)
		}
	}
}

// copyTree copies a tree with its modes and symlinks.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, fi.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(target, b, fi.Mode().Perm()); err != nil {
				return err
			}
			return os.Chmod(target, fi.Mode().Perm())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCLISourceDateEpoch: with SOURCE_DATE_EPOCH set, packing the same
// files again, with other mtimes, into another layout gives the same
// manifest digest.
func TestCLISourceDateEpoch(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	src := t.TempDir()
	copyTree(t, filepath.Join(example, "site"), filepath.Join(src, "site"))
	copyTree(t, filepath.Join(example, "app-1.0.tar"), filepath.Join(src, "app-1.0.tar"))

	packAt := func(when time.Time, compression string) string {
		t.Helper()
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink != 0 {
				return err
			}
			return os.Chtimes(p, when, when)
		})
		if err != nil {
			t.Fatal(err)
		}
		lay := filepath.Join(t.TempDir(), "layout")
		r := mustRun(t, "pack", lay+":v1", filepath.Join(src, "site"), filepath.Join(src, "app-1.0.tar"), "--compression", compression)
		return packedDigest(t, r)
	}
	for _, comp := range []string{"gzip", "zstd", "none"} {
		d1 := packAt(time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC), comp)
		d2 := packAt(time.Date(2022, 6, 6, 6, 6, 6, 0, time.UTC), comp)
		if d1 != d2 {
			t.Errorf("%s: digests differ with SOURCE_DATE_EPOCH set: %s, %s", comp, d1, d2)
		}
	}

	// The created annotation is the epoch.
	lay := filepath.Join(t.TempDir(), "layout")
	mustRun(t, "pack", lay+":v1", filepath.Join(src, "app-1.0.tar"))
	_, m := testkit.Manifest(t, testkit.OpenLayout(t, lay), "v1")
	if got := m.Annotations[ocispec.AnnotationCreated]; got != "2023-11-14T22:13:20Z" {
		t.Errorf("created %q, want 2023-11-14T22:13:20Z", got)
	}

	// A malformed SOURCE_DATE_EPOCH is a usage error.
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	r := ocipack(t, "pack", lay+":v2", filepath.Join(src, "app-1.0.tar"))
	if r.code != 2 {
		t.Errorf("SOURCE_DATE_EPOCH=yesterday: exit %d, want 2", r.code)
	}
	oneStderrLine(t, r, "yesterday")
}

// TestCLIBinaryExitCodes checks the exit status and output of the real
// binary.
func TestCLIBinaryExitCodes(t *testing.T) {
	exe := ocipackBinary(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"--version"}, 0, "ocipack ", ""},
		{[]string{"pack", "--help"}, 0, "Examples", ""},
		{[]string{"bogus"}, 2, "", "bogus"},
		{[]string{"pack"}, 2, "", "pack"},
		{[]string{"pack", filepath.Join(dir, "l") + ":v1", filepath.Join(dir, "missing.txt")}, 1, "", "missing.txt"},
	} {
		cmd := exec.Command(exe, tc.args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tc.args, code, tc.code, stderr.String())
		}
		if !strings.Contains(stdout.String(), tc.stdout) {
			t.Errorf("%v: stdout %q does not contain %q", tc.args, stdout.String(), tc.stdout)
		}
		if tc.stderr != "" {
			oneStderrLine(t, result{code, stdout.String(), stderr.String()}, tc.stderr)
		} else if stderr.Len() != 0 {
			t.Errorf("%v: stderr %q", tc.args, stderr.String())
		}
	}
}

// TestCLIConcurrentPackProcesses runs 4 `ocipack pack` processes at once,
// into one layout that the first round creates, for 5 rounds: no tag may be
// lost.
func TestCLIConcurrentPackProcesses(t *testing.T) {
	const procs, rounds = 4, 5
	exe := ocipackBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	src := t.TempDir()
	lay := filepath.Join(t.TempDir(), "shared")
	shared := filepath.Join(src, "shared.txt")
	testkit.WriteFile(t, shared, []byte("in every artifact\n"))
	var want []string
	for round := range rounds {
		var wg sync.WaitGroup
		errs := make([]string, procs)
		for p := range procs {
			tag := fmt.Sprintf("r%d-p%d", round, p)
			want = append(want, tag)
			own := filepath.Join(src, tag)
			if err := os.MkdirAll(own, 0o755); err != nil {
				t.Fatal(err)
			}
			testkit.WriteFile(t, filepath.Join(own, "file.txt"), []byte(tag+"\n"))
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.CommandContext(ctx, exe, "pack", lay+":"+tag, shared, own, "-q")
				if out, err := cmd.CombinedOutput(); err != nil {
					errs[p] = fmt.Sprintf("pack %s: %v: %s", tag, err, out)
				}
			}()
		}
		wg.Wait()
		for _, e := range errs {
			if e != "" {
				t.Errorf("round %d: %s", round, e)
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("round %d: not finished in time", round)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	testkit.ReadIndex(t, lay) // index.json parses
	r := mustRun(t, "ls", lay, "--json")
	var entries []struct {
		Tag string `json:"tag"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Tag)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("tags after concurrent packs:\n got  %v\n want %v", got, want)
	}
	// Each one unpacks to its own content.
	for _, tag := range []string{want[0], want[len(want)-1]} {
		dest := filepath.Join(t.TempDir(), "out")
		mustRun(t, "unpack", lay+":"+tag, "-o", dest)
		if b, err := os.ReadFile(filepath.Join(dest, tag, "file.txt")); err != nil || string(b) != tag+"\n" {
			t.Errorf("%s: file.txt = %q, %v", tag, b, err)
		}
	}
	if tmp, _ := os.ReadDir(filepath.Join(lay, layout.WorkDir, "tmp")); len(tmp) != 0 {
		t.Errorf("temporary files left: %d", len(tmp))
	}
}

// TestCLIPackSymlinkedDirectory packs testdata/example/site/current, a
// symlink to releases/v1: the artifact holds the directory it points at.
func TestCLIPackSymlinkedDirectory(t *testing.T) {
	lay := filepath.Join(t.TempDir(), "layout")
	mustRun(t, "pack", lay+":v1", filepath.Join(example, "site", "current"))
	dest := filepath.Join(t.TempDir(), "out")
	mustRun(t, "unpack", lay+":v1", "-o", dest)
	if fi, err := os.Lstat(filepath.Join(dest, "current")); err != nil || !fi.IsDir() {
		t.Fatalf("current is not a directory after unpack: %v", err)
	}
	testkit.CompareDirs(t, filepath.Join(example, "site", "releases", "v1"), filepath.Join(dest, "current"))
}
