package cli

// Interoperability with a real peer, go-containerregistry (ggcr): images,
// indexes and referrers that ggcr writes to the in-process Distribution
// registry travel through ocipack's pull, copy and export, and ggcr reads
// back what ocipack wrote (registry, OCI layout, docker-load tar); OCI
// layouts and docker-save tars that ggcr writes are imported by ocipack.

import (
	"archive/tar"
	"encoding/json"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	ggcrlayout "github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

// ggcrImage is an OCI image built by ggcr: two random gzip tar layers and a
// config stating platform p (os/architecture/variant). seed makes it
// deterministic.
func ggcrImage(t *testing.T, seed int64, p v1.Platform) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	var adds []mutate.Addendum
	for i := range int64(2) {
		l, err := random.Layer(1500+seed*100+i, types.OCILayer, random.WithSource(rand.NewSource(seed*10+i)))
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.Addendum{Layer: l})
	}
	img, err := mutate.Append(img, adds...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("ggcr's own image does not validate: %v", err)
	}
	return img
}

// ggcrSBOM is an SBOM-like artifact manifest built by ggcr whose subject is
// subject: artifact type (as ggcr conveys it, the config media type)
// application/spdx+json, one JSON layer.
func ggcrSBOM(t *testing.T, subject v1.Descriptor, body string) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), "application/spdx+json")
	img, err := mutate.Append(img, mutate.Addendum{Layer: static.NewLayer([]byte(body), "application/spdx+json")})
	if err != nil {
		t.Fatal(err)
	}
	return mutate.Subject(img, subject).(v1.Image)
}

// ggcrDesc is the descriptor of a ggcr image or index, as a subject.
func ggcrDesc(t *testing.T, m interface {
	Digest() (v1.Hash, error)
	Size() (int64, error)
	MediaType() (types.MediaType, error)
}) v1.Descriptor {
	t.Helper()
	d, err := m.Digest()
	if err != nil {
		t.Fatal(err)
	}
	sz, err := m.Size()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := m.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	return v1.Descriptor{MediaType: mt, Size: sz, Digest: d}
}

// ggcrBlobs lists the digests of img's manifest, config and layers.
func ggcrBlobs(t *testing.T, img v1.Image) []string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	out := []string{d.String(), m.Config.Digest.String()}
	for _, l := range m.Layers {
		out = append(out, l.Digest.String())
	}
	return out
}

func ggcrRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ggcrPeer is what TestGGCRRegistryInterop pushes with ggcr: a three-platform
// index (amd64, arm64/v8, arm/v7) and SBOMs of the index, of the arm64 and
// of the amd64 child.
type ggcrPeer struct {
	idx                       v1.ImageIndex
	imgs                      []v1.Image // amd64, arm64/v8, arm/v7
	idxSBOM, armSBOM, amdSBOM v1.Image
}

var ggcrPlatforms = []v1.Platform{
	{OS: "linux", Architecture: "amd64"},
	{OS: "linux", Architecture: "arm64", Variant: "v8"},
	{OS: "linux", Architecture: "arm", Variant: "v7"},
}

func pushGGCRPeer(t *testing.T, reg *testkit.Registry, repo string) ggcrPeer {
	t.Helper()
	opts := []remote.Option{remote.WithContext(t.Context())}
	var p ggcrPeer
	var adds []mutate.IndexAddendum
	for i, pl := range ggcrPlatforms {
		img := ggcrImage(t, int64(i+1), pl)
		p.imgs = append(p.imgs, img)
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pl}})
	}
	p.idx = mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	if err := validate.Index(p.idx); err != nil {
		t.Fatalf("ggcr's own index does not validate: %v", err)
	}
	if err := remote.WriteIndex(ggcrRef(t, reg.Ref(repo+":v1")), p.idx, opts...); err != nil {
		t.Fatalf("ggcr WriteIndex: %v", err)
	}
	p.idxSBOM = ggcrSBOM(t, ggcrDesc(t, p.idx), `{"spdxVersion":"SPDX-2.3","name":"index"}`)
	p.armSBOM = ggcrSBOM(t, ggcrDesc(t, p.imgs[1]), `{"spdxVersion":"SPDX-2.3","name":"arm64"}`)
	p.amdSBOM = ggcrSBOM(t, ggcrDesc(t, p.imgs[0]), `{"spdxVersion":"SPDX-2.3","name":"amd64"}`)
	for _, s := range []v1.Image{p.idxSBOM, p.armSBOM, p.amdSBOM} {
		d, err := s.Digest()
		if err != nil {
			t.Fatal(err)
		}
		// ggcr finds no referrers API in Distribution and keeps the
		// referrers tag schema (sha256-HEX) up to date.
		if err := remote.Write(ggcrRef(t, reg.Ref(repo+"@"+d.String())), s, opts...); err != nil {
			t.Fatalf("ggcr Write of a referrer: %v", err)
		}
	}
	return p
}

