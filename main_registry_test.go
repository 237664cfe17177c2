package main

// Command-line tests against a real registry (CNCF Distribution, in
// process on 127.0.0.1): push, pull, login and logout through run().
// Every identifier here starts with "registry" so as not to clash with the
// other test files of this package.

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/progress"
)

// registryExample is what the round trips pack.
var registryExample = []string{
	"testdata/example/site",
	"testdata/example/app-1.0.tar",
	"testdata/example/hello-0.1.0.tgz",
}

// registryRunResult is what one run of the command line gave.
type registryRunResult struct {
	args []string
	result
}

// registryTranscript collects every output of a test, to check that a
// secret never shows in any.
type registryTranscript struct{ runs []registryRunResult }

// registryRun runs the command line in-process with stdin, bounded in
// time. stderr is a bytes.Buffer, not a terminal: progress is plain lines.
func registryRun(t *testing.T, tr *registryTranscript, stdin string, args ...string) registryRunResult {
	t.Helper()
	r := registryRunResult{args, runCLI(t, 45*time.Second, strings.NewReader(stdin), args...)}
	if tr != nil {
		tr.runs = append(tr.runs, r)
	}
	return r
}

// registryMustRun runs the command line and fails the test unless it exits 0.
func registryMustRun(t *testing.T, tr *registryTranscript, stdin string, args ...string) registryRunResult {
	t.Helper()
	r := registryRun(t, tr, stdin, args...)
	wantExit0(t, args, r.result)
	return r
}

// registryWantFailure checks the exit status and that stderr is exactly one
// line holding every one of wants.
func registryWantFailure(t *testing.T, r registryRunResult, code int, wants ...string) {
	t.Helper()
	wantFailure(t, r.args, r.result, code, wants...)
}

// registryIsolateDocker points DOCKER_CONFIG at a fresh directory, so that
// no test reads or writes the real ~/.docker, and returns it.
func registryIsolateDocker(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	return dir
}

// registryArtifact describes a packed artifact: its manifest and blobs.
type registryArtifact struct {
	manifest digest.Digest
	blobs    []digest.Digest // config and layers
	total    int64           // bytes of the blobs and the manifest
}

func registryArtifactOf(t *testing.T, dir, tag string) registryArtifact {
	t.Helper()
	desc, m := testkit.Manifest(t, testkit.OpenLayout(t, dir), tag)
	a := registryArtifact{manifest: desc.Digest, total: desc.Size}
	for _, b := range append(m.Layers, m.Config) {
		a.blobs = append(a.blobs, b.Digest)
		a.total += b.Size
	}
	slices.Sort(a.blobs)
	return a
}

// registryRepo is a client for repo of reg that is not ocipack's.
func registryRepo(t *testing.T, reg *testkit.Registry, repo string) *remote.Repository {
	t.Helper()
	r, err := remote.NewRepository(reg.Ref(repo))
	if err != nil {
		t.Fatal(err)
	}
	c := reg.Client()
	t.Cleanup(c.CloseIdleConnections)
	r.Client, r.PlainHTTP = c, reg.PlainHTTP
	return r
}

// registryProgressLines checks that stderr is one plain line per blob (and
// one for the manifest), each starting with verb, and returns the digests
// named.
func registryProgressLines(t *testing.T, stderr, verb string) []digest.Digest {
	t.Helper()
	var ds []digest.Digest
	for line := range strings.Lines(stderr) {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != verb || !strings.HasPrefix(f[1], "sha256:") || strings.ContainsRune(line, '\r') {
			t.Errorf("not a plain %q progress line: %q", verb, line)
			continue
		}
		ds = append(ds, digest.Digest(f[1]))
	}
	slices.Sort(ds)
	return ds
}

// registrySnapshot describes every entry under root: its kind, and for a
// file whether it is executable and its digest.
func registrySnapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	return testkit.Snapshot(t, root).View(testkit.ContentExec)
}

// registryAssertExample checks that dir holds exactly what was packed.
func registryAssertExample(t *testing.T, dir string) {
	t.Helper()
	testkit.SameTree(t, dir, testkit.SnapshotPaths(t, registryExample...), testkit.Snapshot(t, dir), testkit.ContentExec)
}

