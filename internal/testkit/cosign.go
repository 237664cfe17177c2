package testkit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// CosignVersion is the cosign release the end-to-end tests run, and the one
// Cosign builds when COSIGN_BIN is unset.
const CosignVersion = "v3.1.3"

// CosignModule is the Go package path of the cosign command.
const CosignModule = "github.com/sigstore/cosign/v3/cmd/cosign"

// CosignPassword is the password the runner gives cosign in COSIGN_PASSWORD
// unless the test sets CosignCLI.Password to another one.
const CosignPassword = "ocipack-test-password"

// CosignCLI runs the real cosign binary for end-to-end tests. It is made
// by Cosign; Dir and Password may be changed between runs.
type CosignCLI struct {
	// Bin is the cosign binary's path.
	Bin string
	// Dir is the working directory of every run (a temporary directory
	// of the test), where generate-key-pair writes cosign.key and cosign.pub.
	Dir string
	// Password is given to cosign in COSIGN_PASSWORD.
	Password string
	env      []string
}

// cosignBuild remembers the outcome of building cosign within this test
// process, so that a process builds (or fails to build) it at most once.
var cosignBuild struct {
	once sync.Once
	bin  string
	err  error
}

// Cosign returns a runner of cosign CosignVersion for end-to-end tests. It
// takes the binary that COSIGN_BIN names (.ci/run builds cosign and sets
// it); else a binary built before in the user's cache directory
// (ocipack-test/cosign-VERSION/cosign); else it builds that one with
// `go install` from the local Go module cache only (a test never
// downloads), which takes a few minutes once, and stops two minutes
// before the test binary's -timeout. When none of these works, it skips
// the test, saying how to run it.
//
// cosign runs in Dir with a HOME and docker configuration of its own,
// TZ=UTC, COSIGN_PASSWORD=Password, and HTTPS_PROXY/HTTP_PROXY pointing at
// a closed loopback port, so that any attempt of cosign to reach the
// internet (Sigstore's TUF repository, Rekor, Fulcio) fails at once
// instead of leaving the machine; requests to 127.0.0.1 are never proxied.
//
// Build cosign with: GOBIN=/tmp/cosign-bin go install github.com/sigstore/cosign/v3/cmd/cosign@v3.1.3
// then run the tests with COSIGN_BIN=/tmp/cosign-bin/cosign.
func Cosign(t testing.TB) *CosignCLI {
	t.Helper()
	bin := os.Getenv("COSIGN_BIN")
	if bin == "" {
		cosignBuild.once.Do(func() {
			// The build must end before the test binary's -timeout
			// does (a panic there would orphan the go command): stop
			// it two minutes before, and skip.
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if dl, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
				if d, ok := dl.Deadline(); ok {
					ctx, cancel = context.WithDeadline(ctx, d.Add(-2*time.Minute))
				}
			}
			defer cancel()
			cosignBuild.bin, cosignBuild.err = buildCosign(ctx)
		})
		if cosignBuild.err != nil {
			t.Skipf("COSIGN_BIN is not set and cosign %s could not be built offline (%v); "+
				"run: GOBIN=/tmp/cosign-bin go install %s@%s, then set COSIGN_BIN=/tmp/cosign-bin/cosign",
				CosignVersion, cosignBuild.err, CosignModule, CosignVersion)
		}
		bin = cosignBuild.bin
	}
	home := t.TempDir()
	dir := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "HOME", "DOCKER_CONFIG", "TZ", "COSIGN_PASSWORD", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY",
			"SIGSTORE_ROOT_FILE", "TUF_ROOT", "COSIGN_EXPERIMENTAL", "COSIGN_REPOSITORY", "SIGSTORE_REKOR_PUBLIC_KEY":
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"HOME="+home,
		"DOCKER_CONFIG="+filepath.Join(home, "docker"),
		"TUF_ROOT="+filepath.Join(home, "tuf"),
		"TZ=UTC",
		// Port 9 (discard) on loopback: nothing listens, so a request to
		// the internet fails with "connection refused".
		"HTTPS_PROXY=http://127.0.0.1:9",
		"HTTP_PROXY=http://127.0.0.1:9",
	)
	return &CosignCLI{Bin: bin, Dir: dir, Password: CosignPassword, env: env}
}

// Try runs cosign with args and returns its combined output and its error
// (an *exec.ExitError when cosign exits non-zero).
func (c *CosignCLI) Try(t testing.TB, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(context.Background(), c.Bin, args...)
	cmd.Dir = c.Dir
	cmd.Env = append(append([]string(nil), c.env...), "COSIGN_PASSWORD="+c.Password)
	out, err := cmd.CombinedOutput()
	t.Logf("cosign %s\n%s(err %v)", strings.Join(args, " "), out, err)
	return string(out), err
}

// Run runs cosign with args, fails the test when it fails, and returns its
// combined output.
func (c *CosignCLI) Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := c.Try(t, args...)
	if err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Fail runs cosign with args, fails the test when cosign succeeds, and
// returns its combined output.
func (c *CosignCLI) Fail(t testing.TB, args ...string) string {
	t.Helper()
	out, err := c.Try(t, args...)
	if err == nil {
		t.Fatalf("cosign %s succeeded, want a failure\n%s", strings.Join(args, " "), out)
	}
	return out
}

// buildCosign returns the cached cosign binary, building it first when it
// is not there, from the Go module cache only.
func buildCosign(ctx context.Context) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	exe := "cosign"
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	dir := filepath.Join(cache, "ocipack-test", "cosign-"+CosignVersion)
	bin := filepath.Join(dir, exe)
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		if goBin, err = exec.LookPath(filepath.Join(runtime.GOROOT(), "bin", "go")); err != nil {
			return "", fmt.Errorf("no go command to build it with")
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// Install into a directory of our own, then rename: another test
	// process building at the same time never sees half a binary.
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	// The module cache's download directory is itself a module proxy
	// (GOPROXY=file://...): go install finds there what an earlier
	// download left, and nothing else; it never goes online.
	modCache, err := exec.CommandContext(ctx, goBin, "env", "GOMODCACHE").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMODCACHE: %w", err)
	}
	proxyDir := filepath.ToSlash(filepath.Join(strings.TrimSpace(string(modCache)), "cache", "download"))
	if !strings.HasPrefix(proxyDir, "/") {
		proxyDir = "/" + proxyDir // file:///C:/...
	}
	cmd := exec.CommandContext(ctx, goBin, "install", CosignModule+"@"+CosignVersion)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOPROXY=file://"+proxyDir, "GOSUMDB=off", "GOFLAGS=",
		"GOWORK=off", "GOTOOLCHAIN=local", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("building took too long for this test run's -timeout (the compiled packages are cached: run again, or with -timeout 30m)")
		}
		msg := strings.TrimSpace(out.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return "", fmt.Errorf("go install from the module cache: %s", msg)
	}
	if err := os.Rename(filepath.Join(tmp, exe), bin); err != nil {
		return "", err
	}
	return bin, nil
}
