package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocipack/ocipack/internal/testkit"
)

// startCopyTest starts two registries and pushes three tags (a, b, c) of
// one layout to the first one's apps/src.
func startCopyTest(t *testing.T) (a, b *testkit.Registry) {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	a = testkit.StartRegistry(t, testkit.RegistryOptions{})
	b = testkit.StartRegistry(t, testkit.RegistryOptions{})
	dir := filepath.Join(t.TempDir(), "lay")
	for _, tag := range []string{"a", "b", "c"} {
		f := filepath.Join(t.TempDir(), tag+".txt")
		if err := os.WriteFile(f, []byte("file "+tag+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := runCLI(t, "pack", "-q", dir+":"+tag, f); code != 0 {
			t.Fatalf("pack: exit %d: %s", code, errOut)
		}
	}
	if code, _, errOut := runCLI(t, "push", "-q", "--all-tags", dir, a.Ref("apps/src"), "--plain-http"); code != 0 {
		t.Fatalf("push: exit %d: %s", code, errOut)
	}
	return a, b
}

// TestTagsCLI lists a repository's tags as lines and as JSON, and names an
// unknown repository in a one-line error.
func TestTagsCLI(t *testing.T) {
	a, _ := startCopyTest(t)
	code, out, errOut := runCLI(t, "tags", a.Ref("apps/src"), "--plain-http")
	if code != 0 || out != "a\nb\nc\n" {
		t.Errorf("tags: exit %d, stdout %q, stderr %q; want a, b, c one a line", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "tags", a.Ref("apps/src"), "--plain-http", "--json")
	var tags []string
	if err := json.Unmarshal([]byte(out), &tags); code != 0 || err != nil || !slices.Equal(tags, []string{"a", "b", "c"}) {
		t.Errorf("tags --json: exit %d, stdout %q (%v), stderr %q", code, out, err, errOut)
	}
	code, out, errOut = runCLI(t, "tags", a.Ref("apps/nosuch"), "--plain-http")
	if code != 1 || out != "" || !strings.Contains(errOut, "apps/nosuch") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("tags of an unknown repository: exit %d, stdout %q, stderr %q; want exit 1, one line naming it", code, out, errOut)
	}
	for _, args := range [][]string{
		{"tags", "no such ref!", "--plain-http"},
		{"tags", a.Ref("apps/src:a"), "--plain-http"},
		{"tags"},
	} {
		if code, _, errOut := runCLI(t, args...); code != 2 || !strings.Contains(errOut, "run 'ocipack tags --help'") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error", args, code, errOut)
		}
	}
}

// TestCopyCLI copies by tag, by digest, every tag, and within one registry
// (mounted), and refuses bad references as usage errors.
func TestCopyCLI(t *testing.T) {
	a, b := startCopyTest(t)
	tags := func(ref string) string {
		t.Helper()
		_, out, _ := runCLI(t, "tags", ref, "--plain-http")
		return out
	}

	code, out, errOut := runCLI(t, "copy", "-q", a.Ref("apps/src:a"), b.Ref("apps/dst"), "--plain-http")
	if code != 0 || !strings.HasPrefix(out, "copied sha256:") || !strings.HasSuffix(out, "-> "+b.Ref("apps/dst:a")+"\n") || !strings.Contains(out, "2 blob(s) copied, 0 skipped") {
		t.Fatalf("copy: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if got := tags(b.Ref("apps/dst")); got != "a\n" {
		t.Errorf("destination tags after copy = %q, want a", got)
	}
	digest := strings.Fields(out)[1]
	digest = strings.TrimSuffix(digest, ":")
	code, out, errOut = runCLI(t, "copy", "-q", a.Ref("apps/src@"+digest), b.Ref("apps/dst:pinned"), "--plain-http")
	if code != 0 || !strings.Contains(out, "0 blob(s) copied, 2 skipped") || !strings.HasSuffix(out, "-> "+b.Ref("apps/dst:pinned")+"\n") {
		t.Errorf("copy by digest: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	code, out, errOut = runCLI(t, "copy", "-q", "--all-tags", a.Ref("apps/src"), b.Ref("apps/all"), "--plain-http")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[3], "copied 3 tag(s) of "+a.Ref("apps/src")) {
		t.Errorf("copy --all-tags: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if got := tags(b.Ref("apps/all")); got != "a\nb\nc\n" {
		t.Errorf("destination tags after copy --all-tags = %q", got)
	}

	code, out, errOut = runCLI(t, "copy", "-q", a.Ref("apps/src:b"), a.Ref("apps/mounted"), "--plain-http")
	if code != 0 || !strings.Contains(out, "(2 mounted, not sent)") {
		t.Errorf("copy within one registry: exit %d, stdout %q, stderr %q; want 2 blobs mounted", code, out, errOut)
	}

	code, out, errOut = runCLI(t, "copy", "-q", a.Ref("apps/nosuch:v1"), b.Ref("apps/x"), "--plain-http")
	if code != 1 || out != "" || !strings.Contains(errOut, "apps/nosuch:v1") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("copy of an unknown repository: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, args := range [][]string{
		{"copy", "bad ref!", b.Ref("apps/x")},
		{"copy", a.Ref("apps/src"), b.Ref("apps/x")},
		{"copy", a.Ref("apps/src:a"), b.Ref("apps/x@" + digest)},
		{"copy", "--all-tags", a.Ref("apps/src:a"), b.Ref("apps/x")},
		{"copy", a.Ref("apps/src:a")},
	} {
		if code, _, errOut := runCLI(t, append(args, "--plain-http")...); code != 2 || !strings.Contains(errOut, "run 'ocipack copy --help'") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error", args, code, errOut)
		}
	}
}
