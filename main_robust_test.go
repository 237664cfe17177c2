//go:build !windows

package main

// Reliability tests: real ocipack processes (the built binary) writing
// into one layout at once, killed (SIGKILL) or interrupted (SIGINT) part
// way, on a full file system, and fed decompression bombs and absurd
// manifests. Every identifier here starts with "robust" so as not to clash
// with the other test files of this package. The registry is the
// in-process one of internal/testkit, on 127.0.0.1.
//
// Unix only (signals, tmpfs, rusage); CI runs it on Linux, as root, where
// nothing in it is skipped.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/archive"
	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

// robustEpoch is the SOURCE_DATE_EPOCH of every pack, so that digests are
// known in advance.
const robustEpoch = "1700000000"

// robustKit runs the ocipack binary with a fixed environment.
type robustKit struct {
	t   *testing.T
	exe string
	env []string
}

func newRobustKit(t *testing.T) *robustKit {
	t.Helper()
	exe := ocipackBinary(t)
	env := append(os.Environ(), "SOURCE_DATE_EPOCH="+robustEpoch, "DOCKER_CONFIG="+t.TempDir())
	return &robustKit{t: t, exe: exe, env: env}
}

// robustSetup gives a test its kit, a work directory and, if registry, a
// registry of its own (nil otherwise).
func robustSetup(t *testing.T, registry bool) (k *robustKit, reg *testkit.Registry, work string) {
	t.Helper()
	k = newRobustKit(t)
	if registry {
		reg = testkit.StartRegistry(t, testkit.RegistryOptions{})
	}
	return k, reg, t.TempDir()
}

// robustRes is what one process gave.
type robustRes struct {
	args           []string
	code           int // -1 when killed by a signal
	stdout, stderr string
	dur            time.Duration
	maxRSS         int64 // peak resident memory, bytes (Linux)
	err            error // the process could not be run at all
}

func (r robustRes) String() string {
	return fmt.Sprintf("ocipack %s: exit %d after %v\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), r.code, r.dur.Round(time.Millisecond), r.stdout, r.stderr)
}

// robustProc is a running process.
type robustProc struct {
	cmd    *exec.Cmd
	so, se bytes.Buffer
	start  time.Time
	done   chan struct{}
	res    robustRes
	cancel context.CancelFunc
}

// start starts ocipack ARGS, bounded to 90 s.
func (k *robustKit) start(args ...string) *robustProc {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	p := &robustProc{done: make(chan struct{}), cancel: cancel}
	p.cmd = exec.CommandContext(ctx, k.exe, args...)
	p.cmd.Env = k.env
	p.cmd.Stdout, p.cmd.Stderr = &p.so, &p.se
	p.cmd.WaitDelay = 5 * time.Second
	p.res.args = args
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		p.res.err, p.res.code = err, -2
		close(p.done)
		cancel()
		return p
	}
	go func() {
		err := p.cmd.Wait()
		p.res.dur = time.Since(p.start)
		p.res.stdout, p.res.stderr = p.so.String(), p.se.String()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			p.res.code = ee.ExitCode()
		default:
			p.res.err, p.res.code = err, -2
		}
		if ps := p.cmd.ProcessState; ps != nil {
			if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
				p.res.maxRSS = int64(ru.Maxrss)
				if runtime.GOOS == "linux" {
					p.res.maxRSS *= 1024 // Linux reports KiB
				}
			}
		}
		cancel()
		close(p.done)
	}()
	return p
}

func (p *robustProc) wait() robustRes { <-p.done; return p.res }

func (p *robustProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// run runs ocipack ARGS to its end.
func (k *robustKit) run(args ...string) robustRes { return k.start(args...).wait() }

// must runs ocipack ARGS and fails the test unless it exits 0.
func (k *robustKit) must(args ...string) robustRes {
	k.t.Helper()
	r := k.run(args...)
	if os.Getenv("ROBUST_TRACE") != "" { // timings of every step, for tuning
		k.t.Logf("%v: %s", r.dur.Round(time.Millisecond), strings.Join(args, " "))
	}
	if r.code != 0 {
		k.t.Fatalf("%v", r)
	}
	return r
}

// verify runs `ocipack verify --json` and fails the test unless it exits 0
// with no problem; it returns the report.
func (k *robustKit) verify(lay string) *layout.CheckReport {
	k.t.Helper()
	r := k.run("verify", lay, "--json")
	var rep layout.CheckReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		k.t.Fatalf("verify --json printed no report: %v\n%v", err, r)
	}
	if r.code != 0 || len(rep.Problems) > 0 {
		k.t.Fatalf("verify %s: exit %d, problems: %v\nstderr: %s", lay, r.code, rep.Problems, r.stderr)
	}
	return &rep
}

// robustOnlyLeftovers fails unless every warning is of one of kinds.
func robustOnlyLeftovers(t *testing.T, what string, rep *layout.CheckReport, kinds ...layout.ProblemKind) {
	t.Helper()
	for _, w := range rep.Warnings {
		if !slices.Contains(kinds, w.Kind) {
			t.Errorf("%s: verify warns %v, which is not a leftover of kind %v", what, w, kinds)
		}
	}
}

// robustCleanAfterGC runs gc and checks that nothing at all is left over:
// .ocipack/tmp is empty and verify warns of nothing.
func (k *robustKit) robustCleanAfterGC(lay string) {
	k.t.Helper()
	k.must("gc", lay)
	if tmp := testkit.TmpFiles(k.t, lay); len(tmp) > 0 {
		k.t.Errorf("after gc, %s/.ocipack/tmp still holds %v", lay, tmp)
	}
	rep := k.verify(lay)
	for _, w := range rep.Warnings {
		k.t.Errorf("after gc, verify still warns: %v", w)
	}
}

// robustPackDigest is the manifest digest `ocipack pack` printed.
func robustPackDigest(t *testing.T, r robustRes) string {
	t.Helper()
	m := manifestRE.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("pack printed no manifest digest: %v", r)
	}
	return m[1]
}

