package transfer_test

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/transfer"
)

var users = map[string]string{"alice": "s3cret"}

// assertUnauthorized checks that err is ErrUnauthorized and tells the user
// which host refused and how to log in.
func assertUnauthorized(t *testing.T, what string, err error, host string) {
	t.Helper()
	if !errors.Is(err, transfer.ErrUnauthorized) {
		t.Fatalf("%s: err = %v, want ErrUnauthorized", what, err)
	}
	if msg := err.Error(); !strings.Contains(msg, host) || !strings.Contains(msg, "ocipack login "+host) {
		t.Errorf("%s: message does not name %s and suggest 'ocipack login %s': %s", what, host, host, msg)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("%s: the message shows the password: %s", what, err)
	}
}

// TestAuthHtpasswd pushes and pulls from a registry that wants basic auth:
// with the credentials as options, without any, with a wrong password, and
// from docker's config.json.
func TestAuthHtpasswd(t *testing.T) {
	ctx := testCtx(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // never read the real ~/.docker
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{Users: users})
	src := testkit.NewLayout(t)
	packed := packPaths(t, src, "v1", "../testdata/example/hello-0.1.0.tgz")
	ref := regRef(t, reg, "private/hello:v1")

	res, err := transfer.Push(ctx, src, "v1", ref, "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}})
	assertUnauthorized(t, "push without credentials", err, reg.Host)
	if res == nil || res.Attempts != 1 || res.Copied != 0 || res.Skipped != 0 || res.Bytes != 0 {
		t.Errorf("refused push: result %+v, want 1 attempt that moved and skipped nothing", res)
	}

	res, err = transfer.Push(ctx, src, "v1", ref, "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true, Username: "alice", Password: "wrong"}})
	assertUnauthorized(t, "push with a wrong password", err, reg.Host)
	if res != nil && res.Attempts > 1 {
		t.Errorf("refused credentials were tried %d times", res.Attempts)
	}

	good := transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true, Username: "alice", Password: "s3cret"}}
	if _, err := transfer.Push(ctx, src, "v1", ref, "v1", good); err != nil {
		t.Fatalf("push with credentials: %v", err)
	}
	dst := testkit.NewLayout(t)
	_, err = transfer.Pull(ctx, ref, dst, "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}})
	assertUnauthorized(t, "pull without credentials", err, reg.Host)
	if _, err := dst.Resolve(ctx, "v1"); err == nil {
		t.Error("a refused pull tagged the layout")
	}
	if res, err := transfer.Pull(ctx, ref, dst, "v1", good); err != nil || res.Manifest.Digest != packed.Manifest.Digest {
		t.Fatalf("pull with credentials: %v", err)
	}

	// Credentials from docker's config.json.
	dir := t.TempDir()
	cfg := `{"auths":{"` + reg.Host + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("alice:s3cret")) + `"}}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	store, err := transfer.DockerCredentials()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transfer.Push(ctx, src, "v1", regRef(t, reg, "private/fromconfig:v1"), "v1", transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true, Credentials: store}}); err != nil {
		t.Fatalf("push with config.json credentials: %v", err)
	}
	if _, err := reg.Repository(t, "private/fromconfig").Resolve(ctx, "v1"); err == nil {
		t.Error("the registry answered an anonymous client: auth is not on")
	}
}

// TestLoginLogout stores a checked credential in config.json and removes it;
// a refused login stores nothing.
func TestLoginLogout(t *testing.T) {
	ctx := testCtx(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{Users: users})
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	store, err := transfer.DockerCredentials()
	if err != nil {
		t.Fatal(err)
	}
	src := testkit.NewLayout(t)
	packPaths(t, src, "v1", "../testdata/example/hello-0.1.0.tgz")
	ref := regRef(t, reg, "private/hello:v1")
	opts := transfer.Options{Connection: transfer.ConnectionOptions{PlainHTTP: true}}

	err = transfer.Login(ctx, store, reg.Host, auth.Credential{Username: "alice", Password: "wrong"}, opts.Connection)
	if !errors.Is(err, transfer.ErrUnauthorized) {
		t.Fatalf("login with a wrong password: %v, want ErrUnauthorized", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the message shows the password: %v", err)
	}
	if a := testkit.DockerAuths(t, dir); a[reg.Host] != nil {
		t.Fatalf("a refused login was stored: %v", a)
	}

	if err := transfer.Login(ctx, store, reg.Host, auth.Credential{Username: "alice", Password: "s3cret"}, opts.Connection); err != nil {
		t.Fatalf("login: %v", err)
	}
	a := testkit.DockerAuths(t, dir)[reg.Host]
	if a == nil {
		t.Fatalf("config.json has no entry for %s after login: %v", reg.Host, testkit.DockerAuths(t, dir))
	}
	if got, _ := base64.StdEncoding.DecodeString(a["auth"]); string(got) != "alice:s3cret" {
		t.Errorf("stored auth %q, want alice:s3cret", got)
	}

	// A fresh store (as the next command would open) finds it.
	store2, err := transfer.DockerCredentials()
	if err != nil {
		t.Fatal(err)
	}
	withStore := opts
	withStore.Connection.Credentials = store2
	if _, err := transfer.Push(ctx, src, "v1", ref, "v1", withStore); err != nil {
		t.Fatalf("push after login: %v", err)
	}

	if err := transfer.Logout(ctx, store2, reg.Host); err != nil {
		t.Fatalf("logout: %v", err)
	}
	if a := testkit.DockerAuths(t, dir); a[reg.Host] != nil {
		t.Fatalf("config.json still has %s after logout: %v", reg.Host, a)
	}
	store3, err := transfer.DockerCredentials()
	if err != nil {
		t.Fatal(err)
	}
	withStore.Connection.Credentials = store3
	_, err = transfer.Push(ctx, src, "v1", ref, "v1", withStore)
	assertUnauthorized(t, "push after logout", err, reg.Host)
}

// TestTLS pushes to a registry whose certificate no system pool trusts:
// refused with ErrCertificate and a hint, accepted with its CA or with
// Insecure.
func TestTLS(t *testing.T) {
	ctx := testCtx(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{TLS: true})
	src := testkit.NewLayout(t)
	packed := packPaths(t, src, "v1", "../testdata/example/hello-0.1.0.tgz")
	ref := regRef(t, reg, "secure/hello:v1")

	res, err := transfer.Push(ctx, src, "v1", ref, "v1", transfer.Options{Retry: transfer.RetryOptions{Wait: 1}})
	if !errors.Is(err, transfer.ErrCertificate) {
		t.Fatalf("push without the CA: %v, want ErrCertificate", err)
	}
	if !strings.Contains(err.Error(), "--ca-file") || !strings.Contains(err.Error(), reg.Host) {
		t.Errorf("message does not name the host and --ca-file: %v", err)
	}
	if res != nil && res.Attempts != 1 {
		t.Errorf("an untrusted certificate was tried %d times", res.Attempts)
	}
	dst := testkit.NewLayout(t)
	if _, err := transfer.Pull(ctx, ref, dst, "v1", transfer.Options{}); !errors.Is(err, transfer.ErrCertificate) {
		t.Errorf("pull without the CA: %v, want ErrCertificate", err)
	}

	if _, err := transfer.Push(ctx, src, "v1", ref, "v1", transfer.Options{Connection: transfer.ConnectionOptions{CAFile: reg.CAFile}}); err != nil {
		t.Fatalf("push with --ca-file: %v", err)
	}
	if _, err := transfer.Push(ctx, src, "v1", regRef(t, reg, "secure/insecure:v1"), "v1", transfer.Options{Connection: transfer.ConnectionOptions{Insecure: true}}); err != nil {
		t.Fatalf("push with --insecure: %v", err)
	}
	if res, err := transfer.Pull(ctx, ref, dst, "v1", transfer.Options{Connection: transfer.ConnectionOptions{CAFile: reg.CAFile}}); err != nil || res.Manifest.Digest != packed.Manifest.Digest {
		t.Fatalf("pull with --ca-file: %v", err)
	}
	if d, err := reg.Repository(t, "secure/insecure").Resolve(ctx, "v1"); err != nil || d.Digest != packed.Manifest.Digest {
		t.Errorf("insecure push: registry has %v, %v", d.Digest, err)
	}

	// A CA file that is not PEM is refused before any request.
	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o600)
	if _, err := transfer.Push(ctx, src, "v1", ref, "v1", transfer.Options{Connection: transfer.ConnectionOptions{CAFile: bad}}); err == nil || !strings.Contains(err.Error(), "--ca-file") {
		t.Errorf("push with a bad --ca-file: %v", err)
	}
}

// TestPlainHTTPRegistry talks HTTPS to a registry that speaks plain HTTP:
// the error says to pass --plain-http at once, rather than after retries.
func TestPlainHTTPRegistry(t *testing.T) {
	ctx := testCtx(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	src := testkit.NewLayout(t)
	packPaths(t, src, "v1", "../testdata/example/hello-0.1.0.tgz")
	res, err := transfer.Push(ctx, src, "v1", regRef(t, reg, "apps/hello:v1"), "v1", transfer.Options{Retry: transfer.RetryOptions{Wait: 1}})
	if err == nil || !strings.Contains(err.Error(), "--plain-http") {
		t.Fatalf("push over HTTPS to a plain-HTTP registry: %v, want a hint to pass --plain-http", err)
	}
	if res == nil || res.Attempts != 1 {
		t.Errorf("a protocol mismatch was tried %+v times; it cannot go away by itself", res)
	}
}
