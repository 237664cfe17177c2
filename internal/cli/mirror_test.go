package cli

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocipack/ocipack/internal/testkit"
)

// TestPullAllTagsNamesAndPushMirror fills a layout from two registries
// (pull --all-tags of one repository, a single pull of another, both
// named by full names) beside a plain tag, and pushes it with --mirror to
// a third registry, without and with a prefix: one line an entry maps its
// full name to REGISTRY[/PREFIX]/PATH:TAG with its digest, the plain tag
// is skipped with a note, shared blobs are sent once, and the mirror
// serves every entry at its mapped name with the same digest.
func TestPullAllTagsNamesAndPushMirror(t *testing.T) {
	a, b := startCopyTest(t) // a: apps/src a, b, c
	if code, _, errOut := runCLI(t, "copy", "-q", a.Ref("apps/src:c"), b.Ref("team/other:c"), "--plain-http"); code != 0 {
		t.Fatalf("copy: exit %d: %s", code, errOut)
	}
	m := testkit.StartRegistry(t, testkit.RegistryOptions{})
	dir := filepath.Join(t.TempDir(), "bundle")

	code, out, errOut := runCLI(t, "pull", "-q", "--all-tags", a.Ref("apps/src"), dir, "--plain-http")
	if code != 0 {
		t.Fatalf("pull --all-tags: exit %d, stderr %q", code, errOut)
	}
	for _, tag := range []string{"a", "b", "c"} {
		if !strings.Contains(out, " -> "+dir+":"+a.Ref("apps/src:"+tag)+"\n") {
			t.Errorf("pull --all-tags does not name %s by its full name:\n%s", tag, out)
		}
	}
	names := testkit.IndexTags(t, dir)
	if got, want := slices.Sorted(maps.Keys(names)), []string{a.Ref("apps/src:a"), a.Ref("apps/src:b"), a.Ref("apps/src:c")}; !slices.Equal(got, want) {
		t.Errorf("entries after pull --all-tags = %v, want %v", got, want)
	}
	// A plain tag still finds its entry.
	if code, out, errOut := runCLI(t, "inspect", dir+":b"); code != 0 || !strings.Contains(out, names[a.Ref("apps/src:b")]) {
		t.Errorf("inspect %s:b: exit %d, stdout %q, stderr %q", dir, code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "pull", "-q", b.Ref("team/other:c"), dir, "--plain-http"); code != 0 {
		t.Fatalf("pull: exit %d: %s", code, errOut)
	}
	f := filepath.Join(t.TempDir(), "local.txt")
	if err := os.WriteFile(f, []byte("local\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "pack", "-q", dir+":local", f); code != 0 {
		t.Fatalf("pack: exit %d: %s", code, errOut)
	}
	names = testkit.IndexTags(t, dir)

	for _, prefix := range []string{"", "/mirror/cache"} {
		dst := m.Host + prefix
		code, out, errOut = runCLI(t, "push", "-q", "--mirror", dir, dst, "--plain-http")
		if code != 0 {
			t.Fatalf("push --mirror %s: exit %d, stdout %q, stderr %q", dst, code, out, errOut)
		}
		if want := fmt.Sprintf("skipped local: a plain tag names no source repository (push it with push %s:local REGISTRY/REPO)\n", dir); errOut != want {
			t.Errorf("push --mirror stderr %q, want %q", errOut, want)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		mapping := map[string]string{
			a.Ref("apps/src:a"):   dst + "/apps/src:a",
			a.Ref("apps/src:b"):   dst + "/apps/src:b",
			a.Ref("apps/src:c"):   dst + "/apps/src:c",
			b.Ref("team/other:c"): dst + "/team/other:c",
		}
		order := slices.Sorted(maps.Keys(mapping))
		if len(lines) != len(order)+1 {
			t.Fatalf("push --mirror printed %d lines, want %d:\n%s", len(lines), len(order)+1, out)
		}
		for i, n := range order {
			if want := n + " -> " + mapping[n] + " " + names[n] + ": "; !strings.HasPrefix(lines[i], want) {
				t.Errorf("line %d = %q, want %q…", i, lines[i], want)
			}
			repo, tag, _ := strings.Cut(strings.TrimPrefix(mapping[n], m.Host+"/"), ":")
			if d, err := m.Repository(t, repo).Resolve(t.Context(), tag); err != nil || d.Digest.String() != names[n] {
				t.Errorf("mirror %s = %v, %v; want %s", mapping[n], d.Digest, err, names[n])
			}
		}
		// Four distinct blobs (three files and the empty config) sent
		// once; team/other mounts the two it shares with apps/src.
		if want := fmt.Sprintf("mirrored 4 entries of %s: ", dir); !strings.HasPrefix(lines[4], want) ||
			!strings.HasSuffix(lines[4], "6 blob(s) copied (2 mounted, not sent), 2 skipped (already there), 4 manifest(s) -> "+dst) {
			t.Errorf("total line %q, want %q… with 6 blobs copied, 2 mounted, 2 skipped", lines[4], want)
		}
	}

	// Again without a prefix: everything is there.
	code, out, _ = runCLI(t, "push", "-q", "--mirror", dir, m.Host, "--plain-http")
	if code != 0 || !strings.Contains(out, "0 blob(s) copied, 8 skipped (already there)") {
		t.Errorf("second push --mirror: exit %d, stdout %q; want nothing copied", code, out)
	}
}

// TestPushMirrorErrorsCLI: a layout of plain tags only fails with one line;
// --mirror with a layout tag, with --all-tags, or a destination with a tag
// is a usage error.
func TestPushMirrorErrorsCLI(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	m := testkit.StartRegistry(t, testkit.RegistryOptions{})
	dir := filepath.Join(t.TempDir(), "bundle")
	f := filepath.Join(t.TempDir(), "f.txt")
	if err := os.WriteFile(f, []byte("f\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"v1", "v2"} {
		if code, _, errOut := runCLI(t, "pack", "-q", dir+":"+tag, f); code != 0 {
			t.Fatalf("pack: exit %d: %s", code, errOut)
		}
	}
	code, out, errOut := runCLI(t, "push", "-q", "--mirror", dir, m.Host, "--plain-http")
	if code != 1 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "no entry with a full name") || !strings.Contains(errOut, "v1, v2") {
		t.Errorf("push --mirror of plain tags: exit %d, stdout %q, stderr %q; want exit 1, one line naming the plain tags", code, out, errOut)
	}
	for _, args := range [][]string{
		{"push", "--mirror", dir + ":v1", m.Host},
		{"push", "--mirror", "--all-tags", dir, m.Host},
		{"push", "--mirror", dir, m.Host + "/mirror:v1"},
		{"push", "--mirror", dir, m.Host + "/Upper"},
		{"push", "--mirror", dir},
	} {
		if code, _, errOut := runCLI(t, append(args, "--plain-http")...); code != 2 || !strings.Contains(errOut, "run 'ocipack push --help'") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error", args, code, errOut)
		}
	}
	if code, out, _ := runCLI(t, "push", "--help"); code != 0 || !strings.Contains(out, "ocipack push --mirror LAYOUT REGISTRY[/PREFIX]") || !strings.Contains(out, "--mirror ") {
		t.Errorf("push --help does not document --mirror:\n%s", out)
	}
}