// robustWaitFor polls cond every millisecond until it holds (true), p
// exits or the timeout passes (false).
func robustWaitFor(p *robustProc, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		if p != nil && p.exited() {
			return cond()
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// packExportImp packs inputs as imp into the layout work/src and exports
// that to work/imp.tar. It returns the manifest digest and the archive.
func (k *robustKit) packExportImp(work string, inputs ...string) (string, string) {
	k.t.Helper()
	src := filepath.Join(work, "src")
	want := robustPackDigest(k.t, k.must(append(append([]string{"pack", src + ":imp"}, inputs...), "-q")...))
	arc := filepath.Join(work, "imp.tar")
	k.must("export", src+":imp", arc)
	return want, arc
}

// with is k for the (sub)test t.
func (k *robustKit) with(t *testing.T) *robustKit {
	return &robustKit{t: t, exe: k.exe, env: k.env}
}

// startImportStdin starts `ocipack import - lay`, its standard input a
// pipe the caller writes the archive to and closes, its output going to
// stdout and stderr (nil discards). The process is killed after a minute
// at the latest.
func (k *robustKit) startImportStdin(lay string, stdout, stderr io.Writer) (*exec.Cmd, io.WriteCloser) {
	t := k.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, k.exe, "import", "-", lay)
	cmd.Env = k.env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stdin
}

// heldAgainstGC checks the gc that ran while writer (e.g. "a pull") held
// the layout: it succeeded, and did not reach its end while held.
func (k *robustKit) heldAgainstGC(gr robustRes, gcEndedWhileHeld bool, writer string) {
	k.t.Helper()
	if gr.code != 0 {
		k.t.Fatalf("%v", gr)
	}
	if gcEndedWhileHeld {
		k.t.Errorf("gc ran to its end while %s into the layout was under way (gc: %q)", writer, gr.stdout)
	}
}

// checkTagged checks that lay tags tag at the manifest want, verifies,
// and that tag unpacks to files (title -> digest; see robustUnpackCheck).
func (k *robustKit) checkTagged(lay, tag, want string, files map[string]string) {
	k.t.Helper()
	if got := testkit.IndexTags(k.t, lay)[tag]; got != want {
		k.t.Errorf("%s = %s, want %s", tag, got, want)
	}
	k.verify(lay)
	k.robustUnpackCheck(lay, tag, files)
}

// robustUnpackCheck unpacks lay:tag into a new directory and checks that
// every file of want (title -> sha256 digest of the file) came out.
func (k *robustKit) robustUnpackCheck(lay, tag string, want map[string]string) {
	k.t.Helper()
	dest := filepath.Join(k.t.TempDir(), "unpacked")
	k.must("unpack", lay+":"+tag, "-o", dest, "-q")
	for rel, d := range want {
		if got := testkit.FileDigest(k.t, filepath.Join(dest, rel)).String(); got != d {
			k.t.Errorf("unpack %s:%s: %s has digest %s, want %s", lay, tag, rel, got, d)
		}
	}
}

// robustUnpackAll is robustUnpackCheck for every tag of files (tag ->
// title -> digest), the unpacks running at once.
func (k *robustKit) robustUnpackAll(lay string, files map[string]map[string]string) {
	k.t.Helper()
	dests := map[string]string{}
	procs := map[string]*robustProc{}
	for tag := range files {
		dests[tag] = filepath.Join(k.t.TempDir(), "unpacked")
		procs[tag] = k.start("unpack", lay+":"+tag, "-o", dests[tag], "-q")
	}
	for tag, want := range files {
		if r := procs[tag].wait(); r.code != 0 {
			k.t.Errorf("%v", r)
			continue
		}
		for rel, d := range want {
			if got := testkit.FileDigest(k.t, filepath.Join(dests[tag], rel)).String(); got != d {
				k.t.Errorf("unpack %s:%s: %s has digest %s, want %s", lay, tag, rel, got, d)
			}
		}
	}
}

// robustStderrLine fails unless stderr is one line holding every want.
func robustStderrLine(t *testing.T, r robustRes, wants ...string) {
	t.Helper()
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("ocipack %s: stderr is not one line: %q", strings.Join(r.args, " "), r.stderr)
	}
	low := strings.ToLower(r.stderr)
	for _, w := range wants {
		if !strings.Contains(low, strings.ToLower(w)) {
			t.Errorf("ocipack %s: stderr %q does not mention %q", strings.Join(r.args, " "), r.stderr, w)
		}
	}
}

// robustProxy is a reverse proxy on 127.0.0.1 in front of reg that can
// hold the first GET of one blob until opened, and send response bodies
// at a bounded rate.
type robustProxy struct {
	host    string
	reached chan struct{}
	release chan struct{}
	gate    string // "/blobs/sha256:…", or ""
	once    sync.Once
	opened  sync.Once
}

// open lets the held request, and every later one, through.
func (g *robustProxy) open() { g.opened.Do(func() { close(g.release) }) }

// robustThrottle writes at most rate bytes a second.
type robustThrottle struct {
	http.ResponseWriter
	rate int64
}

func (w robustThrottle) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := min(len(p), 64<<10)
		m, err := w.ResponseWriter.Write(p[:c])
		n += m
		if err != nil {
			return n, err
		}
		p = p[c:]
		time.Sleep(time.Duration(int64(c) * int64(time.Second) / w.rate))
	}
	return n, nil
}

// robustNewProxy starts the proxy: gateBlob "" holds nothing, rate 0 does
// not throttle.
func robustNewProxy(t *testing.T, reg *testkit.Registry, gateBlob string, rate int64) *robustProxy {
	t.Helper()
	u, err := url.Parse(reg.URL)
	if err != nil {
		t.Fatal(err)
	}
	g := &robustProxy{reached: make(chan struct{}), release: make(chan struct{})}
	if gateBlob != "" {
		g.gate = "/blobs/" + gateBlob
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = reg.Client().Transport
	rp.FlushInterval = -1
	rp.ErrorLog = log.New(io.Discard, "", 0) // a killed pull hangs up
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.gate != "" && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, g.gate) {
			first := false
			g.once.Do(func() { first = true; close(g.reached) })
			if first {
				select {
				case <-g.release:
				case <-time.After(30 * time.Second):
				}
			}
		}
		if rate > 0 && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			w = robustThrottle{w, rate}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	g.host = strings.TrimPrefix(srv.URL, "http://")
	t.Cleanup(g.open)
	return g
}

// TestRobustPullHoldsLayoutAgainstGC: a pull that finds a blob already in
// the layout (left unreferenced by `rm`) and skips it must keep `gc` from
// removing it before the pull tags the manifest that needs it. The
// registry holds the pull on its one missing blob while gc runs.
func TestRobustPullHoldsLayoutAgainstGC(t *testing.T) {
	t.Parallel()
	k, reg, work := robustSetup(t, true)
	shared := testkit.WriteRandomFile(t, filepath.Join(work, "in", "shared.bin"), 64<<10, 1)
	other := testkit.WriteRandomFile(t, filepath.Join(work, "in", "other.bin"), 64<<10, 2)
	src := filepath.Join(work, "src")
	want := robustPackDigest(t, k.must("pack", src+":v1", shared, other, "-q"))
	k.must("push", src+":v1", reg.Host+"/robust/app", "--plain-http", "-q")

	lay := filepath.Join(work, "lay")
	k.must("pack", lay+":keep", filepath.Join("testdata", "example", "app-1.0.tar"), "-q")
	k.must("pack", lay+":old", shared, "-q") // the same blob, and the same empty config
	k.must("rm", lay+":old")

	g := robustNewProxy(t, reg, testkit.FileDigest(t, other).String(), 0)
	pull := k.start("pull", g.host+"/robust/app:v1", lay+":pulled", "--plain-http", "-q")
	select {
	case <-g.reached:
	case <-pull.done:
		t.Fatalf("pull ended before it fetched other.bin: %v", pull.wait())
	case <-time.After(30 * time.Second):
		t.Fatal("pull never fetched other.bin")
	}
	time.Sleep(200 * time.Millisecond) // the pull has looked at every other blob by now
	gc := k.start("gc", lay)
	gcEndedWhileHeld := robustWaitFor(gc, time.Second, gc.exited)
	g.open()
	pr, gr := pull.wait(), gc.wait()
	if pr.code != 0 {
		t.Fatalf("%v", pr)
	}
	k.heldAgainstGC(gr, gcEndedWhileHeld, "a pull")
	k.checkTagged(lay, "pulled", want, map[string]string{"shared.bin": testkit.FileDigest(t, shared).String(), "other.bin": testkit.FileDigest(t, other).String()})
}

