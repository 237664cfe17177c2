package main

// Command-line tests of push --all-tags and pull --all-tags against a real
// registry (CNCF Distribution, in process on 127.0.0.1). Identifiers here
// start with "allTags" so as not to clash with the other test files.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
)

// allTagsLayout packs n artifacts into a new layout at dir, tagged t00,
// t01, …: each one file of its own and hello-0.1.0.tgz, which they share
// with the empty config. It returns the tags and their manifest digests.
func allTagsLayout(t *testing.T, dir string, n int) ([]string, map[string]digest.Digest) {
	t.Helper()
	ctx := t.Context()
	l, err := layout.OpenOrCreate(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return testkit.PackTagged(t, n, "testdata/example/hello-0.1.0.tgz", func(tag string, paths ...string) digest.Digest {
		var in []pack.Input
		for _, p := range paths {
			in = append(in, pack.Input{Path: p})
		}
		res, err := pack.Pack(ctx, l, tag, in, pack.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return res.Manifest.Digest
	})
}

// allTagsEnv is a registry of its own (Docker's config isolated) and a
// layout src (in work) of artifacts from allTagsLayout, to go to the
// repository repo, HOST/apps/many.
type allTagsEnv struct {
	reg             *testkit.Registry
	work, src, repo string
	tags            []string
	want            map[string]digest.Digest
}

// startAllTags starts an allTagsEnv of n artifacts.
func startAllTags(t *testing.T, n int) *allTagsEnv {
	t.Helper()
	registryIsolateDocker(t)
	e := &allTagsEnv{reg: testkit.StartRegistry(t, testkit.RegistryOptions{}), work: t.TempDir()}
	e.src = filepath.Join(e.work, "src")
	e.tags, e.want = allTagsLayout(t, e.src, n)
	e.repo = e.reg.Host + "/apps/many"
	return e
}

// allTagsSummary matches one tag's summary line.
var allTagsSummary = regexp.MustCompile(`^pulled (sha256:[0-9a-f]{64}): .* received, (\d+) blob\(s\) copied, (\d+) skipped \(already there\), (\d+) manifest\(s\) -> (.*):([^:]+)$`)

// allTagsLines checks the stdout of pull --all-tags of repo into dst: one
// summary line a tag, naming the entry by its full name (dst:repo:tag), in
// the order of tags, then the total. It returns the digests and the sums
// of blobs copied and skipped.
func allTagsLines(t *testing.T, stdout, dst, repo string, tags []string) (map[string]digest.Digest, int, int) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != len(tags)+1 {
		t.Fatalf("pull --all-tags printed %d lines, want %d:\n%s", len(lines), len(tags)+1, stdout)
	}
	got := map[string]digest.Digest{}
	copied, skipped, manifests := 0, 0, 0
	for i, tag := range tags {
		m := allTagsSummary.FindStringSubmatch(lines[i])
		if m == nil || m[5] != dst+":"+repo || m[6] != tag {
			t.Errorf("line %d = %q, want the summary of %s -> %s:%s:%s", i, lines[i], tag, dst, repo, tag)
			continue
		}
		got[tag] = digest.Digest(m[1])
		c, _ := strconv.Atoi(m[2])
		s, _ := strconv.Atoi(m[3])
		n, _ := strconv.Atoi(m[4])
		copied += c
		skipped += s
		manifests += n
	}
	total := fmt.Sprintf("pulled %d tag(s) of %s: ", len(tags), repo)
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, total) ||
		!strings.Contains(last, fmt.Sprintf(", %d blob(s) copied, %d skipped (already there), %d manifest(s) -> %s", copied, skipped, manifests, dst)) {
		t.Errorf("total line %q, want %q… with %d copied, %d skipped", last, total, copied, skipped)
	}
	return got, copied, skipped
}

