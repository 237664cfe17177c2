package main

// Command-line tests of error messages: each says what went wrong and what
// to do, in the words the user types, without Go's or oras-go's wording.
// Every identifier here starts with "errmsg" so as not to clash with the
// other test files of this package.

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ocipack/ocipack/internal/testkit"
)

// helloLayout packs the small example file as tag into a new layout (with
// `ocipack pack`) and returns its path.
func helloLayout(t *testing.T, tag string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	registryMustRun(t, nil, "", "pack", dir+":"+tag, "testdata/example/hello-0.1.0.tgz", "-q")
	return dir
}

// errmsgLacks checks that stderr has none of the words.
func errmsgLacks(t *testing.T, r registryRunResult, words ...string) {
	t.Helper()
	for _, w := range words {
		if strings.Contains(r.stderr, w) {
			t.Errorf("ocipack %s: stderr still says %q: %q", strings.Join(r.args, " "), w, r.stderr)
		}
	}
}

// TestErrmsgOverwrite: unpacking over an existing file names the flag to
// type, not the library's option.
func TestErrmsgOverwrite(t *testing.T) {
	src := helloLayout(t, "v1")
	out := filepath.Join(t.TempDir(), "out")
	registryMustRun(t, nil, "", "unpack", src+":v1", "-o", out, "-q")
	r := registryRun(t, nil, "", "unpack", src+":v1", "-o", out, "-q")
	registryWantFailure(t, r, 1, "hello-0.1.0.tgz already exists; use --overwrite to replace it")
	errmsgLacks(t, r, "Options.Overwrite")
}

// TestErrmsgConnectionRefused: a push to a port where nothing listens
// names the manifest it was checking, the registry, and what to check,
// instead of oras-go's `failed to perform "Exists" on destination`.
func TestErrmsgConnectionRefused(t *testing.T) {
	src := helloLayout(t, "v1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	ln.Close() // nothing listens there now
	r := registryRun(t, nil, "", "push", src+":v1", host+"/apps/hello:v1", "--plain-http")
	registryWantFailure(t, r, 1, "push to "+host+"/apps/hello: could not check whether registry "+host+" has manifest sha256:",
		"nothing answers at "+host+" (connection refused); is the registry running there")
	errmsgLacks(t, r, "failed to perform", "on destination", "dial tcp", `Head "http`)
}

// TestErrmsgPlainHTTPToTLS: --plain-http against a registry that speaks
// HTTPS says to drop --plain-http, not a bare 400 Bad Request.
func TestErrmsgPlainHTTPToTLS(t *testing.T) {
	registryIsolateDocker(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{TLS: true})
	src := helloLayout(t, "v1")
	want := "registry " + reg.Host + " speaks HTTPS; drop --plain-http (and use --ca-file or --insecure for a private CA)"
	r := registryRun(t, nil, "", "push", src+":v1", reg.Host+"/apps/hello:v1", "--plain-http")
	registryWantFailure(t, r, 1, want)
	errmsgLacks(t, r, "code 400", "400 Bad", "Bad Request", "failed to perform") // not "400": a digest may hold it
	r = registryRun(t, nil, "", "pull", reg.Host+"/apps/hello:v1", filepath.Join(t.TempDir(), "dst"), "--plain-http")
	registryWantFailure(t, r, 1, want)
	errmsgLacks(t, r, "code 400", "400 Bad", "Bad Request", "failed to perform") // not "400": a digest may hold it
	// With --ca-file instead, it works.
	registryMustRun(t, nil, "", "push", src+":v1", reg.Host+"/apps/hello:v1", "--ca-file", reg.CAFile, "-q")
}

// TestErrmsgUnknownFreeSpace: an export into a directory whose file
// system does not know its free space (proc reports no size) does not
// claim "0 B free"; the check is skipped and the write's own error shows.
func TestErrmsgUnknownFreeSpace(t *testing.T) {
	if _, err := os.Stat("/proc/self"); runtime.GOOS != "linux" || err != nil {
		t.Skip("no proc file system here")
	}
	src := helloLayout(t, "v1")
	r := registryRun(t, nil, "", "export", src+":v1", "/proc/ocipack-test.tar")
	registryWantFailure(t, r, 1, "/proc/")
	errmsgLacks(t, r, "0 B free", "not enough free space")
	if _, err := os.Stat("/proc/ocipack-test.tar"); err == nil {
		t.Error("an archive appeared in /proc")
	}
}