// TestRobustImportHoldsLayoutAgainstGC: an import (from standard input)
// that skips the blobs the layout has must keep `gc` from removing them
// before it tags them. The archive's last bytes are held back while gc
// runs.
func TestRobustImportHoldsLayoutAgainstGC(t *testing.T) {
	t.Parallel()
	k, _, work := robustSetup(t, false)
	in := testkit.WriteRandomFile(t, filepath.Join(work, "in", "data.bin"), 256<<10, 3)
	want, arc := k.packExportImp(work, in)
	b := testkit.ReadFile(t, arc)

	lay := filepath.Join(work, "lay")
	k.must("pack", lay+":keep", filepath.Join("testdata", "example", "app-1.0.tar"), "-q")
	k.must("pack", lay+":imp", in, "-q") // every blob of the archive, then unreferenced
	k.must("rm", lay+":imp")

	var so, se bytes.Buffer
	cmd, stdin := k.startImportStdin(lay, &so, &se)
	// Everything but the tar's end: the import has read every blob entry
	// (all of which the layout has) and waits for the rest.
	if _, err := stdin.Write(b[:len(b)-1024]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	gc := k.start("gc", lay)
	gcEndedWhileHeld := robustWaitFor(gc, time.Second, gc.exited)
	if _, err := stdin.Write(b[len(b)-1024:]); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	ierr := cmd.Wait()
	gr := gc.wait()
	if ierr != nil {
		t.Fatalf("import - %s: %v\nstdout: %s\nstderr: %s", lay, ierr, so.String(), se.String())
	}
	k.heldAgainstGC(gr, gcEndedWhileHeld, "an import")
	k.checkTagged(lay, "imp", want, map[string]string{"data.bin": testkit.FileDigest(t, in).String()})
}

// TestRobustConcurrentProcesses runs, for three rounds, eight ocipack
// processes at once on one layout: two packs sharing a file, a tag, an
// rm, a gc, a pull from the registry, an import of an archive and an ls.
// Then a 64 MiB pack runs while gc is started again and again. Every
// digest is known in advance (SOURCE_DATE_EPOCH); afterwards every tag
// that should exist does, at its digest, nothing else is tagged,
// index.json parses, verify passes and every tag unpacks.
func TestRobustConcurrentProcesses(t *testing.T) {
	t.Parallel()
	const rounds = 3
	k, reg, work := robustSetup(t, true)
	in := filepath.Join(work, "in")
	shared := testkit.WriteRandomFile(t, filepath.Join(in, "shared.bin"), 256<<10, 20)
	ref := filepath.Join(work, "ref") // the expected digests
	want := map[string]string{}       // tag -> digest, once all rounds ran
	files := map[string]map[string]string{}

	// The pulled and the imported artifacts.
	pulledIn := testkit.WriteRandomFile(t, filepath.Join(in, "pulled.bin"), 256<<10, 21)
	pulled := robustPackDigest(t, k.must("pack", ref+":pulled", pulledIn, shared, "-q"))
	k.must("push", ref+":pulled", reg.Host+"/robust/app:v1", "--plain-http", "-q")
	impIn := testkit.WriteRandomFile(t, filepath.Join(in, "imp.bin"), 256<<10, 22)
	imp := robustPackDigest(t, k.must("pack", ref+":imp", impIn, shared, "-q"))
	arc := filepath.Join(work, "imp.tar")
	k.must("export", ref+":imp", arc)
	want["imp"] = imp
	files["imp"] = map[string]string{"imp.bin": testkit.FileDigest(t, impIn).String(), "shared.bin": testkit.FileDigest(t, shared).String()}

	lay := filepath.Join(work, "lay")
	baseIn := testkit.WriteFile(t, filepath.Join(in, "base.txt"), "the base artifact\n")
	want["base"] = robustPackDigest(t, k.must("pack", lay+":base", baseIn, "-q"))
	files["base"] = map[string]string{"base.txt": testkit.FileDigest(t, baseIn).String()}

	type job struct{ args []string }
	var jobsByRound [rounds][]job
	refPacks := map[string]*robustProc{} // run at once
	for r := range rounds {
		for _, who := range []string{"a", "b"} {
			tag := fmt.Sprintf("p%s-r%d", who, r)
			own := filepath.Join(in, tag)
			testkit.WriteFile(t, filepath.Join(own, "own.txt"), "only in "+tag+"\n")
			testkit.WriteRandomFile(t, filepath.Join(own, "data.bin"), 64<<10, uint64(100+r*2+len(who)))
			refPacks[tag] = k.start("pack", ref+":"+tag, shared, own, "-q")
			files[tag] = map[string]string{"shared.bin": testkit.FileDigest(t, shared).String(), tag + "/own.txt": testkit.FileDigest(t, filepath.Join(own, "own.txt")).String()}
			jobsByRound[r] = append(jobsByRound[r], job{[]string{"pack", lay + ":" + tag, shared, own, "-q"}})
		}
		// A tag that this round removes, on an artifact of its own.
		doomed := testkit.WriteFile(t, filepath.Join(in, fmt.Sprintf("doomed-%d.txt", r)), fmt.Sprintf("removed in round %d\n", r))
		k.must("pack", lay+fmt.Sprintf(":doomed-r%d", r), doomed, "-q")
		alias := fmt.Sprintf("alias-r%d", r)
		want[alias], files[alias] = want["base"], files["base"]
		pulledTag := fmt.Sprintf("pulled-r%d", r)
		want[pulledTag] = pulled
		files[pulledTag] = map[string]string{"pulled.bin": testkit.FileDigest(t, pulledIn).String(), "shared.bin": testkit.FileDigest(t, shared).String()}
		jobsByRound[r] = append(jobsByRound[r],
			job{[]string{"tag", lay + ":base", alias}},
			job{[]string{"rm", lay + fmt.Sprintf(":doomed-r%d", r)}},
			job{[]string{"gc", lay}},
			job{[]string{"pull", reg.Host + "/robust/app:v1", lay + ":" + pulledTag, "--plain-http", "-q"}},
			job{[]string{"import", arc, lay}},
			job{[]string{"ls", lay}},
		)
	}

	for tag, p := range refPacks {
		r := p.wait()
		if r.code != 0 {
			t.Fatalf("%v", r)
		}
		want[tag] = robustPackDigest(t, r)
	}

	start := time.Now()
	for r, jobs := range jobsByRound {
		var procs []*robustProc
		for _, j := range jobs {
			procs = append(procs, k.start(j.args...))
		}
		for _, p := range procs {
			if res := p.wait(); res.code != 0 {
				t.Errorf("round %d: %v", r, res)
			}
		}
	}
	t.Logf("%d rounds of %d processes: %v", rounds, len(jobsByRound[0]), time.Since(start).Round(time.Millisecond))

	// A 64 MiB pack, and gc started again and again while it runs: a gc
	// can only finish once the pack has tagged what it stored.
	bigIn := testkit.WriteRandomFile(t, filepath.Join(in, "big.bin"), 64<<20, 23)
	files["big"] = map[string]string{"big.bin": testkit.FileDigest(t, bigIn).String()}
	bigPack := k.start("pack", lay+":big", bigIn, "-q")
	if !robustWaitFor(bigPack, 30*time.Second, func() bool { return len(testkit.TmpFiles(t, lay)) > 0 }) {
		t.Fatalf("the big pack wrote no temporary file: %v", bigPack.wait())
	}
	// One gc every 10 ms while the pack runs (at most 12): each waits for
	// the pack, and none may finish before the pack has tagged. How many
	// start depends on the machine's speed; at least one must, since the
	// pack has not tagged yet when the first is started.
	var gcs []*robustProc
	var tagged sync.Map // gc index -> whether "big" was tagged when it ended
	var watch sync.WaitGroup
	for !bigPack.exited() && len(gcs) < 12 {
		gc := k.start("gc", lay)
		gcs = append(gcs, gc)
		watch.Add(1)
		go func(i int) {
			defer watch.Done()
			gc.wait()
			b, _ := os.ReadFile(filepath.Join(lay, "index.json"))
			tagged.Store(i, bytes.Contains(b, []byte(`"big"`)))
		}(len(gcs) - 1)
		time.Sleep(10 * time.Millisecond)
	}
	br := bigPack.wait()
	watch.Wait()
	if br.code != 0 {
		t.Fatalf("big pack with gc running: %v", br)
	}
	want["big"] = robustPackDigest(t, br)
	for i, gc := range gcs {
		if gr := gc.wait(); gr.code != 0 {
			t.Errorf("gc %d during the big pack: %v", i, gr)
		}
		if ok, _ := tagged.Load(i); ok != true {
			t.Errorf("gc %d finished before the big pack had tagged what it stored", i)
		}
	}
	if len(gcs) < 1 {
		t.Errorf("the big pack ended (%v) before any gc was started during it", br.dur)
	}
	t.Logf("the big pack took %v, with %d gc started during it", br.dur.Round(time.Millisecond), len(gcs))

	got := testkit.IndexTags(t, lay)
	for tag, d := range want {
		if got[tag] != d {
			t.Errorf("tag %s = %q, want %s", tag, got[tag], d)
		}
	}
	for tag := range got {
		if _, ok := want[tag]; !ok {
			t.Errorf("tag %s exists, and should not", tag)
		}
	}
	rep := k.verify(lay)
	robustOnlyLeftovers(t, "after the rounds", rep, layout.ProblemUnreferenced)
	k.robustUnpackAll(lay, files)
	k.robustCleanAfterGC(lay)
	if got := testkit.IndexTags(t, lay); len(got) != len(want) {
		t.Errorf("gc changed the tags: %v", got)
	}
}

// TestRobustInterrupt sends SIGINT (Ctrl-C) to a running pack, unpack and
// import: each exits 1 promptly with a one-line message, leaves no
// temporary file in the layout and no staging directory in the unpack
// destination, and the layout verifies with its tags as they were.
func TestRobustInterrupt(t *testing.T) {
	t.Parallel()
	k, _, work := robustSetup(t, false)
	bigIn := testkit.WriteRandomFile(t, filepath.Join(work, "in", "big.bin"), 64<<20, 30)
	impIn := testkit.WriteRandomFile(t, filepath.Join(work, "in", "imp.bin"), 64<<20, 31)
	_, arc := k.packExportImp(work, impIn)
	lay := filepath.Join(work, "lay")
	k.must("pack", lay+":keep", filepath.Join(example, "app-1.0.tar"), "-q")
	k.must("pack", lay+":big", bigIn, "-q") // what unpack reads
	before := testkit.IndexTags(t, lay)
	blobsBefore := testkit.BlobFiles(t, lay)
	dest := filepath.Join(work, "dest")
	if err := os.Mkdir(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	staging := func() []string {
		m, _ := filepath.Glob(filepath.Join(dest, ".ocipack-unpack-*"))
		return m
	}
	tmpAppeared := func() bool { return len(testkit.TmpFiles(t, lay)) > 0 }

	for _, c := range []struct {
		name    string
		args    []string
		started func() bool // the command is under way
	}{
		{"pack", []string{"pack", lay + ":interrupted", bigIn, filepath.Join(example, "site"), "-q"}, tmpAppeared},
		{"unpack", []string{"unpack", lay + ":big", "-o", dest, "-q"}, func() bool { return len(staging()) > 0 }},
		{"import", []string{"import", arc, lay}, tmpAppeared},
	} {
		t.Run(c.name, func(t *testing.T) {
			k := k.with(t)
			var r robustRes
			var latency time.Duration
			for attempt := 1; ; attempt++ {
				p := k.start(c.args...)
				if !robustWaitFor(p, 30*time.Second, c.started) {
					r = p.wait()
					t.Fatalf("never saw it under way: %v", r)
				}
				sent := time.Now()
				p.cmd.Process.Signal(os.Interrupt)
				r = p.wait()
				latency = time.Since(sent)
				if r.code == 0 && attempt < 5 {
					t.Logf("attempt %d: it finished before the signal; again", attempt)
					if c.name == "unpack" {
						os.Remove(filepath.Join(dest, "big.bin"))
					}
					// Back to the tags it started from.
					for tag := range testkit.IndexTags(t, lay) {
						if _, ok := before[tag]; !ok {
							k.must("rm", lay+":"+tag)
						}
					}
					continue
				}
				break
			}
			if r.code != 1 {
				t.Fatalf("after SIGINT: exit %d, want 1: %v", r.code, r)
			}
			if latency > 5*time.Second {
				t.Errorf("it took %v to stop after SIGINT", latency)
			}
			t.Logf("stopped %v after SIGINT: %s", latency.Round(time.Millisecond), strings.TrimSpace(r.stderr))
			robustStderrLine(t, r, "ocipack "+c.name+":", "interrupted")
			if tmp := testkit.TmpFiles(t, lay); len(tmp) > 0 {
				t.Errorf("temporary files left in the layout: %v", tmp)
			}
			if m := staging(); len(m) > 0 {
				t.Errorf("staging directories left in the destination: %v", m)
			}
			if entries, _ := os.ReadDir(dest); len(entries) > 0 {
				t.Errorf("the destination is not as it was: %d entries", len(entries))
			}
			rep := k.verify(lay)
			robustOnlyLeftovers(t, c.name+" interrupted", rep, layout.ProblemUnreferenced)
			if got := testkit.IndexTags(t, lay); !maps.Equal(got, before) {
				t.Errorf("tags after the interrupted %s: %v, want %v", c.name, got, before)
			}
			if c.name == "import" {
				if got := testkit.BlobFiles(t, lay); !slices.Equal(got, blobsBefore) {
					t.Errorf("the interrupted import left blobs: %d, were %d", len(got), len(blobsBefore))
				}
			}
		})
	}
}

// robustTmpfs mounts a tmpfs of size (such as "32m") on a new directory,
// unmounted when the test ends. Without the right to mount it skips, but
// under CI=true (where the tests run as root) it fails instead.
func robustTmpfs(t *testing.T, size string) string {
	t.Helper()
	cannot := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI runs as root and must be able to mount a tmpfs)", msg)
		}
		t.Skip(msg)
	}
	if runtime.GOOS != "linux" {
		cannot("a tmpfs is mounted on Linux only, not %s", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		cannot("mounting a tmpfs needs root (uid %d)", os.Geteuid())
	}
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		cannot("mount -t tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
			exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

// robustFill writes a file of zeros at path so that about leave bytes stay
// free on its file system (or none, with leave 0: until it is full).
func robustFill(t *testing.T, path string, leave int64) {
	t.Helper()
	free, err := archive.FreeSpace(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for left := free - leave; leave == 0 || left > 0; left -= int64(len(buf)) {
		n := len(buf)
		if leave > 0 {
			n = int(min(left, int64(n)))
		}
		if _, err := f.Write(buf[:n]); err != nil {
			if leave == 0 && errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatalf("fill %s: %v", path, err)
		}
	}
}

// TestRobustDiskFull packs, pulls and imports into a layout on a 32 MiB
// tmpfs that is (nearly) full: each fails with one line that says the
// space is short and names the input or blob, and leaves the layout valid
// with its tags intact and no temporary file. Once there is room again,
// the same commands succeed.
func TestRobustDiskFull(t *testing.T) {
	t.Parallel()
	mnt := robustTmpfs(t, "32m")
	k, reg, work := robustSetup(t, true)
	lay := filepath.Join(mnt, "lay")
	k.must("pack", lay+":keep", filepath.Join(example, "app-1.0.tar"), filepath.Join(example, "site"), "-q")
	before := testkit.IndexTags(t, lay)

	// A 2 MiB artifact, in the registry and as an archive.
	bigIn := testkit.WriteRandomFile(t, filepath.Join(work, "in", "big.bin"), 2<<20, 40)
	src := filepath.Join(work, "src")
	k.must("pack", src+":v1", bigIn, "-q")
	k.must("push", src+":v1", reg.Host+"/robust/full:v1", "--plain-http", "-q")
	arc := filepath.Join(work, "big.tar")
	k.must("export", src+":v1", arc)
	bigDigest := testkit.FileDigest(t, bigIn).String()

	// A directory whose files hold 600 kB but whose uncompressed tar
	// takes 1.5 MB: it passes pack's check of the free space up front
	// and runs out of space while it is written.
	many := filepath.Join(work, "in", "many")
	if err := os.MkdirAll(many, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		testkit.WriteFile(t, filepath.Join(many, fmt.Sprintf("f%04d", i)), bytes.Repeat([]byte{byte(i)}, 600))
	}

	filler := filepath.Join(mnt, "filler")
	robustFill(t, filler, 1<<20)
	intact := func(t *testing.T, what string) {
		t.Helper()
		kk := k.with(t)
		rep := kk.verify(lay)
		robustOnlyLeftovers(t, what, rep, layout.ProblemUnreferenced)
		if tmp := testkit.TmpFiles(t, lay); len(tmp) > 0 {
			t.Errorf("%s: temporary files left: %v", what, tmp)
		}
		if got := testkit.IndexTags(t, lay); !maps.Equal(got, before) {
			t.Errorf("%s: tags %v, want %v", what, got, before)
		}
	}
	for _, c := range []struct {
		name  string
		args  []string
		wants []string
	}{
		{"pack refused up front", []string{"pack", lay + ":big", bigIn, "-q"}, []string{"not enough free space", "need 2.0 MiB", lay}},
		{"pack runs out of space", []string{"pack", lay + ":many", many, "--compression", "none", "-q"}, []string{"no space left", many}},
		{"pull runs out of space", []string{"pull", reg.Host + "/robust/full:v1", lay + ":pulled", "--plain-http", "-q"}, []string{"no space left", bigDigest}},
		{"import refused up front", []string{"import", arc, lay}, []string{"not enough free space", "need 2.0 MiB", lay}},
	} {
		t.Run(c.name, func(t *testing.T) {
			kk := k.with(t)
			r := kk.run(c.args...)
			if r.code != 1 {
				t.Fatalf("on a full disk: exit %d, want 1: %v", r.code, r)
			}
			robustStderrLine(t, r, c.wants...)
			if r.dur > 20*time.Second {
				t.Errorf("it took %v to give up", r.dur)
			}
			t.Logf("%v: %s", r.dur.Round(time.Millisecond), strings.TrimSpace(r.stderr))
			intact(t, c.name)
		})
	}

	// The library, told by its FreeSpace option that there is room, runs
	// out of space while it stores a blob: the blobs it stored go again.
	t.Run("import runs out of space", func(t *testing.T) {
		ctx := context.Background()
		blobs := testkit.BlobFiles(t, lay)
		plenty := func(string) (int64, error) { return 1 << 40, nil }
		_, err := archive.ImportDir(ctx, []string{arc}, lay, archive.ImportOptions{FreeSpace: plenty})
		if err == nil || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("import onto a full disk: %v, want ENOSPC", err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "no space left") || !strings.Contains(msg, bigDigest) {
			t.Errorf("the error %q does not say that space ran out, and for which blob", msg)
		}
		if got := testkit.BlobFiles(t, lay); !slices.Equal(got, blobs) {
			t.Errorf("the failed import left blobs: %d, were %d", len(got), len(blobs))
		}
		intact(t, "import out of space")
	})

	// No space at all: index.json cannot be rewritten, and stays as it was.
	t.Run("tag and rm on a full disk", func(t *testing.T) {
		kk := k.with(t)
		robustFill(t, filepath.Join(mnt, "filler2"), 0)
		defer os.Remove(filepath.Join(mnt, "filler2"))
		for _, args := range [][]string{{"tag", lay + ":keep", "more"}, {"rm", lay + ":keep"}} {
			r := kk.run(args...)
			if r.code != 1 {
				t.Fatalf("on a full disk: %v", r)
			}
			robustStderrLine(t, r, "no space left", "index.json")
			intact(t, args[0]+" on a full disk")
		}
	})

	// Room again: the same commands succeed.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	k.must("pack", lay+":many", many, "--compression", "none", "-q")
	k.must("pull", reg.Host+"/robust/full:v1", lay+":pulled", "--plain-http", "-q")
	k.must("import", arc, lay)
	k.robustCleanAfterGC(lay)
	k.robustUnpackCheck(lay, "pulled", map[string]string{"big.bin": bigDigest})
}

// robustBomb writes a gzip stream of a tar holding one file, dir/zeros,
// of inflate zero bytes (a multiple of 1 MiB): concatenated gzip members, each 1 MiB
// of zeros in about 1 KiB, so that the stream is made without ever
// compressing (or storing) the whole.
func robustBomb(w io.Writer, dir string, inflate int64) error {
	member := func(b []byte) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr) // not closed: only the header is wanted
	if err := tw.WriteHeader(&tar.Header{Name: dir + "/", Mode: 0o755, Typeflag: tar.TypeDir, Format: tar.FormatPAX}); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: dir + "/zeros", Size: inflate, Mode: 0o644, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return err
	}
	if _, err := w.Write(member(hdr.Bytes())); err != nil {
		return err
	}
	mib := member(make([]byte, 1<<20))
	for range inflate >> 20 {
		if _, err := w.Write(mib); err != nil {
			return err
		}
	}
	_, err := w.Write(member(make([]byte, 1024))) // the tar's end
	return err
}

// robustTagDesc lists d in index.json under tag, as it is (whatever size
// it claims).
func robustTagDesc(t *testing.T, l *layout.Layout, d ocispec.Descriptor, tag string) {
	t.Helper()
	d.Annotations = map[string]string{ocispec.AnnotationRefName: tag}
	if err := l.Put(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

// robustSparse puts a 1 GiB sparse file where the blob of a made-up digest
// would be: a manifest (or index: mt) that claims 1 GiB, and has it on
// disk.
func robustSparse(t *testing.T, l *layout.Layout, mt, seed string) ocispec.Descriptor {
	t.Helper()
	d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromString(seed), Size: 1 << 30}
	f, err := os.Create(filepath.Join(l.Path(), "blobs", d.Digest.Algorithm().String(), d.Digest.Encoded()))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(d.Size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRobustLimits: `unpack --max-size` stops a 10 MiB gzip layer that
// inflates to 10 GiB and leaves nothing behind; a manifest that claims
// 1 GiB, an index listing one, and an index of indexes nested 100 deep
// are refused, quickly and in little memory, by unpack, push, verify and
// gc.
func TestRobustLimits(t *testing.T) {
	t.Parallel()
	k, reg, work := robustSetup(t, true)
	ctx := context.Background()
	const maxRSS = 200 << 20
	light := func(t *testing.T, r robustRes) {
		t.Helper()
		if r.dur > 20*time.Second {
			t.Errorf("ocipack %s took %v", strings.Join(r.args, " "), r.dur)
		}
		if runtime.GOOS == "linux" && r.maxRSS > maxRSS {
			t.Errorf("ocipack %s used %d MiB of memory", strings.Join(r.args, " "), r.maxRSS>>20)
		}
	}

	t.Run("decompression bomb", func(t *testing.T) {
		kk := k.with(t)
		lay := filepath.Join(work, "bomb")
		l, err := layout.OpenOrCreate(ctx, lay)
		if err != nil {
			t.Fatal(err)
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(robustBomb(pw, "bomb", 10<<30)) }()
		layer, err := l.Ingest(ctx, ocispec.MediaTypeImageLayerGzip, pr)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("the bomb: %d bytes of gzip, 10 GiB inflated", layer.Size)
		if layer.Size > 12<<20 {
			t.Fatalf("the bomb is %d bytes", layer.Size)
		}
		layer.Annotations = map[string]string{ocispec.AnnotationTitle: "bomb", layout.AnnotationUnpack: "true"}
		cfg := testkit.PushJSON(t, l, ocispec.MediaTypeEmptyJSON, map[string]any{}, "")
		m := testkit.PushJSON(t, l, ocispec.MediaTypeImageManifest, ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			Config: cfg, Layers: []ocispec.Descriptor{layer},
		}, "")
		if err := l.Tag(ctx, m, "bomb"); err != nil {
			t.Fatal(err)
		}
		l.Close()

		for _, pre := range []bool{false, true} {
			dest := filepath.Join(t.TempDir(), "dest")
			if pre {
				if err := os.Mkdir(dest, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			r := kk.run("unpack", lay+":bomb", "-o", dest, "--max-size", strconv.Itoa(100<<20))
			if r.code != 1 {
				t.Fatalf("unpack of the bomb: %v", r)
			}
			robustStderrLine(t, r, "too large", `layer "bomb"`, "104857600")
			light(t, r)
			t.Logf("%v, %d MiB: %s", r.dur.Round(time.Millisecond), r.maxRSS>>20, strings.TrimSpace(r.stderr))
			entries, err := os.ReadDir(dest)
			switch {
			case !pre && !errors.Is(err, os.ErrNotExist):
				t.Errorf("the destination it created is still there (%d entries, %v)", len(entries), err)
			case pre && (err != nil || len(entries) > 0):
				t.Errorf("the destination holds %d entries (%v); it was empty", len(entries), err)
			}
		}
		kk.verify(lay)
	})

	// Three layouts, each with one absurd tag beside a sound one, and an
	// unreferenced blob that a gc that refuses must keep.
	leafIn := testkit.WriteFile(t, filepath.Join(work, "in", "leaf.txt"), "a sound artifact\n")
	absurd := map[string]func(l *layout.Layout, leaf ocispec.Descriptor) ocispec.Descriptor{
		"claims 1 GiB": func(l *layout.Layout, _ ocispec.Descriptor) ocispec.Descriptor {
			return robustSparse(t, l, ocispec.MediaTypeImageManifest, "huge manifest")
		},
		"an index that claims 1 GiB": func(l *layout.Layout, _ ocispec.Descriptor) ocispec.Descriptor {
			return robustSparse(t, l, ocispec.MediaTypeImageIndex, "huge index")
		},
		"lists a manifest that claims 1 GiB": func(l *layout.Layout, _ ocispec.Descriptor) ocispec.Descriptor {
			return testkit.PushJSON(t, l, ocispec.MediaTypeImageIndex, ocispec.Index{
				Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
				Manifests: []ocispec.Descriptor{robustSparse(t, l, ocispec.MediaTypeImageManifest, "huge child")},
			}, "")
		},
		"index of indexes 100 deep": func(l *layout.Layout, leaf ocispec.Descriptor) ocispec.Descriptor {
			d := leaf
			d.Annotations = nil
			for range 100 {
				d = testkit.PushJSON(t, l, ocispec.MediaTypeImageIndex, ocispec.Index{
					Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
					Manifests: []ocispec.Descriptor{d},
				}, "")
			}
			return d
		},
	}
	names := slices.Sorted(maps.Keys(absurd))
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			kk := k.with(t)
			lay := filepath.Join(work, fmt.Sprintf("absurd%d", i))
			kk.must("pack", lay+":leaf", leafIn, "-q")
			l, leaf := openTagged(t, lay, "leaf")
			robustTagDesc(t, l, absurd[name](l, leaf), "absurd")
			junk, err := l.Ingest(ctx, "application/octet-stream", strings.NewReader("unreferenced"))
			if err != nil {
				t.Fatal(err)
			}
			l.Close()

			for _, c := range []struct {
				args  []string
				wants []string
			}{
				{[]string{"unpack", lay + ":absurd", "-o", filepath.Join(t.TempDir(), "out")}, nil},
				{[]string{"push", lay + ":absurd", reg.Host + "/robust/absurd", "--plain-http", "-q"}, nil},
				{[]string{"verify", lay}, []string{"problem"}},
				{[]string{"gc", lay}, []string{"refusing", "nothing was removed"}},
			} {
				r := kk.run(c.args...)
				if r.code != 1 {
					t.Errorf("%s: exit %d, want 1: %v", name, r.code, r)
					continue
				}
				light(t, r)
				if c.args[0] != "verify" {
					robustStderrLine(t, r, c.wants...)
				} else if !strings.Contains(r.stdout, "problem: corrupt-manifest") {
					t.Errorf("verify does not name the manifest: %s", r.stdout)
				}
				t.Logf("%s: %v, %d MiB: %s", c.args[0], r.dur.Round(time.Millisecond), r.maxRSS>>20, strings.TrimSpace(r.stderr))
			}
			if _, err := os.Stat(filepath.Join(lay, "blobs", "sha256", junk.Digest.Encoded())); err != nil {
				t.Errorf("gc refused, yet removed an unreferenced blob: %v", err)
			}
			kk.robustUnpackCheck(lay, "leaf", map[string]string{"leaf.txt": testkit.FileDigest(t, leafIn).String()})
		})
	}

	// index.json itself of 1 GiB (sparse): refused by its size, not read.
	t.Run("index.json of 1 GiB", func(t *testing.T) {
		kk := k.with(t)
		lay := filepath.Join(work, "hugeindex")
		kk.must("pack", lay+":leaf", leafIn, "-q")
		if err := os.Truncate(filepath.Join(lay, "index.json"), 1<<30); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{"unpack", lay + ":leaf", "-o", filepath.Join(t.TempDir(), "out")},
			{"push", lay + ":leaf", reg.Host + "/robust/hugeindex", "--plain-http", "-q"},
			{"verify", lay},
			{"gc", lay},
			{"ls", lay},
			{"tag", lay + ":leaf", "more"},
		} {
			r := kk.run(args...)
			if r.code != 1 {
				t.Errorf("exit %d, want 1: %v", r.code, r)
				continue
			}
			light(t, r)
			if !strings.Contains(r.stdout+r.stderr, "index.json") {
				t.Errorf("%s does not name index.json: %v", args[0], r)
			}
			t.Logf("%s: %v, %d MiB: %s", args[0], r.dur.Round(time.Millisecond), r.maxRSS>>20, strings.TrimSpace(r.stderr))
		}
	})
}

// TestRobustFailedImportKeepsSharedBlobs: an import that fails removes
// the blobs it stored, but not one that a pack running at the same time
// found stored (a pack stores a blob once) and tagged. The import, from
// standard input, has stored the shared blob when the pack runs, and then
// fails: its archive ends early.
func TestRobustFailedImportKeepsSharedBlobs(t *testing.T) {
	t.Parallel()
	k, _, work := robustSetup(t, false)
	sharedIn := testkit.WriteRandomFile(t, filepath.Join(work, "in", "shared.bin"), 1<<20, 50)
	rest := testkit.WriteRandomFile(t, filepath.Join(work, "in", "rest.bin"), 2<<20, 51)
	_, arc := k.packExportImp(work, sharedIn, rest)
	b := testkit.ReadFile(t, arc)
	// Up to the middle of rest.bin: shared.bin, smaller, is stored by then.
	cut := robustEntryMiddle(t, b, "blobs/sha256/"+strings.TrimPrefix(testkit.FileDigest(t, rest).String(), "sha256:"))
	lay := filepath.Join(work, "lay")
	k.must("pack", lay+":keep", filepath.Join(example, "app-1.0.tar"), "-q")
	sharedBlob := filepath.Join(lay, "blobs", "sha256", strings.TrimPrefix(testkit.FileDigest(t, sharedIn).String(), "sha256:"))

	var se bytes.Buffer
	cmd, stdin := k.startImportStdin(lay, nil, &se)
	if _, err := stdin.Write(b[:cut]); err != nil {
		t.Fatal(err)
	}
	if !robustWaitFor(nil, 30*time.Second, func() bool { _, err := os.Stat(sharedBlob); return err == nil }) {
		t.Fatal("the import never stored shared.bin")
	}
	want := robustPackDigest(t, k.must("pack", lay+":packed", sharedIn, "-q"))
	stdin.Close() // the archive ends half way through rest.bin
	if err := cmd.Wait(); err == nil {
		t.Fatal("an import of half an archive succeeded")
	}
	if !strings.Contains(se.String(), "truncated") && !strings.Contains(se.String(), "ends") {
		t.Errorf("the import failed, but not for the archive's end: %s", se.String())
	}
	k.checkTagged(lay, "packed", want, map[string]string{"shared.bin": testkit.FileDigest(t, sharedIn).String()})
	k.robustCleanAfterGC(lay)
}

// robustJunkBlobs writes n small valid blobs that nothing references
// straight into blobs/sha256, for gc to have work.
func robustJunkBlobs(t *testing.T, lay string, n int, seed string) {
	t.Helper()
	for i := range n {
		b := []byte(fmt.Sprintf("junk %s %d", seed, i))
		d := digest.FromBytes(b)
		testkit.WriteFile(t, filepath.Join(lay, "blobs", "sha256", d.Encoded()), b)
	}
}

// robustKillCase is one command killed at several points.
type robustKillCase struct {
	name string
	args []string
	tag  string // the tag the command adds ("" for gc)
	want string // its digest
	// prepare runs before each kill (gc: make garbage).
	prepare func(k *robustKit, i int)
	// started says the command is at work: the delays count from then
	// (nil: from the start of the process).
	started func() bool
	delays  []time.Duration
	// after runs once the layout verified after a kill (i: the point).
	after func(k *robustKit, i int)
}

// TestRobustKill kills pack, pull, import and gc with SIGKILL at four
// points each. After every kill the layout verifies (leftover temporary
// files and unreferenced blobs are only warnings), the tags that were
// there are intact and unpack, the same command run again completes, and
// gc then leaves nothing over. After a killed import or gc, pulling the
// artifact that was being written or removed must give a complete tag.
func TestRobustKill(t *testing.T) {
	t.Parallel()
	k, reg, work := robustSetup(t, true)
	// Big enough that each command is still running at the last kill
	// point. The registry's in-memory storage takes time quadratic in a
	// blob's size to receive it, so what is pulled is small, and sent at
	// 4 MiB/s.
	started := time.Now()
	packIn := testkit.WriteRandomFile(t, filepath.Join(work, "in", "pack.bin"), 48<<20, 10)
	pullIn := testkit.WriteRandomFile(t, filepath.Join(work, "in", "pull.bin"), 2<<20, 11)
	impIn := testkit.WriteRandomFile(t, filepath.Join(work, "in", "imp.bin"), 48<<20, 12)
	small := testkit.WriteFile(t, filepath.Join(work, "in", "notes", "readme.txt"), "small file beside the big one\n")

	ref := filepath.Join(work, "ref")
	packPack := k.start("pack", ref+":crash-pack", packIn, "-q") // meanwhile
	impPack := k.start("pack", ref+":crash-imp", impIn, "-q")
	wantPull := robustPackDigest(t, k.must("pack", ref+":v1", pullIn, filepath.Dir(small), "-q"))
	k.must("push", ref+":v1", reg.Host+"/robust/pull", "--plain-http", "-q")
	var wantPack, wantImp string
	for _, p := range []*robustProc{packPack, impPack} {
		r := p.wait()
		if r.code != 0 {
			t.Fatalf("%v", r)
		}
		if p == packPack {
			wantPack = robustPackDigest(t, r)
		} else {
			wantImp = robustPackDigest(t, r)
		}
	}
	arc := filepath.Join(work, "imp.tar")
	k.must("export", ref+":crash-imp", arc)
	pullArc := filepath.Join(work, "pull.tar") // what is pulled, as an archive
	k.must("export", ref+":v1", pullArc)
	slow := robustNewProxy(t, reg, "", 4<<20)
	t.Logf("set-up: %v", time.Since(started).Round(time.Millisecond))

	lay := filepath.Join(work, "lay")
	k.must("pack", lay+":keep", filepath.Join(example, "app-1.0.tar"), filepath.Join(example, "hello-0.1.0.tgz"), "-q")
	k.must("pack", lay+":keepdir", filepath.Join(example, "site"), "-q")
	before := testkit.IndexTags(t, lay)
	keepFiles := map[string]string{
		"app-1.0.tar":     testkit.FileDigest(t, filepath.Join(example, "app-1.0.tar")).String(),
		"hello-0.1.0.tgz": testkit.FileDigest(t, filepath.Join(example, "hello-0.1.0.tgz")).String(),
	}

	// pullInto pulls an artifact into a new tag and checks the layout:
	// what a killed command left must not make it incomplete.
	pullInto := func(k *robustKit, repo, want string, i int) {
		t := k.t
		t.Helper()
		tag := fmt.Sprintf("after-%d", i)
		r := k.must("pull", reg.Host+"/robust/"+repo, lay+":"+tag, "--plain-http", "-q")
		if got := testkit.IndexTags(t, lay)[tag]; got != want {
			t.Errorf("pull after the kill: %s = %s, want %s\n%v", tag, got, want, r)
		}
		k.verify(lay)
		k.must("rm", lay+":"+tag)
	}
	tmpAppeared := func() bool { return len(testkit.TmpFiles(t, lay)) > 0 }
	// The blobs before gc runs, and how many of them the tags keep.
	var gcBlobs, gcFloor int
	ms := func(n ...int) []time.Duration {
		var out []time.Duration
		for _, x := range n {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	cases := []robustKillCase{
		{name: "pack", args: []string{"pack", lay + ":crash-pack", packIn, "-q"}, tag: "crash-pack", want: wantPack,
			// A 48 MiB pack takes some 50 ms without the race detector:
			// kill it early enough that at least three kills hit it.
			started: tmpAppeared, delays: ms(0, 4, 10, 25)},
		{name: "pull", args: []string{"pull", slow.host + "/robust/pull:v1", lay + ":crash-pull", "--plain-http", "-q"}, tag: "crash-pull", want: wantPull,
			started: tmpAppeared, delays: ms(0, 25, 80, 200)},
		{name: "import", args: []string{"import", arc, lay}, tag: "crash-imp", want: wantImp,
			started: tmpAppeared, delays: ms(0, 4, 10, 25)},
		{name: "gc", args: []string{"gc", lay},
			prepare: func(k *robustKit, i int) {
				k.must("pull", reg.Host+"/robust/pull:v1", lay+":garbage", "--plain-http", "-q")
				k.must("rm", lay+":garbage")
				// The pulled artifact's manifest and two layers go; its
				// empty config is the keep tags' too.
				gcFloor = len(testkit.BlobFiles(t, lay)) - 3
				robustJunkBlobs(k.t, lay, 1500, strconv.Itoa(i))
				gcBlobs = len(testkit.BlobFiles(t, lay))
			},
			// From when it has removed its first blob.
			started: func() bool { return len(testkit.BlobFiles(t, lay)) < gcBlobs },
			delays:  ms(0, 2, 6, 12),
			after:   func(k *robustKit, i int) { pullInto(k, "pull:v1", wantPull, i) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := k.with(t)
			caseStart := time.Now()
			killed, midway := 0, 0
			for i, delay := range c.delays {
				if c.prepare != nil {
					c.prepare(k, i)
				}
				p := k.start(c.args...)
				if c.started != nil && !robustWaitFor(p, 30*time.Second, c.started) {
					t.Fatalf("%s never got to work: %v", c.name, p.wait())
				}
				time.Sleep(delay)
				running := !p.exited()
				p.cmd.Process.Kill()
				r := p.wait()
				if running {
					killed++
				} else if r.code != 0 {
					t.Fatalf("before it was killed: %v", r)
				}
				what := fmt.Sprintf("%s killed %v in (running: %v)", c.name, delay, running)
				if c.name == "gc" {
					left := len(testkit.BlobFiles(t, lay))
					t.Logf("%s: %d of %d blobs left (the tags keep %d)", what, left, gcBlobs, gcFloor)
					if left > gcFloor && left < gcBlobs {
						midway++
					}
				}

				rep := k.verify(lay)
				robustOnlyLeftovers(t, what, rep, layout.ProblemTempFile, layout.ProblemUnreferenced)
				tags := testkit.IndexTags(t, lay)
				for tag, d := range before {
					if tags[tag] != d {
						t.Errorf("%s: tag %s = %q, was %s", what, tag, tags[tag], d)
					}
				}
				if got, ok := tags[c.tag]; c.tag != "" && ok && got != c.want {
					t.Errorf("%s: it tagged %s = %s, want %s", what, c.tag, got, c.want)
				}
				if c.after != nil {
					c.after(k, i)
				}

				// Run again (for gc, the clean-up below is that).
				if c.tag != "" {
					r = k.run(c.args...)
					if r.code != 0 {
						t.Fatalf("%s, run again: %v", what, r)
					}
					if got := testkit.IndexTags(t, lay)[c.tag]; got != c.want {
						t.Errorf("%s, run again: %s = %s, want %s", what, c.tag, got, c.want)
					}
					if i == len(c.delays)-1 {
						k.verify(lay)
					}
					k.must("rm", lay+":"+c.tag)
				}
				k.robustCleanAfterGC(lay)
			}
			// verify hashed every blob after every kill; unpack too.
			k.robustUnpackCheck(lay, "keep", keepFiles)
			if c.name == "gc" && midway == 0 {
				t.Errorf("no kill hit gc half way through its removals")
			}
			if killed < len(c.delays)-1 {
				t.Errorf("only %d of %d kills hit a running %s: make its input bigger", killed, len(c.delays), c.name)
			}
			t.Logf("%s: %d of %d kills hit it running, %v", c.name, killed, len(c.delays), time.Since(caseStart).Round(time.Millisecond))
		})
	}

	// An import stores an artifact's manifest before its layers. Killed
	// half way through the layer, it leaves a manifest whose layer is
	// missing: pulling that artifact must not take it for complete.
	t.Run("import then pull", func(t *testing.T) {
		k := k.with(t)
		b := testkit.ReadFile(t, pullArc)
		cut := robustEntryMiddle(t, b, "blobs/sha256/"+strings.TrimPrefix(testkit.FileDigest(t, pullIn).String(), "sha256:"))
		cmd, stdin := k.startImportStdin(lay, nil, nil)
		if _, err := stdin.Write(b[:cut]); err != nil {
			t.Fatal(err)
		}
		if !robustWaitFor(nil, 30*time.Second, func() bool { return len(testkit.TmpFiles(t, lay)) > 0 }) {
			t.Fatal("the import wrote no temporary file")
		}
		time.Sleep(100 * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		stdin.Close()
		rep := k.verify(lay)
		robustOnlyLeftovers(t, "import killed", rep, layout.ProblemTempFile, layout.ProblemUnreferenced)
		pullInto(k, "pull:v1", wantPull, 0)
		k.robustCleanAfterGC(lay)
	})
}

// robustEntryMiddle returns the offset of the middle of the content of the
// tar entry name in the tar b.
func robustEntryMiddle(t *testing.T, b []byte, name string) int {
	t.Helper()
	r := bytes.NewReader(b)
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no entry %s in the archive: %v", name, err)
		}
		if strings.TrimPrefix(h.Name, "./") == name {
			return len(b) - r.Len() + int(h.Size/2) // tar reads headers exactly
		}
	}
}