func hashOf(t *testing.T, m interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	d, err := m.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// runOK runs the command line and fails the test on a non-zero exit.
func runOK(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, append(args, "-q")...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	return out
}

// TestGGCRRegistryInterop: a multi-platform index with referrers on the
// index and on two children, written by ggcr's remote package, is pulled
// and copied by platform and whole; ggcr reads back the copies, and reads
// the layout ocipack pulled with its layout package.
func TestGGCRRegistryInterop(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	p := pushGGCRPeer(t, reg, "ggcr/multi")
	idxDigest := hashOf(t, p.idx)
	arm := p.imgs[1]
	armDigest := hashOf(t, arm)
	ropts := []remote.Option{remote.WithContext(t.Context())}

	// pull --platform linux/arm64 --referrers: exactly the arm64 child,
	// its blobs and its SBOM, and the new subset index; nothing of amd64 or
	// arm/v7, not the SBOM of the amd64 child, not the whole index's.
	dir := filepath.Join(t.TempDir(), "arm")
	runOK(t, "pull", reg.Ref("ggcr/multi:v1"), dir+":arm", "--plain-http", "--platform", "linux/arm64", "--referrers")
	runOK(t, "verify", dir)
	l := testkit.OpenLayout(t, dir)
	sub, err := l.Resolve(t.Context(), "arm")
	if err != nil {
		t.Fatal(err)
	}
	var subIdx ocispec.Index
	if err := json.Unmarshal(testkit.FetchBytes(t, l, sub), &subIdx); err != nil {
		t.Fatal(err)
	}
	if len(subIdx.Manifests) != 1 || subIdx.Manifests[0].Digest.String() != armDigest {
		t.Fatalf("subset index lists %v, want only the arm64 child %s", subIdx.Manifests, armDigest)
	}
	if pl := subIdx.Manifests[0].Platform; pl == nil || pl.Architecture != "arm64" || pl.Variant != "v8" {
		t.Errorf("subset child's platform %+v, want linux/arm64/v8 as ggcr wrote it", pl)
	}
	want := append([]string{sub.Digest.String()}, ggcrBlobs(t, arm)...)
	want = append(want, ggcrBlobs(t, p.armSBOM)...)
	slices.Sort(want)
	want = slices.Compact(want) // the SBOMs share ggcr's empty config
	got := testkit.BlobDigests(t, dir)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("blobs of the arm64 pull:\n got %v\nwant %v", got, want)
	}

	// ggcr reads the layout ocipack wrote: index.json, the subset index
	// and its child validate; the SBOM is listed (untagged) with its
	// subject.
	lp, err := ggcrlayout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(top); err != nil {
		t.Errorf("ggcr validate.Index of ocipack's layout: %v", err)
	}
	sii, err := top.ImageIndex(v1.Hash{Algorithm: "sha256", Hex: sub.Digest.Encoded()})
	if err != nil {
		t.Fatal(err)
	}
	img, err := sii.Image(ggcrHash(t, armDigest))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("ggcr validate.Image of the pulled arm64 child: %v", err)
	}
	if cf, err := img.ConfigFile(); err != nil || cf.Architecture != "arm64" || cf.Variant != "v8" {
		t.Errorf("pulled arm64 config: %+v %v", cf, err)
	}
	sbom, err := top.Image(ggcrHash(t, hashOf(t, p.armSBOM)))
	if err != nil {
		t.Fatalf("ggcr finds the arm64 SBOM in index.json: %v", err)
	}
	if m, err := sbom.Manifest(); err != nil || m.Subject == nil || m.Subject.Digest.String() != armDigest {
		t.Errorf("arm64 SBOM's subject: %+v %v", m, err)
	}

	// A whole pull, named by its full source name: ggcr finds the index
	// under both name annotations, and every referrer listed.
	whole := filepath.Join(t.TempDir(), "whole")
	runOK(t, "pull", reg.Ref("ggcr/multi:v1"), whole, "--plain-http", "--referrers")
	runOK(t, "verify", whole)
	lp, err = ggcrlayout.FromPath(whole)
	if err != nil {
		t.Fatal(err)
	}
	top, err = lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(top); err != nil {
		t.Errorf("ggcr validate.Index of the whole pull: %v", err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var named bool
	listed := map[string]bool{}
	for _, d := range tm.Manifests {
		listed[d.Digest.String()] = true
		if d.Digest.String() == idxDigest {
			named = d.Annotations[ocispec.AnnotationRefName] == reg.Ref("ggcr/multi:v1") && d.Annotations[layout.AnnotationImageName] == reg.Ref("ggcr/multi:v1")
		}
	}
	if !named {
		t.Errorf("ggcr reads index.json %+v: the index is not named %s in both annotations", tm.Manifests, reg.Ref("ggcr/multi:v1"))
	}
	for _, s := range []v1.Image{p.idxSBOM, p.armSBOM, p.amdSBOM} {
		if !listed[hashOf(t, s)] {
			t.Errorf("whole pull: index.json does not list the referrer %s", hashOf(t, s))
		}
	}
	wi, err := top.ImageIndex(ggcrHash(t, idxDigest))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range p.imgs {
		img, err := wi.Image(ggcrHash(t, hashOf(t, want)))
		if err != nil {
			t.Fatal(err)
		}
		if got := ggcrBlobs(t, img); !slices.Equal(got, ggcrBlobs(t, want)) {
			t.Errorf("whole pull, child %d: %v, want %v", i, got, ggcrBlobs(t, want))
		}
	}

	// copy --platform to a second repository, read back by ggcr: one child,
	// the same digest, valid; its SBOM went along.
	runOK(t, "copy", reg.Ref("ggcr/multi:v1"), reg.Ref("ggcr/arm:v1"), "--plain-http", "--platform", "linux/arm64", "--referrers")
	ri, err := remote.Index(ggcrRef(t, reg.Ref("ggcr/arm:v1")), ropts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(ri); err != nil {
		t.Errorf("ggcr validate.Index of the copied subset: %v", err)
	}
	im, err := ri.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != armDigest {
		t.Fatalf("copied subset lists %v, want only %s", im.Manifests, armDigest)
	}
	rimg, err := remote.Image(ggcrRef(t, reg.Ref("ggcr/arm:v1")), append(ropts, remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(rimg); err != nil {
		t.Errorf("ggcr validate.Image of the copied arm64 child: %v", err)
	}
	if got, want := ggcrBlobs(t, rimg), ggcrBlobs(t, arm); !slices.Equal(got, want) {
		t.Errorf("copied arm64 child's digests %v, want %v", got, want)
	}
	refs := ggcrReferrers(t, reg.Ref("ggcr/arm@"+armDigest))
	if !slices.Equal(refs, []string{hashOf(t, p.armSBOM)}) {
		t.Errorf("ggcr's referrers of the copied arm64 child: %v, want its SBOM %s", refs, hashOf(t, p.armSBOM))
	}

	// copy without --platform: the index digest is identical and every
	// referrer goes along.
	runOK(t, "copy", reg.Ref("ggcr/multi:v1"), reg.Ref("ggcr/all:v1"), "--plain-http", "--referrers")
	wi, err = remote.Index(ggcrRef(t, reg.Ref("ggcr/all:v1")), ropts...)
	if err != nil {
		t.Fatal(err)
	}
	if got := hashOf(t, wi); got != idxDigest {
		t.Errorf("whole copy's index %s, want the source's %s", got, idxDigest)
	}
	if err := validate.Index(wi); err != nil {
		t.Errorf("ggcr validate.Index of the whole copy: %v", err)
	}
	for subj, sbom := range map[string]v1.Image{idxDigest: p.idxSBOM, armDigest: p.armSBOM, hashOf(t, p.imgs[0]): p.amdSBOM} {
		if refs := ggcrReferrers(t, reg.Ref("ggcr/all@"+subj)); !slices.Equal(refs, []string{hashOf(t, sbom)}) {
			t.Errorf("whole copy: referrers of %s: %v, want %s", subj, refs, hashOf(t, sbom))
		}
	}
}

func ggcrHash(t *testing.T, s string) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// ggcrReferrers lists, through ggcr, the referrers of ref (REPO@DIGEST).
func ggcrReferrers(t *testing.T, ref string) []string {
	t.Helper()
	d, err := name.NewDigest(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Referrers(d, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("ggcr Referrers %s: %v", ref, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range m.Manifests {
		out = append(out, r.Digest.String())
	}
	slices.Sort(out)
	return out
}

// TestGGCRReadsExport: an image ggcr pushed, pulled by ocipack under its
// full name and exported to .tar, loads with ggcr's tarball package (the
// docker-load format, by the full name manifest.json gives it); it
// validates and keeps its config and layer digests.
func TestGGCRReadsExport(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	src := ggcrImage(t, 7, v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"})
	if err := remote.Write(ggcrRef(t, reg.Ref("ggcr/single:1.0")), src, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "lay")
	runOK(t, "pull", reg.Ref("ggcr/single:1.0"), dir, "--plain-http")
	full := reg.Ref("ggcr/single:1.0")
	tarPath := filepath.Join(t.TempDir(), "single.tar")
	runOK(t, "export", dir+":"+full, tarPath)

	tag, err := name.NewTag(full, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(tarPath) })
	if err != nil {
		t.Fatalf("ggcr reads manifest.json: %v", err)
	}
	if len(m) != 1 || !slices.Equal(m[0].RepoTags, []string{full}) {
		t.Errorf("manifest.json: %+v, want one image named %s", m, full)
	}
	img, err := tarball.ImageFromPath(tarPath, &tag)
	if err != nil {
		t.Fatalf("ggcr tarball.ImageFromPath: %v", err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("ggcr validate.Image of ocipack's export: %v", err)
	}
	cn, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	want := ggcrBlobs(t, src)
	if cn.String() != want[1] {
		t.Errorf("config %s, want %s", cn, want[1])
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range layers {
		got = append(got, hashOf(t, l))
	}
	if !slices.Equal(got, want[2:]) {
		t.Errorf("layers %v, want %v", got, want[2:])
	}
	// The docker-load reading by the full name finds nothing under another.
	other, _ := name.NewTag(reg.Ref("ggcr/other:1.0"), name.Insecure)
	if _, err := tarball.ImageFromPath(tarPath, &other); err == nil {
		t.Error("ggcr found an image under a name the export does not give")
	}
}

// TestImportGGCRLayout: an OCI layout that ggcr wrote, holding two images
// both tagged 1.27 under different names (as ctr export writes them: the
// tag in org.opencontainers.image.ref.name, the full name in
// io.containerd.image.name; and with the full name in both), tarred,
// imports with both kept under their full names.
func TestImportGGCRLayout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		refName func(full string) string
	}{
		{"ctr export style", func(string) string { return "1.27" }},
		{"full names", func(full string) string { return full }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "ggcr")
			lp, err := ggcrlayout.Write(src, empty.Index)
			if err != nil {
				t.Fatal(err)
			}
			imgs := map[string]v1.Image{
				"docker.io/library/nginx:1.27":     ggcrImage(t, 11, v1.Platform{OS: "linux", Architecture: "amd64"}),
				"registry.example/mirror/web:1.27": ggcrImage(t, 12, v1.Platform{OS: "linux", Architecture: "amd64"}),
			}
			for _, full := range []string{"docker.io/library/nginx:1.27", "registry.example/mirror/web:1.27"} {
				if err := lp.AppendImage(imgs[full], ggcrlayout.WithAnnotations(map[string]string{
					ocispec.AnnotationRefName:  tc.refName(full),
					layout.AnnotationImageName: full,
				})); err != nil {
					t.Fatal(err)
				}
			}
			tarPath := filepath.Join(t.TempDir(), "ggcr.tar")
			tarDir(t, src, tarPath)
			dst := filepath.Join(t.TempDir(), "dst")
			runOK(t, "import", tarPath, dst)
			runOK(t, "verify", dst)
			l := testkit.OpenLayout(t, dst)
			for full, img := range imgs {
				d, err := l.Resolve(t.Context(), full)
				if err != nil {
					t.Errorf("%s after import: %v (tags %v)", full, err, testkit.Tags(t, l))
					continue
				}
				if d.Digest.String() != hashOf(t, img) {
					t.Errorf("%s is %s, want %s", full, d.Digest, hashOf(t, img))
				}
				out := runOK(t, "inspect", dst+":"+full)
				if !strings.Contains(out, hashOf(t, img)) {
					t.Errorf("inspect %s:\n%s", full, out)
				}
			}
			// The plain tag 1.27 names two entries: ambiguous, and says so.
			code, _, errOut := runCLI(t, "inspect", dst+":1.27")
			if code == 0 || !strings.Contains(errOut, "ambiguous") {
				t.Errorf("inspect of the shared plain tag: exit %d: %s", code, errOut)
			}
		})
	}
}

// TestImportGGCRDockerSave: a docker-save style tar that ggcr's tarball
// package wrote (manifest.json, no index.json: docker save's format before
// docker 25) is refused by import with a one-line message saying what it
// is and what import reads; the layout is not created.
func TestImportGGCRDockerSave(t *testing.T) {
	tarPath := filepath.Join(t.TempDir(), "save.tar")
	a := ggcrImage(t, 21, v1.Platform{OS: "linux", Architecture: "amd64"})
	b := ggcrImage(t, 22, v1.Platform{OS: "linux", Architecture: "amd64"})
	refs := map[name.Reference]v1.Image{
		ggcrRef(t, "docker.io/library/nginx:1.27"):     a,
		ggcrRef(t, "registry.example/mirror/web:1.27"): b,
	}
	if err := tarball.MultiRefWriteToFile(tarPath, refs); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	code, _, errOut := runCLI(t, "import", tarPath, dst)
	if code != 1 || !strings.Contains(errOut, "no index.json") || !strings.Contains(errOut, "docker save") || !strings.Contains(errOut, "manifest.json") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("import of a docker save tar without index.json: exit %d: %q", code, errOut)
	}
	t.Logf("refusal: %s", strings.TrimSpace(errOut))
	if _, err := os.Stat(filepath.Join(dst, "index.json")); err == nil {
		t.Error("a refused import left a layout")
	}
}

// tarDir writes the files under dir to a plain tar at path, as tar -cf
// does (names relative to dir).
func tarDir(t *testing.T, dir, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestGGCRReadsPlatformExport: a multi-platform index ggcr pushed, pulled
// whole by ocipack and exported with --platform linux/arm64, loads with
// ggcr's tarball package under the index's full name as the arm64 image
// (manifest.json lists an index of one platform as its image, as
// containerd's export does); exported whole, with three platforms,
// manifest.json lists nothing (docker load could not choose one).
func TestGGCRReadsPlatformExport(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
	p := pushGGCRPeer(t, reg, "ggcr/multi")
	full := reg.Ref("ggcr/multi:v1")
	dir := filepath.Join(t.TempDir(), "w")
	runOK(t, "pull", reg.Ref("ggcr/multi:v1"), dir, "--plain-http")
	opener := func(p string) tarball.Opener { return func() (io.ReadCloser, error) { return os.Open(p) } }

	arm := filepath.Join(t.TempDir(), "arm.tar")
	runOK(t, "export", dir+":"+full, arm, "--platform", "linux/arm64")
	tag, err := name.NewTag(full, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(arm, &tag)
	if err != nil {
		t.Fatalf("ggcr tarball.ImageFromPath of the arm64 export: %v", err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("ggcr validate.Image of the arm64 export: %v", err)
	}
	want := ggcrBlobs(t, p.imgs[1])
	cn, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	got := []string{want[0], cn.String()}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		got = append(got, hashOf(t, l))
	}
	if !slices.Equal(got[1:], want[1:]) {
		t.Errorf("arm64 export: config and layers %v, want %v", got[1:], want[1:])
	}
	if cf, err := img.ConfigFile(); err != nil || cf.Architecture != "arm64" {
		t.Errorf("arm64 export's config: %+v %v", cf, err)
	}

	all := filepath.Join(t.TempDir(), "all.tar")
	runOK(t, "export", dir+":"+full, all)
	if m, err := tarball.LoadManifest(opener(all)); err == nil && len(m) != 0 {
		t.Errorf("a three-platform export lists %+v in manifest.json", m)
	}
}
