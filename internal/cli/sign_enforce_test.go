package cli

// Issue 17, enforcement and travel: unpack, import, push, sync and serve
// take verify's --key / --trusted-root flags and refuse, before anything is
// written, sent or served, an entry without a valid signature, naming it;
// signatures travel with pull/push/copy --referrers, sync, export/import
// (also --since deltas) and serve; gc keeps them with their subjects.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/serve"
	"github.com/ocipack/ocipack/signing"
)

// enforceKey writes a key pair PREFIX.key/PREFIX.pub (password "pw") and
// returns the signer and the public key file.
func enforceKey(t *testing.T, prefix string) (*signing.Signer, string) {
	t.Helper()
	kp, err := signing.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if err := kp.WriteFiles(prefix); err != nil {
		t.Fatal(err)
	}
	s, err := signing.LoadPrivateKey(kp.PrivatePEM, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	return s, prefix + ".pub"
}

// enforceLayout packs a one-file entry per tag into a new layout at dir
// and returns the manifest descriptors by tag.
func enforceLayout(t *testing.T, dir string, tags ...string) map[string]ocispec.Descriptor {
	t.Helper()
	src := filepath.Join(filepath.Dir(dir), filepath.Base(dir)+"-files")
	out := map[string]ocispec.Descriptor{}
	for _, tag := range tags {
		f := testkit.WriteFile(t, filepath.Join(src, tag+".txt"), "content of "+tag+" in "+dir+"\n")
		if code, _, errOut := runCLI(t, "pack", "-q", dir+":"+tag, f); code != 0 {
			t.Fatalf("pack %s: %s", tag, errOut)
		}
	}
	l, err := layout.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tag := range tags {
		d, err := l.Resolve(context.Background(), tag)
		if err != nil {
			t.Fatal(err)
		}
		out[tag] = d
	}
	return out
}

// enforceSign signs the entries tags of the layout dir with s.
func enforceSign(t *testing.T, dir string, s *signing.Signer, tags ...string) {
	t.Helper()
	ctx := context.Background()
	l, err := layout.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tag := range tags {
		d, err := l.Resolve(ctx, tag)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := signing.Sign(ctx, l, d, tag, s, signing.SignOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// wantRefused checks a refusal: exit 1, a "refused: ENTRY (sha256:" line
// for each of entries with every one of why, and the summary.
func wantRefused(t *testing.T, what string, code int, errOut string, entries []string, why ...string) {
	t.Helper()
	if code != 1 {
		t.Errorf("%s: exit %d, want 1; stderr %q", what, code, errOut)
		return
	}
	for _, e := range entries {
		line := ""
		for _, l := range strings.Split(errOut, "\n") {
			if strings.HasPrefix(l, "refused: "+e+" (sha256:") {
				line = l
			}
		}
		if line == "" {
			t.Errorf("%s: no line refusing %s in %q", what, e, errOut)
			continue
		}
		for _, w := range why {
			if !strings.Contains(line, w) {
				t.Errorf("%s: the line refusing %s does not say %q: %q", what, e, w, line)
			}
		}
	}
	if !strings.Contains(errOut, "without a valid signature (listed above)") {
		t.Errorf("%s: no summary in %q", what, errOut)
	}
}

// TestEnforceUnpack: unpack --key unpacks a signed entry and refuses, with
// DIR untouched, an unsigned one, one signed by another key, a tampered
// manifest, a signature over another digest, a garbage and a huge bundle.
func TestEnforceUnpack(t *testing.T) {
	dir := t.TempDir()
	sa, pubA := enforceKey(t, filepath.Join(dir, "a"))
	sb, pubB := enforceKey(t, filepath.Join(dir, "b"))
	lay := filepath.Join(dir, "bundle")
	ds := enforceLayout(t, lay, "signed", "unsigned", "byb", "both", "other", "garbage", "huge", "tampered")
	enforceSign(t, lay, sa, "signed", "both", "tampered")
	enforceSign(t, lay, sb, "byb", "both")
	l := testkit.OpenLayout(t, lay)
	ctx := context.Background()
	// A valid signature of "signed", made a referrer of "other".
	b, err := signing.NewBundle(ctx, ds["signed"].Digest, sa)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signing.AttachBundle(ctx, l, ds["other"], b, time.Time{}); err != nil {
		t.Fatal(err)
	}
	testkit.PushReferrer(t, l, ds["garbage"], signing.BundleMediaType, signing.BundleMediaType, []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{"payload":"!!"}}`))
	huge := []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"` + strings.Repeat(" ", signing.MaxBundleSize) + `}`)
	testkit.PushReferrer(t, l, ds["huge"], signing.BundleMediaType, signing.BundleMediaType, huge)
	l.Close()
	// The manifest of "tampered" changed in place after it was signed.
	testkit.FlipByteMiddle(t, testkit.BlobPath(lay, ds["tampered"].Digest.String()))

	out := filepath.Join(dir, "out")
	testkit.WriteFile(t, filepath.Join(out, "keep.txt"), "mine\n")
	before := testkit.Snapshot(t, out)
	for _, c := range []struct {
		tag string
		why []string
	}{
		{"unsigned", []string{"not signed", "ocipack sign"}},
		{"byb", []string{"no valid signature", "not made by the key " + pubA}},
		{"other", []string{"no valid signature", "over another digest (" + ds["signed"].Digest.String() + ")"}},
		{"garbage", []string{"no valid signature", "malformed bundle"}},
		{"huge", []string{"no valid signature", "more than the 1048576 a bundle may have"}},
		{"tampered", []string{"no valid signature", "cannot be read intact"}},
	} {
		code, _, errOut := runCLI(t, "unpack", "-q", lay+":"+c.tag, "-o", out, "--key", pubA)
		wantRefused(t, "unpack "+c.tag, code, errOut, []string{c.tag}, append(c.why, ds[c.tag].Digest.String())...)
		if !strings.Contains(errOut, "nothing was unpacked into "+out) {
			t.Errorf("unpack %s: %q does not say nothing was unpacked", c.tag, errOut)
		}
		testkit.Unchanged(t, before, out)
	}
	// A new DIR is not even created.
	fresh := filepath.Join(dir, "fresh")
	code, _, errOut := runCLI(t, "unpack", "-q", lay+":unsigned", "-o", fresh, "--key", pubA)
	wantRefused(t, "unpack into a new DIR", code, errOut, []string{"unsigned"})
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("refused unpack created %s: %v", fresh, err)
	}

	// Signed: unpacked. Signed by A and B, with A's key: unpacked.
	for _, tag := range []string{"signed", "both"} {
		if code, _, errOut := runCLI(t, "unpack", "-q", lay+":"+tag, "-o", out, "--key", pubA); code != 0 {
			t.Errorf("unpack %s --key a.pub: exit %d %q", tag, code, errOut)
		}
		if _, err := os.Stat(filepath.Join(out, tag+".txt")); err != nil {
			t.Errorf("unpack %s: %v", tag, err)
		}
	}
	// Any one of several keys.
	if code, _, errOut := runCLI(t, "unpack", "-q", lay+":byb", "-o", out, "--key", pubA, "--key", pubB); code != 0 {
		t.Errorf("unpack byb --key a.pub --key b.pub: exit %d %q", code, errOut)
	}
	// Without --key, unpack is what it was.
	if code, _, errOut := runCLI(t, "unpack", "-q", lay+":unsigned", "-o", out); code != 0 {
		t.Errorf("unpack without --key: exit %d %q", code, errOut)
	}
	// Usage: keyless flags without a trusted root.
	if code, _, errOut := runCLI(t, "unpack", lay+":signed", "-o", out, "--certificate-identity", "a@b"); code != 2 {
		t.Errorf("--certificate-identity alone: exit %d %q, want 2", code, errOut)
	}
}

// TestEnforceVerifyOtherSigner: verify --key A of an entry signed by A and
// by B lists no problem (B's signature is listed as unverified in --json).
func TestEnforceVerifyOtherSigner(t *testing.T) {
	dir := t.TempDir()
	sa, pubA := enforceKey(t, filepath.Join(dir, "a"))
	sb, _ := enforceKey(t, filepath.Join(dir, "b"))
	lay := filepath.Join(dir, "bundle")
	enforceLayout(t, lay, "v1")
	enforceSign(t, lay, sa, "v1")
	enforceSign(t, lay, sb, "v1")
	code, out, errOut := runCLI(t, "verify", lay+":v1", "--key", pubA)
	if code != 0 || strings.Contains(out, "problem:") || !strings.Contains(out, "0 without a valid one") {
		t.Errorf("verify --key a.pub of an entry signed by a and b: exit %d %q %q", code, out, errOut)
	}
	code, out, _ = runCLI(t, "verify", lay+":v1", "--key", pubA, "--json")
	var doc struct {
		Signatures []struct {
			Problems   []string `json:"problems"`
			Unverified []string `json:"unverified"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil || len(doc.Signatures) != 1 ||
		len(doc.Signatures[0].Problems) != 0 || len(doc.Signatures[0].Unverified) != 1 {
		t.Errorf("verify --json: exit %d %v %s", code, err, out)
	}
}

// TestEnforceImport: import --key refuses an archive with an unsigned
// entry, naming it, and leaves the layout as it was (a new one is not
// created), read in place or from stdin; a signed archive imports and
// verifies on the far side; a signature added after the base export
// travels in a --since delta.
func TestEnforceImport(t *testing.T) {
	dir := t.TempDir()
	sa, pubA := enforceKey(t, filepath.Join(dir, "a"))
	lay := filepath.Join(dir, "bundle")
	enforceLayout(t, lay, "v1", "v2")
	enforceSign(t, lay, sa, "v1")

	mixed := filepath.Join(dir, "mixed.tar")
	runOK(t, "export", lay, mixed)
	mixedZst := filepath.Join(dir, "mixed.tar.zst")
	runOK(t, "export", lay, mixedZst)

	// Into a new directory: refused, not created.
	far := filepath.Join(dir, "far")
	for _, a := range []string{mixed, mixedZst} {
		code, _, errOut := runCLI(t, "import", "-q", a, far, "--key", pubA)
		wantRefused(t, "import "+filepath.Base(a), code, errOut, []string{"v2"}, "not signed")
		if !strings.Contains(errOut, "nothing was imported into "+far) {
			t.Errorf("import: %q", errOut)
		}
		if _, err := os.Stat(far); !os.IsNotExist(err) {
			t.Errorf("refused import created %s: %v", far, err)
		}
	}
	// Into an existing layout: left as it was, also from stdin (checked
	// once the blobs are stored, which go again).
	existing := filepath.Join(dir, "existing")
	enforceLayout(t, existing, "old")
	before := testkit.Snapshot(t, existing)
	code, _, errOut := runCLI(t, "import", "-q", mixed, existing, "--key", pubA)
	wantRefused(t, "import into a layout", code, errOut, []string{"v2"})
	testkit.Unchanged(t, before, existing)
	f, err := os.Open(mixed)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	code = Run(context.Background(), []string{"import", "-q", "-", existing, "--key", pubA}, f, &stdout, &stderr)
	f.Close()
	wantRefused(t, "import from stdin", code, stderr.String(), []string{"v2"})
	testkit.Unchanged(t, before, existing)

	// Signed, but by another key: refused, naming the key.
	sb, _ := enforceKey(t, filepath.Join(dir, "b"))
	byB := filepath.Join(dir, "byb")
	enforceLayout(t, byB, "w1")
	enforceSign(t, byB, sb, "w1")
	byBTar := filepath.Join(dir, "byb.tar")
	runOK(t, "export", byB, byBTar)
	code, _, errOut = runCLI(t, "import", "-q", byBTar, existing, "--key", pubA)
	wantRefused(t, "import of an archive signed by another key", code, errOut, []string{"w1"}, "no valid signature", "not made by the key "+pubA)
	testkit.Unchanged(t, before, existing)

	// Only the signed entry: imported, and it verifies there.
	signed := filepath.Join(dir, "signed.tar")
	runOK(t, "export", lay+":v1", signed)
	if code, _, errOut := runCLI(t, "import", "-q", signed, far, "--key", pubA); code != 0 {
		t.Fatalf("import of a signed archive: exit %d %q", code, errOut)
	}
	if code, out, errOut := runCLI(t, "verify", far+":v1", "--key", pubA); code != 0 || !strings.Contains(out, "signed: v1") {
		t.Errorf("verify after import: exit %d %q %q", code, out, errOut)
	}

	// A delta: v2 signed after the base export; its signature travels in
	// the delta, which then imports with --key.
	base := filepath.Join(dir, "base.tar")
	runOK(t, "export", lay, base)
	far2 := filepath.Join(dir, "far2")
	runOK(t, "import", base, far2)
	enforceSign(t, lay, sa, "v2")
	delta := filepath.Join(dir, "delta.tar")
	runOK(t, "export", lay, delta, "--since", base)
	code, _, errOut = runCLI(t, "import", "-q", delta, far2, "--key", pubA)
	if code != 0 {
		t.Fatalf("import of the delta: exit %d %q", code, errOut)
	}
	if code, out, errOut := runCLI(t, "verify", far2, "--key", pubA); code != 0 || !strings.Contains(out, "signed: v2") || !strings.Contains(out, "signed: v1") {
		t.Errorf("verify after the delta: exit %d %q %q", code, out, errOut)
	}
}

// TestEnforcePushPullCopy: push --key refuses an unsigned entry before
// anything is sent (the registry has no such tag afterwards); a signed
// entry pushed with --referrers to Distribution (no referrers API: the
// sha256-<hex> fallback tag), copied with --referrers and pulled back
// with --referrers verifies on the far side.
func TestEnforcePushPullCopy(t *testing.T) {
	dir := t.TempDir()
	sa, pubA := enforceKey(t, filepath.Join(dir, "a"))
	lay := filepath.Join(dir, "bundle")
	ds := enforceLayout(t, lay, "v1", "v2", "v3")
	enforceSign(t, lay, sa, "v1")
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	repo := reg.Host + "/signed/app"

	code, _, errOut := runCLI(t, "push", "-q", lay+":v2", repo+":v2", "--plain-http", "--key", pubA)
	wantRefused(t, "push v2", code, errOut, []string{"v2"}, "not signed", ds["v2"].Digest.String())
	if !strings.Contains(errOut, "nothing was pushed") {
		t.Errorf("push: %q", errOut)
	}
	code, _, errOut = runCLI(t, "push", "-q", "--all-tags", lay, repo, "--plain-http", "--key", pubA)
	wantRefused(t, "push --all-tags", code, errOut, []string{"v2", "v3"}, "not signed")
	if code, _, _ := runCLI(t, "pull", "-q", repo+":v1", filepath.Join(dir, "nothing"), "--plain-http"); code == 0 {
		t.Error("a refused push --all-tags sent v1 to the registry")
	}
	if code, _, _ := runCLI(t, "pull", "-q", repo+":v2", filepath.Join(dir, "nothing"), "--plain-http"); code == 0 {
		t.Error("a refused push sent v2 to the registry")
	}

	runOK(t, "push", lay+":v1", repo+":v1", "--plain-http", "--referrers", "--key", pubA)
	fallback := "sha256-" + ds["v1"].Digest.Encoded()
	if code, _, _ := runCLI(t, "pull", "-q", repo+":"+fallback, filepath.Join(dir, "fallback"), "--plain-http"); code != 0 {
		t.Errorf("no fallback tag %s on a registry without the referrers API", fallback)
	}
	// pull --key: fetches the signatures itself, tags only a signed one.
	withKey := filepath.Join(dir, "pulled-key")
	runOK(t, "pull", repo+":v1", withKey+":v1", "--plain-http", "--key", pubA)
	if code, out, errOut := runCLI(t, "verify", withKey+":v1", "--key", pubA); code != 0 {
		t.Errorf("verify after pull --key: exit %d %q %q", code, out, errOut)
	}
	runOK(t, "push", lay+":v2", repo+":v2", "--plain-http")
	before := testkit.Snapshot(t, filepath.Join(withKey, "index.json"))
	code, _, errOut = runCLI(t, "pull", "-q", repo+":v2", withKey+":v2", "--plain-http", "--key", pubA)
	wantRefused(t, "pull --key of unsigned v2", code, errOut, []string{repo + ":v2"}, "not signed")
	testkit.Unchanged(t, before, filepath.Join(withKey, "index.json"))
	copied := reg.Host + "/copied/app"
	runOK(t, "copy", repo+":v1", copied+":v1", "--plain-http", "--referrers")
	for _, src := range []string{repo, copied} {
		pulled := filepath.Join(dir, "pulled-"+strings.ReplaceAll(src, "/", "_"))
		runOK(t, "pull", src+":v1", pulled+":v1", "--plain-http", "--referrers")
		if code, out, errOut := runCLI(t, "verify", pulled+":v1", "--key", pubA); code != 0 {
			t.Errorf("verify of %s pulled with --referrers: exit %d %q %q", src, code, out, errOut)
		}
		// Without --referrers, no signature comes along.
		bare := pulled + "-bare"
		runOK(t, "pull", src+":v1", bare+":v1", "--plain-http")
		if code, out, _ := runCLI(t, "verify", bare+":v1", "--key", pubA); code != 1 || !strings.Contains(out, "not signed") {
			t.Errorf("verify of %s pulled without --referrers: exit %d %q", src, code, out)
		}
	}
}

// TestEnforceSync: sync --key pulls each image with its signatures and
// tags it only when one is valid; an unsigned one is refused, named, and
// not tagged. sync --referrers carries signatures without checking them.
func TestEnforceSync(t *testing.T) {
	dir := t.TempDir()
	sa, pubA := enforceKey(t, filepath.Join(dir, "a"))
	lay := filepath.Join(dir, "bundle")
	ds := enforceLayout(t, lay, "v1", "v2")
	enforceSign(t, lay, sa, "v1")
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	repo := reg.Host + "/sync/app"
	runOK(t, "push", "--all-tags", lay, repo, "--plain-http", "--referrers")

	good := testkit.WriteFile(t, filepath.Join(dir, "good.yaml"), "images:\n  - ref: "+repo+":v1\n")
	out := filepath.Join(dir, "synced")
	code, stdout, errOut := runCLI(t, "sync", "-q", "-f", good, out, "--plain-http", "--key", pubA)
	if code != 0 || !strings.Contains(stdout, repo+":v1") {
		t.Fatalf("sync --key of a signed image: exit %d %q %q", code, stdout, errOut)
	}
	if code, o, errOut := runCLI(t, "verify", out, "--key", pubA); code != 0 || !strings.Contains(o, "signed: "+repo+":v1") {
		t.Errorf("verify after sync --key: exit %d %q %q", code, o, errOut)
	}
	// Again: unchanged, and checked again.
	if code, stdout, errOut := runCLI(t, "sync", "-q", "-f", good, out, "--plain-http", "--key", pubA); code != 0 || !strings.Contains(stdout, "unchanged") {
		t.Errorf("second sync --key: exit %d %q %q", code, stdout, errOut)
	}

	bad := testkit.WriteFile(t, filepath.Join(dir, "bad.yaml"), "images:\n  - ref: "+repo+":v1\n  - ref: "+repo+":v2\n")
	code, _, errOut = runCLI(t, "sync", "-q", "-f", bad, out, "--plain-http", "--key", pubA)
	wantRefused(t, "sync of an unsigned image", code, errOut, []string{repo + "@" + ds["v2"].Digest.String()}, "not signed")
	if !strings.Contains(errOut, "bad.yaml:3") {
		t.Errorf("sync refusal does not name the file and line: %q", errOut)
	}
	if tags := testkit.IndexTags(t, out); tags[repo+":v2"] != "" {
		t.Errorf("the refused image was tagged: %v", tags)
	}

	// sync --referrers carries the signature; verify --key finds it.
	out2 := filepath.Join(dir, "synced2")
	runOK(t, "sync", "-f", good, out2, "--plain-http", "--referrers")
	if code, o, errOut := runCLI(t, "verify", out2, "--key", pubA); code != 0 {
		t.Errorf("verify after sync --referrers: exit %d %q %q", code, o, errOut)
	}
}

// TestEnforceServe: serve --key refuses to start, naming each unsigned
// entry; a signed layout is served, and its referrers API lists the
// signature.
func TestEnforceServe(t *testing.T) {
	dir := t.TempDir()
	sa, pubA := enforceKey(t, filepath.Join(dir, "a"))
	lay := filepath.Join(dir, "bundle")
	ds := enforceLayout(t, lay, "v1", "v2", "v3")
	enforceSign(t, lay, sa, "v1")
	gl := testkit.OpenLayout(t, lay)
	testkit.PushReferrer(t, gl, ds["v3"], signing.BundleMediaType, signing.BundleMediaType, []byte(`{"garbage":`))
	gl.Close()
	code, _, errOut := runCLI(t, "serve", lay, "--addr", "127.0.0.1:0", "--key", pubA)
	wantRefused(t, "serve", code, errOut, []string{"v2"}, "not signed")
	wantRefused(t, "serve", code, errOut, []string{"v3"}, "no valid signature", "malformed bundle")
	if strings.Contains(errOut, "serving") {
		t.Errorf("serve said it serves: %q", errOut)
	}
	archivePath := filepath.Join(dir, "bundle.tar")
	runOK(t, "export", lay, archivePath)
	code, _, errOut = runCLI(t, "serve", archivePath, "--addr", "127.0.0.1:0", "--key", pubA)
	wantRefused(t, "serve of an archive", code, errOut, []string{"v2", "v3"})

	enforceSign(t, lay, sa, "v2", "v3") // v3 still carries the garbage: one valid signature is enough
	pub, err := signing.LoadPublicKeyFile(pubA)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serve.New(context.Background(), serve.Options{Path: lay, Policy: &signing.Policy{Keys: []*signing.PublicKey{pub}}})
	if err != nil {
		t.Fatalf("serve.New of a signed layout: %v", err)
	}
	hs := httptest.NewServer(srv)
	defer func() { hs.Close(); srv.Close() }()
	resp, err := http.Get(hs.URL + "/v2/bundle/referrers/" + ds["v1"].Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var idx ocispec.Index
	if err := json.Unmarshal(body, &idx); resp.StatusCode != 200 || err != nil || len(idx.Manifests) != 1 || idx.Manifests[0].ArtifactType != signing.BundleMediaType {
		t.Errorf("referrers of v1: %d %v %s", resp.StatusCode, err, body)
	}
}

// TestEnforceGC: gc keeps a signature while its subject is tagged and
// drops it with its subject.
func TestEnforceGC(t *testing.T) {
	dir := t.TempDir()
	sa, pubA := enforceKey(t, filepath.Join(dir, "a"))
	lay := filepath.Join(dir, "bundle")
	enforceLayout(t, lay, "v1", "v2")
	enforceSign(t, lay, sa, "v1")
	runOK(t, "gc", lay)
	if code, out, errOut := runCLI(t, "verify", lay+":v1", "--key", pubA); code != 0 {
		t.Fatalf("verify after gc: exit %d %q %q", code, out, errOut)
	}
	blobs := func() int {
		es, err := os.ReadDir(filepath.Join(lay, "blobs", "sha256"))
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	n := blobs()
	runOK(t, "rm", lay+":v1")
	out := runOK(t, "gc", lay, "--json")
	// v1's manifest and layer, and its signature's manifest and bundle.
	if got := blobs(); got != n-4 {
		t.Errorf("gc after rm v1 left %d of %d blobs, want 4 fewer: %s", got, n, out)
	}
	if strings.Contains(string(mustRead(t, filepath.Join(lay, "index.json"))), signing.BundleMediaType) {
		t.Error("index.json still lists the signature of the removed entry")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEnforceCosignSigned: an image signed in a registry by the real
// cosign (v3.1.3, skipped without it) passes the enforcement of pull,
// sync, export/import and serve with --key cosign.pub, on Distribution
// (the sha256-<hex> fallback tag) and on ocipack serve (referrers API).
func TestEnforceCosignSigned(t *testing.T) {
	c := testkit.Cosign(t)
	c.Run(t, "generate-key-pair")
	cosignKey, cosignPub := filepath.Join(c.Dir, "cosign.key"), filepath.Join(c.Dir, "cosign.pub")
	for _, r := range cosignE2ERegistries(t) {
		t.Run(r.name, func(t *testing.T) {
			src, digest := cosignE2EPack(t, "enforced, signed by cosign on "+r.name+"\n")
			repo := r.host + "/enforced/app"
			runOK(t, "push", src+":v1", repo+":v1", "--plain-http")
			cosignSign(t, c, cosignKey, repo+"@"+digest)
			dir := t.TempDir()
			pulled := filepath.Join(dir, "pulled")
			runOK(t, "pull", repo+":v1", pulled+":v1", "--plain-http", "--key", cosignPub)
			if got := testkit.IndexTags(t, pulled)["v1"]; got != digest {
				t.Fatalf("pull --key: v1 is %q, want %s", got, digest)
			}
			bf := testkit.WriteFile(t, filepath.Join(dir, "b.yaml"), "images:\n  - ref: "+repo+":v1\n")
			runOK(t, "sync", "-f", bf, filepath.Join(dir, "synced"), "--plain-http", "--key", cosignPub)
			tarPath := filepath.Join(dir, "x.tar")
			runOK(t, "export", pulled, tarPath)
			runOK(t, "import", tarPath, filepath.Join(dir, "far"), "--key", cosignPub)
			runOK(t, "unpack", filepath.Join(dir, "far")+":v1", "-o", filepath.Join(dir, "out"), "--key", cosignPub)
			srv, err := serve.New(context.Background(), serve.Options{Path: filepath.Join(dir, "far"), Policy: policyOf(t, cosignPub)})
			if err != nil {
				t.Fatalf("serve of cosign-signed entries with its key: %v", err)
			}
			srv.Close()
		})
	}
}

func policyOf(t *testing.T, pubs ...string) *signing.Policy {
	t.Helper()
	p := &signing.Policy{}
	for _, f := range pubs {
		k, err := signing.LoadPublicKeyFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p.Keys = append(p.Keys, k)
	}
	return p
}

// TestEnforceKeyless: the enforcement flags take keyless signatures with
// --trusted-root and the signer's identity (sigstore-go's virtual
// Sigstore, offline), and refuse another identity.
func TestEnforceKeyless(t *testing.T) {
	dir := t.TempDir()
	lay := filepath.Join(dir, "bundle")
	ds := enforceLayout(t, lay, "v1")
	vs := testkit.VirtualSigstore(t)
	root := testkit.WriteFile(t, filepath.Join(dir, "trusted_root.json"), testkit.TrustedRootJSON(t, vs))
	st, err := signing.Statement(ds["v1"].Digest)
	if err != nil {
		t.Fatal(err)
	}
	b := testkit.KeylessBundle(t, vs, st, "ci@example.com", "https://issuer.example", time.Now().Add(time.Minute))
	l := testkit.OpenLayout(t, lay)
	if _, err := signing.AttachBundle(context.Background(), l, ds["v1"], b, time.Time{}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	flags := []string{"--trusted-root", root, "--certificate-oidc-issuer", "https://issuer.example", "--insecure-ignore-sct"}
	out := filepath.Join(dir, "out")
	if code, _, errOut := runCLI(t, append([]string{"unpack", "-q", lay + ":v1", "-o", out, "--certificate-identity", "ci@example.com"}, flags...)...); code != 0 {
		t.Errorf("unpack --trusted-root, the signer's identity: exit %d %q", code, errOut)
	}
	code, _, errOut := runCLI(t, append([]string{"unpack", "-q", lay + ":v1", "-o", filepath.Join(dir, "out2"), "--certificate-identity-regexp", "^mallory@"}, flags...)...)
	wantRefused(t, "unpack --trusted-root, another identity", code, errOut, []string{"v1"}, "keyless signature refused")
	if _, err := os.Stat(filepath.Join(dir, "out2")); !os.IsNotExist(err) {
		t.Errorf("refused unpack created out2: %v", err)
	}
}