// TestAllTagsPullSharedBlobs pushes 30 tags that share two blobs with
// push --all-tags and pulls them back with pull --all-tags: every tag
// resolves to the registry's digest and unpacks, and each shared blob was
// fetched once.
func TestAllTagsPullSharedBlobs(t *testing.T) {
	ctx := t.Context()
	e := startAllTags(t, 30)
	reg, work, src, repoName, tags, want := e.reg, e.work, e.src, e.repo, e.tags, e.want

	r := registryMustRun(t, nil, "", "push", "--all-tags", src, repoName, "--plain-http", "--concurrency", "6", "-q")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != len(tags) {
		t.Fatalf("push --all-tags printed %d lines, want %d:\n%s", len(lines), len(tags), r.stdout)
	}
	for i, tag := range tags {
		if !strings.HasPrefix(lines[i], "pushed "+want[tag].String()+": ") || !strings.HasSuffix(lines[i], " -> "+repoName+":"+tag) {
			t.Errorf("push line %d = %q, want %s -> %s:%s", i, lines[i], want[tag], repoName, tag)
		}
	}
	repo := registryRepo(t, reg, "apps/many")
	for _, tag := range tags {
		if d, err := repo.Resolve(ctx, tag); err != nil || d.Digest != want[tag] {
			t.Errorf("registry %s = %v, %v; want %s", tag, d.Digest, err, want[tag])
		}
	}

	dst := filepath.Join(work, "dst")
	r = registryMustRun(t, nil, "", "pull", "--all-tags", repoName, dst, "--plain-http", "--concurrency", "6")
	got, copied, skipped := allTagsLines(t, r.stdout, dst, repoName, tags)
	// 30 files of their own, the shared file and the config.
	if copied != 32 || skipped != 30*3-32 {
		t.Errorf("pulled %d blobs and skipped %d, want 32 and %d", copied, skipped, 30*3-32)
	}
	progressLines := registryProgressLines(t, strings.Join(slices.DeleteFunc(strings.SplitAfter(r.stderr, "\n"), func(s string) bool {
		return strings.HasPrefix(s, "skipped ")
	}), ""), "pulled")
	shared := registryArtifactOf(t, src, "t00")
	for _, b := range shared.blobs {
		if n := strings.Count(r.stderr, "pulled "+b.String()); n > 1 {
			t.Errorf("blob %s fetched %d times", b, n)
		}
	}
	if len(progressLines) != 32+30 {
		t.Errorf("%d progress lines, want one per blob fetched and manifest (62)", len(progressLines))
	}
	for i, tag := range tags {
		d, err := repo.Resolve(ctx, tag)
		if err != nil {
			t.Fatal(err)
		}
		// Named by the full name; the plain tag finds it too.
		if got[tag] != d.Digest || registryArtifactOf(t, dst, repoName+":"+tag).manifest != d.Digest || registryArtifactOf(t, dst, tag).manifest != d.Digest {
			t.Errorf("pulled %s = %s, registry has %s", tag, got[tag], d.Digest)
		}
		if i%10 != 3 {
			continue
		}
		out := filepath.Join(work, "out-"+tag)
		registryMustRun(t, nil, "", "unpack", dst+":"+tag, "-o", out)
		snap := registrySnapshot(t, out)
		part := fmt.Sprintf("part-%02d.txt", i)
		if snap[part] != fmt.Sprintf("file exec=false %s", digest.FromBytes(testkit.PartContent(i))) {
			t.Errorf("%s: %s = %q", tag, part, snap[part])
		}
		if snap["hello-0.1.0.tgz"] != registrySnapshot(t, "testdata/example")["hello-0.1.0.tgz"] {
			t.Errorf("%s: hello-0.1.0.tgz = %q", tag, snap["hello-0.1.0.tgz"])
		}
	}
	registryMustRun(t, nil, "", "verify", dst)
}

// TestAllTagsPullIntoExistingLayout pulls every tag into a layout that has
// some of them already, one plain tag on another artifact, and a tag of
// its own: every tag lands under its full name; the other artifact keeps
// its plain tag.
func TestAllTagsPullIntoExistingLayout(t *testing.T) {
	e := startAllTags(t, 8)
	work, src, repoName, tags, want := e.work, e.src, e.repo, e.tags, e.want
	registryMustRun(t, nil, "", "push", "--all-tags", src, repoName, "--plain-http", "-q")

	dst := filepath.Join(work, "dst")
	registryMustRun(t, nil, "", "pull", repoName+":t00", dst, "--plain-http", "-q")
	registryMustRun(t, nil, "", "pull", repoName+":t01", dst, "--plain-http", "-q")
	registryMustRun(t, nil, "", "pack", dst+":t05", "testdata/example/app-1.0.tar", "-q")
	t05 := registryArtifactOf(t, dst, "t05")
	registryMustRun(t, nil, "", "pack", dst+":local", "testdata/example/site", "-q")
	local := registryArtifactOf(t, dst, "local")

	r := registryMustRun(t, nil, "", "pull", "--all-tags", repoName, dst, "--plain-http", "-q")
	if r.stderr != "" {
		t.Errorf("-q wrote to stderr: %q", r.stderr)
	}
	got, copied, _ := allTagsLines(t, r.stdout, dst, repoName, tags)
	if copied != 6 {
		t.Errorf("copied %d blobs, want the 6 files of the tags not there", copied)
	}
	for _, tag := range tags {
		if got[tag] != want[tag] || registryArtifactOf(t, dst, repoName+":"+tag).manifest != want[tag] {
			t.Errorf("%s = %s, want %s", tag, got[tag], want[tag])
		}
	}
	if a := registryArtifactOf(t, dst, "t05"); a.manifest != t05.manifest || a.manifest == want["t05"] {
		t.Errorf("the plain tag t05 moved to %s, was %s", a.manifest, t05.manifest)
	}
	if a := registryArtifactOf(t, dst, "local"); a.manifest != local.manifest {
		t.Errorf("local moved to %s, was %s", a.manifest, local.manifest)
	}
	out := filepath.Join(work, "out")
	registryMustRun(t, nil, "", "unpack", dst+":local", "-o", out)
	if snap := registrySnapshot(t, out); snap["site"] != "dir" {
		t.Errorf("local unpacks to %v", snap)
	}
}