// TestRegistryPushPullUnpack pushes, pulls and unpacks the example through
// the command line, checking the summaries and the progress lines.
func TestRegistryPushPullUnpack(t *testing.T) {
	registryIsolateDocker(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	work := t.TempDir()
	src := filepath.Join(work, "src")
	registryMustRun(t, nil, "", append([]string{"pack", src + ":v1"}, registryExample...)...)
	a := registryArtifactOf(t, src, "v1")
	target := reg.Host + "/apps/bundle"

	r := registryMustRun(t, nil, "", "push", src+":v1", target, "--plain-http")
	if strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("push printed %q, want one summary line", r.stdout)
	}
	for _, w := range []string{a.manifest.String(), progress.Bytes(a.total) + " sent", fmt.Sprintf("%d blob(s) copied", len(a.blobs)), "0 skipped", "-> " + target + ":v1"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("push summary %q does not say %q", r.stdout, w)
		}
	}
	want := append(slices.Clone(a.blobs), a.manifest)
	slices.Sort(want)
	if got := registryProgressLines(t, r.stderr, "pushed"); !slices.Equal(got, want) {
		t.Errorf("push progress lines name %v, want one per blob and the manifest: %v\n%s", got, want, r.stderr)
	}
	if d, err := registryRepo(t, reg, "apps/bundle").Resolve(t.Context(), "v1"); err != nil || d.Digest != a.manifest {
		t.Fatalf("registry v1 = %v, %v; want %s", d.Digest, err, a.manifest)
	}

	// Again: every blob is skipped, and said to be.
	r = registryMustRun(t, nil, "", "push", src+":v1", target, "--plain-http")
	if !strings.Contains(r.stdout, "0 blob(s) copied") || !strings.Contains(r.stdout, fmt.Sprintf("%d skipped", len(a.blobs))) {
		t.Errorf("second push summary %q, want 0 copied and %d skipped", r.stdout, len(a.blobs))
	}
	skipped := 0
	for line := range strings.Lines(r.stderr) {
		if strings.HasPrefix(line, "skipped sha256:") {
			skipped++
		}
	}
	if skipped != len(a.blobs) {
		t.Errorf("second push printed %d skipped lines, want %d:\n%s", skipped, len(a.blobs), r.stderr)
	}

	// --quiet prints no progress, only the summary.
	r = registryMustRun(t, nil, "", "push", src+":v1", target+":stable", "--plain-http", "--quiet")
	if r.stderr != "" {
		t.Errorf("push --quiet wrote to stderr: %q", r.stderr)
	}
	if !strings.Contains(r.stdout, "-> "+target+":stable") {
		t.Errorf("push --quiet summary %q", r.stdout)
	}

	// Pull into a new layout and unpack.
	dst := filepath.Join(work, "dst")
	r = registryMustRun(t, nil, "", "pull", target+":v1", dst, "--plain-http")
	for _, w := range []string{"pulled " + a.manifest.String(), progress.Bytes(a.total) + " received", "0 skipped", "-> " + dst + ":" + target + ":v1"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("pull summary %q does not say %q", r.stdout, w)
		}
	}
	if got := registryProgressLines(t, r.stderr, "pulled"); !slices.Equal(got, want) {
		t.Errorf("pull progress lines name %v, want %v", got, want)
	}
	if b := registryArtifactOf(t, dst, "v1"); b.manifest != a.manifest {
		t.Errorf("pulled manifest %s, want %s", b.manifest, a.manifest)
	}
	out := filepath.Join(work, "out")
	registryMustRun(t, nil, "", "unpack", dst+":v1", "-o", out)
	registryAssertExample(t, out)

	// Pull the other tag into the same layout, quietly: v1 stays.
	r = registryMustRun(t, nil, "", "pull", target+":stable", dst, "--plain-http", "-q")
	if r.stderr != "" {
		t.Errorf("pull -q wrote to stderr: %q", r.stderr)
	}
	if !strings.Contains(r.stdout, fmt.Sprintf("%d skipped", len(a.blobs))) {
		t.Errorf("pull of a second tag of the same artifact: %q", r.stdout)
	}
	l, err := layout.Open(t.Context(), dst)
	if err != nil {
		t.Fatal(err)
	}
	tags, _ := l.Tags(t.Context())
	// Pulled without a LAYOUT:TAG, entries keep their full source names.
	if len(tags) != 2 || tags[0].Tag != target+":stable" || tags[1].Tag != target+":v1" {
		t.Errorf("layout tags = %+v, want %s:stable and :v1", tags, target)
	}
}

