//go:build !windows

package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocipack/ocipack/internal/testkit"
)

// startServe runs `ocipack serve args...` as a process and returns its
// base URL, the process, the stderr lines before the address, and a channel
// of the later ones.
func startServe(t *testing.T, args ...string) (string, *exec.Cmd, []string, <-chan string) {
	t.Helper()
	cmd := exec.Command(ocipackBinary(t), append([]string{"serve"}, args...)...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	re := regexp.MustCompile(`serving .* on (https?://\S+)`)
	deadline := time.After(30 * time.Second)
	var before []string
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("serve exited before serving")
			}
			if m := re.FindStringSubmatch(l); m != nil {
				return m[1], cmd, before, lines
			}
			before = append(before, l)
		case <-deadline:
			t.Fatal("serve did not start")
		}
	}
}

// TestServeCLI: the access log, a pack while served is seen, SIGTERM lets a
// request in flight finish and exits 0.
func TestServeCLI(t *testing.T) {
	dir := t.TempDir()
	lay := filepath.Join(dir, "bundle")
	big := testkit.WriteRandomFile(t, filepath.Join(dir, "big.bin"), 8<<20, 3)
	mustRun(t, "pack", lay+":v1", big, "-q")
	url, cmd, before, lines := startServe(t, lay, "--addr", "127.0.0.1:0")
	if len(before) != 0 {
		t.Errorf("serve on loopback printed %q", before)
	}

	get := func(path string) (int, string) {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/v2/bundle/tags/list"); code != 200 || body != `{"name":"bundle","tags":["v1"]}` {
		t.Fatalf("tags: %d %s", code, body)
	}
	select {
	case l := <-lines:
		if !regexp.MustCompile(`GET /v2/bundle/tags/list 200 \d+ `).MatchString(l) {
			t.Errorf("access log line: %q", l)
		}
	case <-time.After(10 * time.Second):
		t.Error("no access log line")
	}
	small := testkit.WriteFile(t, filepath.Join(dir, "small.txt"), "small")
	mustRun(t, "pack", lay+":v2", small, "-q")
	if code, body := get("/v2/bundle/tags/list"); body != `{"name":"bundle","tags":["v1","v2"]}` {
		t.Fatalf("tags after a pack: %d %s", code, body)
	}

	sum := sha256.Sum256(testkit.ReadFile(t, big))
	resp, err := http.Get(url + "/v2/bundle/blobs/sha256:" + hex.EncodeToString(sum[:]))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("blob: %v %v", resp, err)
	}
	h := sha256.New()
	if _, err := io.CopyN(h, resp.Body, 1024); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	if err != nil || n != 8<<20-1024 || hex.EncodeToString(h.Sum(nil)) != hex.EncodeToString(sum[:]) {
		t.Errorf("the request in flight at SIGTERM: %d bytes, %v", n, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
}

// TestServeWarnsWithoutTLS: a non-loopback address without TLS warns.
func TestServeWarnsWithoutTLS(t *testing.T) {
	dir := t.TempDir()
	lay := filepath.Join(dir, "b")
	mustRun(t, "pack", lay+":v1", testkit.WriteFile(t, filepath.Join(dir, "f"), "x"), "-q")
	_, cmd, before, _ := startServe(t, lay, "--addr", "0.0.0.0:0", "--quiet")
	if len(before) != 1 || !strings.HasPrefix(before[0], "warning: serving on") || !strings.Contains(before[0], "without TLS") {
		t.Errorf("lines before the address: %q", before)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v", err)
	}
}