// TestAllTagsPullErrorNamesTag: a tag whose layer the registry lost fails
// pull --all-tags with one line naming the tag and the blob.
func TestAllTagsPullErrorNamesTag(t *testing.T) {
	e := startAllTags(t, 10)
	reg, work, src, repoName := e.reg, e.work, e.src, e.repo
	registryMustRun(t, nil, "", "push", "--all-tags", src, repoName, "--plain-http", "-q")
	a := registryArtifactOf(t, src, "t04")
	shared := registryArtifactOf(t, src, "t00")
	var lost digest.Digest
	for _, b := range a.blobs {
		if !slices.Contains(shared.blobs, b) {
			lost = b
		}
	}
	repo := registryRepo(t, reg, "apps/many")
	desc, err := repo.Blobs().Resolve(t.Context(), lost.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Blobs().Delete(t.Context(), desc); err != nil {
		t.Fatal(err)
	}

	dst := filepath.Join(work, "dst")
	r := registryRun(t, nil, "", "pull", "--all-tags", repoName, dst, "--plain-http", "-q", "--concurrency", "1")
	registryWantFailure(t, r, 1, repoName+":t04", lost.String())
	if n := strings.Count(r.stdout, "\n"); n != 4 {
		t.Errorf("printed %d summary lines before the failure, want 4 (t00-t03):\n%s", n, r.stdout)
	}
	l, err := layout.Open(t.Context(), dst)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 10 {
		_, err := l.Resolve(t.Context(), fmt.Sprintf("t%02d", i))
		if (err == nil) != (i < 4) {
			t.Errorf("t%02d in the layout: %v", i, err)
		}
	}

	r = registryRun(t, nil, "", "pull", "--all-tags", reg.Host+"/apps/none", dst, "--plain-http", "-q")
	registryWantFailure(t, r, 1, reg.Host+"/apps/none")
}

// TestAllTagsUsageErrors: --all-tags with a tag or digest on either side,
// or without two arguments, exits 2 before any request.
func TestAllTagsUsageErrors(t *testing.T) {
	registryIsolateDocker(t)
	work := t.TempDir()
	dst := filepath.Join(work, "dst")
	const host = "127.0.0.1:1"
	dgst := digest.FromString("x").String()
	for _, args := range [][]string{
		{"pull", "--all-tags", host + "/r"},
		{"pull", "--all-tags", host + "/r:v1", dst},
		{"pull", "--all-tags", host + "/r@" + dgst, dst},
		{"pull", "--all-tags", host + "/r", dst + ":v1"},
		{"pull", "--all-tags", host + "/r", dst + "@" + dgst},
		{"pull", "--all-tags", "Not A Reference", dst},
		{"pull", "--all-tags", host + "/r", dst, "-u", "alice"},
	} {
		r := registryRun(t, nil, "", args...)
		registryWantFailure(t, r, 2, "--help")
		if r.stdout != "" {
			t.Errorf("ocipack %s: stdout %q", strings.Join(args, " "), r.stdout)
		}
	}
	if _, err := os.Stat(dst); err == nil {
		t.Error("a usage error created the destination layout")
	}
	r := registryMustRun(t, nil, "", "pull", "--help")
	for _, w := range []string{"--all-tags", "ocipack pull --all-tags REGISTRY/REPO LAYOUT"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("pull --help does not mention %q", w)
		}
	}
}
