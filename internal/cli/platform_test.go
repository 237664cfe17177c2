package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocipack/ocipack/internal/testkit"
)

// TestPlatformCommands: pull, inspect, export/import and push with
// --platform, through the command line, against a real registry.
func TestPlatformCommands(t *testing.T) {
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	srcIdx, imgs := testkit.PushPlatformIndex(t, reg.Repository(t, "apps/multi"), "v1", "linux/amd64", "linux/arm64/v8", "linux/arm/v7")
	dir := filepath.Join(t.TempDir(), "lay")
	run := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, append(args, "-q")...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		return out
	}

	// The registry's index, without pulling it: three platforms.
	out := run("inspect", reg.Ref("apps/multi:v1"), "--plain-http")
	for _, img := range imgs {
		if !strings.Contains(out, img.Platform) || !strings.Contains(out, img.Manifest.Digest.String()) {
			t.Errorf("inspect of the registry's index lacks %s %s:\n%s", img.Platform, img.Manifest.Digest, out)
		}
	}
	if !strings.Contains(out, srcIdx.Digest.String()) {
		t.Errorf("inspect of the registry's index lacks its digest:\n%s", out)
	}

	run("pull", reg.Ref("apps/multi:v1"), dir+":arm", "--plain-http", "--platform", "linux/arm64")
	out = run("inspect", dir+":arm")
	if !strings.Contains(out, "linux/arm64/v8") || strings.Contains(out, "linux/amd64") || !strings.Contains(out, "io.ocipack.platform-subset.source.digest="+srcIdx.Digest.String()) {
		t.Errorf("inspect of the pulled subset:\n%s", out)
	}
	run("verify", dir)

	// No match: the platforms are listed, and nothing is tagged.
	code, _, errOut := runCLI(t, "pull", reg.Ref("apps/multi:v1"), dir+":none", "--plain-http", "--platform", "linux/s390x,windows/amd64")
	if code == 0 || !strings.Contains(errOut, "linux/amd64, linux/arm64/v8, linux/arm/v7") {
		t.Errorf("no match: exit %d: %s", code, errOut)
	}
	if tags := testkit.IndexTags(t, dir); len(tags) != 1 {
		t.Errorf("tags after a refused pull: %v", tags)
	}
	if code, _, errOut := runCLI(t, "pull", reg.Ref("apps/multi:v1"), dir+":bad", "--plain-http", "--platform", "linux"); code != 2 || !strings.Contains(errOut, "--platform") {
		t.Errorf("bad --platform: exit %d: %s", code, errOut)
	}

	// Two platforms from the whole index pulled, exported and imported.
	run("pull", reg.Ref("apps/multi:v1"), dir+":all", "--plain-http")
	tar := filepath.Join(t.TempDir(), "two.tar")
	run("export", dir+":all", tar, "--platform", "linux/arm", "--platform", "linux/amd64")
	dir2 := filepath.Join(t.TempDir(), "lay2")
	run("import", tar, dir2)
	out = run("inspect", dir2+":all")
	if !strings.Contains(out, "linux/amd64") || !strings.Contains(out, "linux/arm/v7") || strings.Contains(out, "linux/arm64") {
		t.Errorf("inspect of the exported subset:\n%s", out)
	}

	// Push one platform of the whole index.
	run("push", dir+":all", reg.Ref("apps/one:v1"), "--plain-http", "--platform", "linux/amd64")
	out = run("inspect", reg.Ref("apps/one:v1"), "--plain-http")
	if !strings.Contains(out, imgs[0].Manifest.Digest.String()) || strings.Contains(out, "linux/arm") {
		t.Errorf("inspect of the pushed subset:\n%s", out)
	}
}
