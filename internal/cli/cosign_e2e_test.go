package cli

// Interoperability with the real cosign CLI (v3.1.3, testkit.CosignVersion),
// both ways, with keys and no network (issue 17):
//
//   - keys: a key pair made by `ocipack key generate` signs in cosign, and
//     one made by `cosign generate-key-pair` signs in ocipack;
//   - an entry signed by `ocipack sign` and pushed with --referrers verifies
//     with `cosign verify --key NAME.pub --insecure-ignore-tlog=true`;
//   - an image signed in a registry by `cosign sign --key ...
//     --use-signing-config=false --tlog-upload=false`, pulled with
//     --referrers, verifies with `ocipack verify --key cosign.pub`, and
//     fails with another key, naming the entry.
//
// Each runs against two registries: CNCF Distribution in-process, which
// has no referrers API, so the signature travels under the sha256-<hex>
// fallback tag (as on Distribution 2.8); and `ocipack serve --writable`,
// which answers the referrers API. The cosign binary comes from COSIGN_BIN
// (see testkit.Cosign); the tests are skipped without it.
//
// Build cosign with: GOBIN=/tmp/cosign-bin go install github.com/sigstore/cosign/v3/cmd/cosign@v3.1.3
// then run: COSIGN_BIN=/tmp/cosign-bin/cosign go test ./internal/cli -run CosignE2E -v

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/serve"
)

// cosignE2ERegistry is a registry the interop tests push to and cosign
// signs in: host is its "127.0.0.1:PORT"; referrersAPI tells whether it
// answers GET /v2/<name>/referrers/<digest> (else clients use the
// sha256-<hex> fallback tag).
type cosignE2ERegistry struct {
	name         string
	host         string
	referrersAPI bool
}

// cosignE2ERegistries starts the two registries of the interop tests.
func cosignE2ERegistries(t *testing.T) []cosignE2ERegistry {
	t.Helper()
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	srv, err := serve.New(context.Background(), serve.Options{Path: filepath.Join(t.TempDir(), "served"), Writable: true})
	if err != nil {
		t.Fatalf("serve: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return []cosignE2ERegistry{
		{name: "distribution", host: reg.Host, referrersAPI: false},
		{name: "serve", host: strings.TrimPrefix(hs.URL, "http://"), referrersAPI: true},
	}
}

// cosignE2EPack packs a small artifact (content makes it unique) into a
// new layout as dir:v1 and returns the layout's path and the entry's
// manifest digest.
func cosignE2EPack(t *testing.T, content string) (dir, digest string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "hello.txt")
	testkit.WriteFile(t, src, content)
	dir = filepath.Join(t.TempDir(), "lay")
	runOK(t, "pack", dir+":v1", src)
	digest = testkit.IndexTags(t, dir)["v1"]
	if digest == "" {
		t.Fatalf("pack made no entry v1: %v", testkit.IndexTags(t, dir))
	}
	return dir, digest
}

// ocipackKeyGenerate runs `ocipack key generate PREFIX` with the password
// in COSIGN_PASSWORD and returns PREFIX.key and PREFIX.pub.
func ocipackKeyGenerate(t *testing.T, prefix string) (key, pub string) {
	t.Helper()
	t.Setenv("COSIGN_PASSWORD", testkit.CosignPassword)
	if code, out, errOut := runCLI(t, "key", "generate", prefix); code != 0 {
		t.Fatalf("ocipack key generate %s: exit %d\n%s%s", prefix, code, out, errOut)
	}
	key, pub = prefix+".key", prefix+".pub"
	for _, f := range []string{key, pub} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("ocipack key generate %s wrote no %s: %v", prefix, f, err)
		}
	}
	return key, pub
}

// ocipackSign runs `ocipack sign REF --key KEY` with the password in
// COSIGN_PASSWORD and fails the test on a non-zero exit.
func ocipackSign(t *testing.T, ref, key string) {
	t.Helper()
	t.Setenv("COSIGN_PASSWORD", testkit.CosignPassword)
	if code, out, errOut := runCLI(t, "sign", ref, "--key", key); code != 0 {
		t.Fatalf("ocipack sign %s --key %s: exit %d\n%s%s", ref, key, code, out, errOut)
	}
}

// cosignSign signs REPO@DIGEST in a registry as cosign v3 does with a key
// and no network.
func cosignSign(t *testing.T, c *testkit.CosignCLI, key, ref string) {
	t.Helper()
	c.Run(t, "sign", "--key", key, "--use-signing-config=false", "--tlog-upload=false", "-y", ref)
}