// TestRegistryLoginLogout logs in with the password on stdin, pushes with the
// stored credential, logs out and is refused. The password never shows.
func TestRegistryLoginLogout(t *testing.T) {
	dockerDir := registryIsolateDocker(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{Users: map[string]string{"alice": "s3cret"}})
	work := t.TempDir()
	src := filepath.Join(work, "src")
	registryMustRun(t, nil, "", "pack", src+":v1", "testdata/example/hello-0.1.0.tgz")
	target := reg.Host + "/private/hello"
	var tr registryTranscript

	r := registryRun(t, &tr, "wrong-pass\n", "login", reg.Host, "-u", "alice", "--password-stdin", "--plain-http")
	registryWantFailure(t, r, 1, reg.Host)
	if testkit.DockerAuths(t, dockerDir)[reg.Host] != nil {
		t.Fatal("a refused login was stored")
	}

	r = registryMustRun(t, &tr, "s3cret\n", "login", reg.Host, "-u", "alice", "--password-stdin", "--plain-http")
	if !strings.Contains(r.stdout, "login succeeded") || !strings.Contains(r.stdout, reg.Host) {
		t.Errorf("login printed %q", r.stdout)
	}
	entry := testkit.DockerAuths(t, dockerDir)[reg.Host]
	if entry == nil {
		t.Fatalf("config.json has no %s after login", reg.Host)
	}
	if b, _ := base64.StdEncoding.DecodeString(entry["auth"]); string(b) != "alice:s3cret" {
		t.Errorf("config.json holds %q for %s", b, reg.Host)
	}

	registryMustRun(t, &tr, "", "push", src+":v1", target, "--plain-http")
	registryMustRun(t, &tr, "", "pull", target+":v1", filepath.Join(work, "dst"), "--plain-http")

	r = registryMustRun(t, &tr, "", "logout", reg.Host)
	if !strings.Contains(r.stdout, reg.Host) {
		t.Errorf("logout printed %q", r.stdout)
	}
	if testkit.DockerAuths(t, dockerDir)[reg.Host] != nil {
		t.Fatalf("config.json still has %s after logout", reg.Host)
	}
	r = registryRun(t, &tr, "", "push", src+":v1", target, "--plain-http")
	registryWantFailure(t, r, 1, reg.Host, "ocipack login")

	// The password from stdin works without a login, and is not stored.
	registryMustRun(t, &tr, "s3cret\n", "push", src+":v1", target+":again", "-u", "alice", "--password-stdin", "--plain-http")
	if testkit.DockerAuths(t, dockerDir)[reg.Host] != nil {
		t.Error("push -u --password-stdin stored the credential")
	}
	r = registryRun(t, &tr, "wrong-pass\n", "push", src+":v1", target, "-u", "alice", "--password-stdin", "--plain-http")
	registryWantFailure(t, r, 1, reg.Host)

	for _, run := range tr.runs {
		for _, secret := range []string{"s3cret", "wrong-pass", base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))} {
			if strings.Contains(run.stdout+run.stderr, secret) {
				t.Errorf("ocipack %s printed the password %q:\nstdout: %s\nstderr: %s", strings.Join(run.args, " "), secret, run.stdout, run.stderr)
			}
		}
	}
}

