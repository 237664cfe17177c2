//go:build !windows

package main

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

// resumeKillSize is the blob the kill tests cut: 256 MiB.
const resumeKillSize = 256 << 20

// TestResumeKill kills `ocipack push --chunk-size` and `ocipack pull` with
// SIGKILL while a 256 MiB blob is half way through a flaky proxy, then runs
// each again: the second process continues from what the first left (the
// registry's upload session, the layout's partial file) and moves only the
// rest, which the proxy's byte counters show.
func TestResumeKill(t *testing.T) {
	k := newRobustKit(t)
	dir := t.TempDir()
	file := testkit.WriteRandomFile(t, filepath.Join(dir, "big.bin"), resumeKillSize, 256)
	blob := testkit.FileDigest(t, file).String()
	src := filepath.Join(dir, "src")
	k.must("pack", src+":v1", file, "-q")

	reg := testkit.StartRegistry(t, testkit.RegistryOptions{Disk: true})
	proxy := testkit.StartProxy(t, reg.URL, testkit.ProxyOptions{Lifetime: 4 * time.Minute})
	ref := proxy.Host + "/apps/big:v1"

	// Push: chunks of 32 MiB; the fourth PATCH stalls half way, and the
	// process is killed then. The registry has 3 chunks (96 MiB).
	proxy.SetFaults(testkit.Faults{Kinds: []testkit.Fault{testkit.FaultStall}, Rate: 1, Max: 1, After: 3, At: 0.5,
		Stall: 15 * time.Second, Match: func(r *http.Request) bool { return r.Method == http.MethodPatch }})
	p := k.start("push", src+":v1", ref, "--plain-http", "--chunk-size", "32M", "-q")
	if !robustWaitFor(p, time.Minute, func() bool { return proxy.Stats().Faults[testkit.FaultStall] == 1 }) {
		p.cmd.Process.Kill()
		t.Fatalf("the push never reached the stall: %v", p.wait())
	}
	p.cmd.Process.Kill()
	if r := p.wait(); r.code != -1 {
		t.Fatalf("push was not killed: %v", r)
	}
	if !proxy.WaitIdle(30 * time.Second) {
		t.Fatal("the proxy still forwards 30 s after the push was killed")
	}
	first := proxy.Stats()
	if !hasPrefixed(testkit.TmpFiles(t, src), "upload-") {
		t.Errorf("no upload session saved in %s/.ocipack/tmp: %v", src, testkit.TmpFiles(t, src))
	}
	proxy.SetFaults(testkit.Faults{})
	k.must("push", src+":v1", ref, "--plain-http", "--chunk-size", "32M", "-q")
	second := proxy.Stats().Up - first.Up
	if rest := int64(resumeKillSize - 3*32<<20); second < rest || second > rest+64<<10 {
		t.Errorf("the push after the kill sent %d bytes; the rest after 3 chunks is %d", second, rest)
	}
	t.Logf("push: killed after %d bytes went up, the next push sent %d", first.Up, second)
	if tmp := testkit.TmpFiles(t, src); hasPrefixed(tmp, "upload-") {
		t.Errorf("upload session kept after the push completed: %v", tmp)
	}

	// Pull: the blob's GET stalls at 40%, and the process is killed then.
	dst := filepath.Join(dir, "dst")
	proxy.SetFaults(testkit.Faults{Kinds: []testkit.Fault{testkit.FaultStall}, Rate: 1, Max: 1, At: 0.4,
		Stall: 15 * time.Second, Match: func(r *http.Request) bool {
			return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+blob)
		}})
	partial := filepath.Join(dst, layout.WorkDir, "tmp", "partial-sha256-"+strings.TrimPrefix(blob, "sha256:"))
	cut := int64(resumeKillSize * 2 / 5)
	stalls := proxy.Stats().Faults[testkit.FaultStall]
	p = k.start("pull", ref, dst, "--plain-http", "-q")
	if !robustWaitFor(p, time.Minute, func() bool {
		fi, err := os.Stat(partial)
		return proxy.Stats().Faults[testkit.FaultStall] > stalls && err == nil && fi.Size() >= cut-16<<20
	}) {
		p.cmd.Process.Kill()
		t.Fatalf("the pull never reached the stall: %v", p.wait())
	}
	time.Sleep(100 * time.Millisecond) // let the last bytes that arrived be written
	p.cmd.Process.Kill()
	if r := p.wait(); r.code != -1 {
		t.Fatalf("pull was not killed: %v", r)
	}
	if !proxy.WaitIdle(30 * time.Second) {
		t.Fatal("the proxy still forwards 30 s after the pull was killed")
	}
	fi, err := os.Stat(partial)
	if err != nil || fi.Size() > cut || fi.Size() < cut-16<<20 {
		t.Fatalf("after a kill at byte %d: partial file %v, %v", cut, fi, err)
	}
	have := fi.Size()
	proxy.SetFaults(testkit.Faults{})
	before := proxy.Stats()
	k.must("pull", ref, dst, "--plain-http", "-q")
	down := proxy.Stats().Down - before.Down
	if rest := resumeKillSize - have; down < rest || down > rest+64<<10 {
		t.Errorf("the pull after the kill received %d bytes; the rest is %d", down, rest)
	}
	t.Logf("pull: killed with %d bytes on disk, the next pull received %d", have, down)
	k.verify(dst)
	if tmp := testkit.TmpFiles(t, dst); len(tmp) > 0 {
		t.Errorf("left in the layout's tmp after a complete pull: %v", tmp)
	}
	out := filepath.Join(dir, "out")
	k.must("unpack", dst+":v1", "-o", out, "-q")
	if got := testkit.FileDigest(t, filepath.Join(out, "big.bin")).String(); got != blob {
		t.Errorf("unpacked big.bin is %s, want %s", got, blob)
	}
}

// hasPrefixed reports whether a name in names starts with prefix.
func hasPrefixed(names []string, prefix string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, prefix) })
}