// cosignVerifyOK checks that cosign verifies ref with pub and says so for
// digest.
func cosignVerifyOK(t *testing.T, c *testkit.CosignCLI, pub, ref, digest string) {
	t.Helper()
	out := c.Run(t, "verify", "--key", pub, "--insecure-ignore-tlog=true", ref)
	if !strings.Contains(out, `"docker-manifest-digest":"`+digest+`"`) || !strings.Contains(out, "https://sigstore.dev/cosign/sign/v1") {
		t.Errorf("cosign verify %s printed no verified claim for %s with the cosign/sign/v1 type:\n%s", ref, digest, out)
	}
}

// fallbackTagExists reports whether the registry at host has the referrers
// tag schema's tag sha256-<hex> of digest in repo.
func fallbackTagExists(t *testing.T, host, repo, digest string) bool {
	t.Helper()
	req, err := http.NewRequest(http.MethodHead, "http://"+host+"/v2/"+repo+"/manifests/"+strings.Replace(digest, ":", "-", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// TestCosignE2EKeys: the key files of each tool work in the other. A pair
// from `ocipack key generate` signs an image in a registry with `cosign
// sign`, and cosign verifies that with its .pub; a pair from `cosign
// generate-key-pair` signs an entry with `ocipack sign`, and `ocipack
// verify --key cosign.pub` accepts it.
func TestCosignE2EKeys(t *testing.T) {
	c := testkit.Cosign(t)
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})

	t.Run("ocipack key in cosign", func(t *testing.T) {
		key, pub := ocipackKeyGenerate(t, filepath.Join(t.TempDir(), "release"))
		if b := testkit.ReadFile(t, key); !strings.Contains(string(b), "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----") {
			t.Errorf("ocipack's private key is not a PEM 'ENCRYPTED SIGSTORE PRIVATE KEY', as cosign writes:\n%.80s", b)
		}
		dir, digest := cosignE2EPack(t, "signed by cosign with an ocipack key\n")
		runOK(t, "push", dir+":v1", reg.Ref("keys/ocikey:v1"), "--plain-http")
		ref := reg.Ref("keys/ocikey@" + digest)
		cosignSign(t, c, key, ref)
		cosignVerifyOK(t, c, pub, ref, digest)
	})

	t.Run("cosign key in ocipack", func(t *testing.T) {
		c.Run(t, "generate-key-pair")
		key, pub := filepath.Join(c.Dir, "cosign.key"), filepath.Join(c.Dir, "cosign.pub")
		dir, _ := cosignE2EPack(t, "signed by ocipack with a cosign key\n")
		ocipackSign(t, dir+":v1", key)
		if code, out, errOut := runCLI(t, "verify", dir+":v1", "--key", pub); code != 0 {
			t.Fatalf("ocipack verify --key cosign.pub of what ocipack signed with cosign.key: exit %d\n%s%s", code, out, errOut)
		}
	})
}

// TestCosignE2EVerifiesOcipackSignature: an entry signed by `ocipack sign`
// (with a key of ocipack's own and with one of cosign's) and pushed with
// --referrers verifies with `cosign verify --key NAME.pub
// --insecure-ignore-tlog=true REGISTRY/REPO@DIGEST`, on a registry with the
// referrers API and on one without (where the signature must travel under
// the sha256-<hex> tag); with another key cosign refuses it.
func TestCosignE2EVerifiesOcipackSignature(t *testing.T) {
	c := testkit.Cosign(t)
	c.Run(t, "generate-key-pair")
	cosignKey, cosignPub := filepath.Join(c.Dir, "cosign.key"), filepath.Join(c.Dir, "cosign.pub")
	ociKey, ociPub := ocipackKeyGenerate(t, filepath.Join(t.TempDir(), "ocipack"))

	for _, r := range cosignE2ERegistries(t) {
		t.Run(r.name, func(t *testing.T) {
			for _, k := range []struct{ name, key, pub, other string }{
				{"ocipack key", ociKey, ociPub, cosignPub},
				{"cosign key", cosignKey, cosignPub, ociPub},
			} {
				t.Run(k.name, func(t *testing.T) {
					dir, digest := cosignE2EPack(t, "signed by ocipack: "+r.name+", "+k.name+"\n")
					ocipackSign(t, dir+":v1", k.key)
					repo := "signed/" + strings.ReplaceAll(k.name, " ", "")
					runOK(t, "push", dir+":v1", r.host+"/"+repo+":v1", "--plain-http", "--referrers")
					if got := fallbackTagExists(t, r.host, repo, digest); got == r.referrersAPI {
						t.Errorf("sha256-<hex> fallback tag present: %v, want %v on a registry with referrers API %v", got, !r.referrersAPI, r.referrersAPI)
					}
					ref := r.host + "/" + repo + "@" + digest
					cosignVerifyOK(t, c, k.pub, ref, digest)
					cosignVerifyOK(t, c, k.pub, r.host+"/"+repo+":v1", digest)
					c.Fail(t, "verify", "--key", k.other, "--insecure-ignore-tlog=true", ref)
				})
			}
		})
	}
}

// TestCosignE2EOcipackVerifiesCosignSignature: an image signed in a
// registry by `cosign sign --key cosign.key --use-signing-config=false
// --tlog-upload=false`, pulled with --referrers, verifies with `ocipack
// verify --key cosign.pub`; with another key verify exits 1 and names the
// entry; a layout pulled without --referrers holds no signature and
// verify names the entry as unsigned.
func TestCosignE2EOcipackVerifiesCosignSignature(t *testing.T) {
	c := testkit.Cosign(t)
	c.Run(t, "generate-key-pair")
	cosignKey, cosignPub := filepath.Join(c.Dir, "cosign.key"), filepath.Join(c.Dir, "cosign.pub")
	c.Run(t, "generate-key-pair", "--output-key-prefix", "other")
	otherPub := filepath.Join(c.Dir, "other.pub")

	for _, r := range cosignE2ERegistries(t) {
		t.Run(r.name, func(t *testing.T) {
			src, digest := cosignE2EPack(t, "signed by cosign on "+r.name+"\n")
			runOK(t, "push", src+":v1", r.host+"/cosigned/app:v1", "--plain-http")
			cosignSign(t, c, cosignKey, r.host+"/cosigned/app@"+digest)
			if got := fallbackTagExists(t, r.host, "cosigned/app", digest); got == r.referrersAPI {
				t.Errorf("after cosign sign, sha256-<hex> fallback tag present: %v, want %v (referrers API %v)", got, !r.referrersAPI, r.referrersAPI)
			}

			dir := filepath.Join(t.TempDir(), "pulled")
			runOK(t, "pull", r.host+"/cosigned/app:v1", dir+":v1", "--plain-http", "--referrers")
			if got := testkit.IndexTags(t, dir)["v1"]; got != digest {
				t.Fatalf("pulled v1 is %q, want %s", got, digest)
			}
			assertCosignBundleReferrer(t, dir, digest)

			if code, out, errOut := runCLI(t, "verify", dir+":v1", "--key", cosignPub); code != 0 {
				t.Errorf("ocipack verify --key cosign.pub of cosign's signature: exit %d\n%s%s", code, out, errOut)
			}
			// Another key: exit 1, and the report names the entry (tag
			// and digest) and the key it was checked against.
			code, out, errOut := runCLI(t, "verify", dir+":v1", "--key", otherPub)
			if code != 1 || !strings.Contains(out+errOut, "v1 ("+digest+")") || !strings.Contains(out+errOut, "other.pub") {
				t.Errorf("ocipack verify --key other.pub: exit %d, want 1 and a report naming v1 (%s) and other.pub\n%s%s", code, digest, out, errOut)
			}
			// Both keys: one of them signed it, so it passes.
			if code, out, errOut := runCLI(t, "verify", dir+":v1", "--key", otherPub, "--key", cosignPub); code != 0 {
				t.Errorf("ocipack verify --key other.pub --key cosign.pub: exit %d, want 0\n%s%s", code, out, errOut)
			}

			// Pulled without --referrers: no signature travels; unsigned.
			bare := filepath.Join(t.TempDir(), "bare")
			runOK(t, "pull", r.host+"/cosigned/app:v1", bare+":v1", "--plain-http")
			code, out, errOut = runCLI(t, "verify", bare+":v1", "--key", cosignPub)
			if code != 1 || !strings.Contains(out+errOut, "v1 ("+digest+")") || !strings.Contains(out+errOut, "not signed") {
				t.Errorf("ocipack verify --key cosign.pub of an unsigned copy: exit %d, want 1 and a report naming v1 (%s) as not signed\n%s%s", code, digest, out, errOut)
			}
		})
	}
}

// assertCosignBundleReferrer checks that the layout dir holds, as a
// referrer of its entry v1 (at digest), the manifest cosign v3 writes:
// artifact type and one layer of the Sigstore bundle v0.3 media type, with
// the predicate type annotation of cosign's signature.
func assertCosignBundleReferrer(t *testing.T, dir, digest string) {
	t.Helper()
	const bundleType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	l := testkit.OpenLayout(t, dir)
	subject, _ := testkit.Manifest(t, l, "v1")
	if subject.Digest.String() != digest {
		t.Fatalf("v1 is %s, want %s", subject.Digest, digest)
	}
	refs, err := l.Predecessors(context.Background(), subject)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, d := range refs {
		if d.ArtifactType != bundleType {
			continue
		}
		found++
		var m ocispec.Manifest
		if err := json.Unmarshal(testkit.FetchBytes(t, l, d), &m); err != nil {
			t.Fatal(err)
		}
		if m.Subject == nil || m.Subject.Digest.String() != digest || len(m.Layers) != 1 || m.Layers[0].MediaType != bundleType ||
			m.Annotations["dev.sigstore.bundle.predicateType"] != "https://sigstore.dev/cosign/sign/v1" {
			t.Errorf("cosign's referrer %s: subject %v, layers %v, annotations %v", d.Digest, m.Subject, m.Layers, m.Annotations)
		}
	}
	if found != 1 {
		t.Errorf("the pulled layout holds %d Sigstore bundle referrers of %s, want cosign's 1", found, digest)
	}
}

// TestCosignE2ELegacySignature: an older cosign signature, made by `cosign
// sign --new-bundle-format=false` (the sha256-<hex>.sig tag with a
// simple-signing payload, which cosign v3.1.3 still writes on request),
// verifies with `ocipack verify --key cosign.pub` once a layout holds that
// tag: pulled under a plain tag beside the entry, or by `pull --all-tags`
// under full names. Another key fails, naming the entry.
func TestCosignE2ELegacySignature(t *testing.T) {
	c := testkit.Cosign(t)
	c.Run(t, "generate-key-pair")
	c.Run(t, "generate-key-pair", "--output-key-prefix", "other")
	cosignKey, cosignPub, otherPub := filepath.Join(c.Dir, "cosign.key"), filepath.Join(c.Dir, "cosign.pub"), filepath.Join(c.Dir, "other.pub")
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})

	src, digest := cosignE2EPack(t, "signed by cosign, the old way\n")
	runOK(t, "push", src+":v1", reg.Ref("legacy/app:v1"), "--plain-http")
	c.Run(t, "sign", "--key", cosignKey, "--use-signing-config=false", "--tlog-upload=false", "--new-bundle-format=false", "-y", reg.Ref("legacy/app@"+digest))
	sigTag := strings.Replace(digest, ":", "-", 1) + ".sig"
	// cosign itself accepts it, as the old kind.
	out := c.Run(t, "verify", "--key", cosignPub, "--insecure-ignore-tlog=true", reg.Ref("legacy/app@"+digest))
	if !strings.Contains(out, `"docker-manifest-digest":"`+digest+`"`) || !strings.Contains(out, `"type":"cosign container image signature"`) {
		t.Fatalf("cosign verify printed no simple-signing claim for %s:\n%s", digest, out)
	}
	if tags := strings.Fields(runOK(t, "tags", reg.Ref("legacy/app"), "--plain-http")); !slices.Contains(tags, sigTag) {
		t.Fatalf("cosign --new-bundle-format=false left the tags %v, want %s among them", tags, sigTag)
	}

	t.Run("plain tags", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "lay")
		runOK(t, "pull", reg.Ref("legacy/app:v1"), dir+":v1", "--plain-http")
		runOK(t, "pull", reg.Ref("legacy/app:"+sigTag), dir+":"+sigTag, "--plain-http")
		if code, out, errOut := runCLI(t, "verify", dir+":v1", "--key", cosignPub); code != 0 {
			t.Errorf("ocipack verify --key cosign.pub of a .sig signature: exit %d\n%s%s", code, out, errOut)
		}
		code, out, errOut := runCLI(t, "verify", dir+":v1", "--key", otherPub)
		if code != 1 || !strings.Contains(out+errOut, "v1 ("+digest+")") || !strings.Contains(out+errOut, "other.pub") {
			t.Errorf("ocipack verify --key other.pub of a .sig signature: exit %d, want 1 naming v1 (%s) and other.pub\n%s%s", code, digest, out, errOut)
		}
	})

	t.Run("full names", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "all")
		runOK(t, "pull", "--all-tags", reg.Ref("legacy/app"), dir, "--plain-http")
		entry := dir + ":" + reg.Ref("legacy/app:v1")
		if code, out, errOut := runCLI(t, "verify", entry, "--key", cosignPub); code != 0 {
			t.Errorf("ocipack verify --key cosign.pub of a full-named entry with its .sig: exit %d\n%s%s", code, out, errOut)
		}
		if code, out, errOut := runCLI(t, "verify", entry, "--key", otherPub); code != 1 {
			t.Errorf("ocipack verify --key other.pub: exit %d, want 1\n%s%s", code, out, errOut)
		}
	})
}