// TestRegistryPushAllTags pushes 30 artifacts with --all-tags, several blobs
// at once.
func TestRegistryPushAllTags(t *testing.T) {
	ctx := t.Context()
	e := startAllTags(t, 30)
	reg, src, target, want := e.reg, e.src, e.repo, e.want
	r := registryMustRun(t, nil, "", "push", "--all-tags", src, target, "--plain-http", "--concurrency", "8", "--quiet")
	if n := strings.Count(r.stdout, "\n"); n != 30 {
		t.Errorf("push --all-tags printed %d lines, want 30:\n%s", n, r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("--quiet wrote to stderr: %q", r.stderr)
	}
	repo := registryRepo(t, reg, "apps/many")
	var tags []string
	if err := repo.Tags(ctx, "", func(ts []string) error { tags = append(tags, ts...); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(tags)
	var wantTags []string
	for tag := range want {
		wantTags = append(wantTags, tag)
	}
	slices.Sort(wantTags)
	if !slices.Equal(tags, wantTags) {
		t.Fatalf("registry tags = %v, want %v", tags, wantTags)
	}
	for _, tag := range wantTags {
		if d, err := repo.Resolve(ctx, tag); err != nil || d.Digest != want[tag] {
			t.Errorf("registry %s = %v, %v; want %s", tag, d.Digest, err, want[tag])
		}
	}
	// The shared file and config went up once and were skipped 29 times
	// (by whichever tags came second: the tags go up several at once).
	copied, skipped := 0, 0
	for line := range strings.Lines(r.stdout) {
		var c, s int
		if _, err := fmt.Sscanf(line[strings.Index(line, "sent, ")+len("sent, "):], "%d blob(s) copied, %d skipped", &c, &s); err != nil {
			t.Fatalf("summary %q: %v", line, err)
		}
		copied, skipped = copied+c, skipped+s
	}
	if copied != 32 || skipped != 58 {
		t.Errorf("pushes copied %d blobs and skipped %d, want 32 (30 own files, the shared one, the config) and 58:\n%s", copied, skipped, r.stdout)
	}
}

// TestRegistryTLS is refused by a registry whose CA it does not know, with
// one line that says what to do, and succeeds with --ca-file.
func TestRegistryTLS(t *testing.T) {
	registryIsolateDocker(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{TLS: true})
	work := t.TempDir()
	src := filepath.Join(work, "src")
	registryMustRun(t, nil, "", "pack", src+":v1", "testdata/example/hello-0.1.0.tgz")
	target := reg.Host + "/secure/hello"

	start := time.Now()
	r := registryRun(t, nil, "", "push", src+":v1", target)
	registryWantFailure(t, r, 1, "certificate", "--ca-file", reg.Host)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the refusal took %v: an untrusted certificate is not worth retrying", d)
	}
	r = registryRun(t, nil, "", "pull", target+":v1", filepath.Join(work, "dst"))
	registryWantFailure(t, r, 1, "certificate", "--ca-file")

	registryMustRun(t, nil, "", "push", src+":v1", target, "--ca-file", reg.CAFile)
	registryMustRun(t, nil, "", "pull", target+":v1", filepath.Join(work, "dst"), "--ca-file", reg.CAFile)
	registryMustRun(t, nil, "", "push", src+":v1", target+":insecure", "--insecure")
	if a, b := registryArtifactOf(t, src, "v1"), registryArtifactOf(t, filepath.Join(work, "dst"), "v1"); a.manifest != b.manifest {
		t.Errorf("pulled %s, pushed %s", b.manifest, a.manifest)
	}
}

// TestRegistryUsageErrors: mistakes in the command line exit 2 with one line
// pointing at --help, before any request.
func TestRegistryUsageErrors(t *testing.T) {
	registryIsolateDocker(t)
	work := t.TempDir()
	src := filepath.Join(work, "src")
	registryMustRun(t, nil, "", "pack", src+":v1", "testdata/example/hello-0.1.0.tgz")
	// Nothing listens on port 1: a case that got as far as a request would
	// fail with exit 1, not 2.
	const host = "127.0.0.1:1"
	dgst := digest.FromString("x").String()
	for _, tc := range []struct {
		stdin string
		args  []string
	}{
		{"", []string{"push"}},
		{"", []string{"push", src + ":v1"}},
		{"", []string{"push", src + ":v1", host + "/r", "extra"}},
		{"", []string{"push", src + ":v1", host + "/r", "-u", "alice"}},
		{"s3cret\n", []string{"push", src + ":v1", host + "/r", "--password-stdin"}},
		{"", []string{"push", src + ":v1", host + "/r", "-u", "alice", "--password-stdin"}},
		{"", []string{"push", src + ":v1", "Not A Reference"}},
		{"", []string{"push", src + ":v1", host + "/r@" + dgst}},
		{"", []string{"push", "--all-tags", src + ":v1", host + "/r"}},
		{"", []string{"push", "--all-tags", src, host + "/r:v1"}},
		{"", []string{"push", src + ":v1", host + "/r", "--concurrency", "many"}},
		{"", []string{"push", src + ":v1", host + "/r", "--no-such-flag"}},
		{"", []string{"pull"}},
		{"", []string{"pull", host + "/r:v1"}},
		{"", []string{"pull", host + "/r", filepath.Join(work, "dst")}},
		{"", []string{"pull", host + "/r:v1", filepath.Join(work, "dst") + "@" + dgst}},
		{"", []string{"pull", host + "/r:v1", filepath.Join(work, "dst"), "-u", "alice"}},
		{"", []string{"login"}},
		{"", []string{"login", host, "extra"}},
		{"s3cret\n", []string{"login", host, "--password-stdin"}},
		{"s3cret\n", []string{"login", host}},
		{"s3cret\n", []string{"login", host, "-u", "alice"}}, // stdin is no terminal to ask on
		{"", []string{"login", host, "-u", "alice", "--password-stdin"}},
		{"", []string{"logout"}},
		{"", []string{"logout", host, "extra"}},
	} {
		r := registryRun(t, nil, tc.stdin, tc.args...)
		registryWantFailure(t, r, 2, "--help")
		if r.stdout != "" {
			t.Errorf("ocipack %s: stdout %q", strings.Join(tc.args, " "), r.stdout)
		}
		if strings.Contains(r.stderr, "s3cret") {
			t.Errorf("ocipack %s: the password shows: %q", strings.Join(tc.args, " "), r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(work, "dst")); err == nil {
		t.Error("a usage error created the destination layout")
	}
}
