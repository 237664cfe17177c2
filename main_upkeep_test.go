package main

// Command-line tests of the upkeep commands: export, import, verify, gc,
// inspect, tag, rm and ls, and of unpack and push reading archives in
// place. Everything goes through run() (the binary only where a real
// process matters) on real files under t.TempDir(). Every identifier here
// starts with "upkeep" (tests with TestUpkeep, TestArchiveCLI, TestVerify…)
// so as not to clash with the other test files of this package.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

// upkeepRun runs the command line in-process with stdin, bounded in time.
func upkeepRun(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	return runCLI(t, 60*time.Second, bytes.NewReader(stdin), args...)
}

// upkeepMustRun runs the command line with stdin and fails the test unless
// it exits 0.
func upkeepMustRun(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	return wantExit0(t, args, upkeepRun(t, stdin, args...))
}

// upkeepWantFail runs the command line and checks its exit status and that
// stderr is one line holding every one of wants.
func upkeepWantFail(t *testing.T, code int, wants []string, args ...string) result {
	t.Helper()
	r := upkeepRun(t, nil, args...)
	wantFailure(t, args, r, code, wants...)
	return r
}

// upkeepExample is what most tests pack: a directory, a tarball and a chart.
var upkeepExample = []string{
	filepath.Join(example, "site"),
	filepath.Join(example, "app-1.0.tar"),
	filepath.Join(example, "hello-0.1.0.tgz"),
}

// upkeepPackExample packs upkeepExample into lay as tag and returns the
// manifest digest.
func upkeepPackExample(t *testing.T, lay, tag string) string {
	t.Helper()
	return packedDigest(t, mustRun(t, append([]string{"pack", lay + ":" + tag}, upkeepExample...)...))
}

// upkeepAssertExample checks that dir holds exactly upkeepExample: bytes,
// types, link targets and permissions.
func upkeepAssertExample(t *testing.T, dir string) {
	t.Helper()
	testkit.SameTree(t, dir, testkit.SnapshotPaths(t, upkeepExample...), testkit.Snapshot(t, dir), testkit.ContentPerm)
}

// upkeepUnpackExample unpacks ref into a new directory and checks that it
// is the example.
func upkeepUnpackExample(t *testing.T, ref string) {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "out")
	r := mustRun(t, "unpack", ref, "-o", dest)
	if !strings.Contains(r.stdout, "3 item(s)") {
		t.Errorf("unpack %s printed %q", ref, r.stdout)
	}
	upkeepAssertExample(t, dest)
}

// upkeepEntry is one entry of `ocipack ls --json`.
type upkeepEntry struct {
	Tag          string `json:"tag"`
	Digest       string `json:"digest"`
	MediaType    string `json:"mediaType"`
	ArtifactType string `json:"artifactType"`
	Size         int64  `json:"size"`
	Created      string `json:"created"`
	Files        int    `json:"files"`
	Error        string `json:"error"`
}

// upkeepLs returns `ocipack ls LAYOUT --json`, raw and parsed; it must
// exit 0.
func upkeepLs(t *testing.T, lay string) (string, []upkeepEntry) {
	t.Helper()
	r := mustRun(t, "ls", lay, "--json")
	var es []upkeepEntry
	if err := json.Unmarshal([]byte(r.stdout), &es); err != nil {
		t.Fatalf("ls --json is not JSON: %v\n%s", err, r.stdout)
	}
	return r.stdout, es
}

// upkeepTags returns the tags `ocipack ls --json` lists, with their digests.
func upkeepTags(t *testing.T, lay string) map[string]string {
	t.Helper()
	_, es := upkeepLs(t, lay)
	m := map[string]string{}
	for _, e := range es {
		m[e.Tag] = e.Digest
	}
	return m
}

// upkeepManifestBlobs returns the digests of a tag's config and layers.
func upkeepManifestBlobs(t *testing.T, lay, tag string) []string {
	t.Helper()
	_, m := testkit.Manifest(t, testkit.OpenLayout(t, lay), tag)
	out := []string{m.Config.Digest.String()}
	for _, d := range m.Layers {
		out = append(out, d.Digest.String())
	}
	return out
}

// upkeepThreeTags makes a layout with v1 (the example), v2 (app-1.0.tar
// alone, a layer shared with v1) and old (hello-0.1.0.tgz alone), and
// returns it with the digests of its tags.
func upkeepThreeTags(t *testing.T) (string, map[string]string) {
	t.Helper()
	lay := filepath.Join(t.TempDir(), "L")
	tags := map[string]string{"v1": upkeepPackExample(t, lay, "v1")}
	tags["v2"] = packedDigest(t, mustRun(t, "pack", lay+":v2", filepath.Join(example, "app-1.0.tar")))
	tags["old"] = packedDigest(t, mustRun(t, "pack", lay+":old", filepath.Join(example, "hello-0.1.0.tgz")))
	return lay, tags
}

// TestUpkeepExportImportRoundTrip: export of a layout, import into a new
// one, same tags, same bytes; plain tar and .tar.zst; a subset of tags.
func TestUpkeepExportImportRoundTrip(t *testing.T) {
	lay, tags := upkeepThreeTags(t)
	work := t.TempDir()
	wantLs, _ := upkeepLs(t, lay)

	for _, name := range []string{"bundle.tar", "bundle.tar.zst"} {
		t.Run(name, func(t *testing.T) {
			arc := filepath.Join(work, name)
			r := mustRun(t, "export", lay, arc)
			if !strings.Contains(r.stdout, "exported 3 tag(s)") || !strings.Contains(r.stdout, arc) {
				t.Errorf("export printed %q", r.stdout)
			}
			b := testkit.ReadFile(t, arc)
			zstdMagic := []byte{0x28, 0xb5, 0x2f, 0xfd}
			if strings.HasSuffix(name, ".zst") {
				if !bytes.HasPrefix(b, zstdMagic) {
					t.Errorf("%s does not start with the zstd magic: % x", name, b[:8])
				}
				plain, err := os.Stat(filepath.Join(work, "bundle.tar"))
				if err != nil {
					t.Fatal(err)
				}
				if int64(len(b)) >= plain.Size() {
					t.Errorf("%s has %d bytes, the plain tar %d: not compressed", name, len(b), plain.Size())
				}
			} else if len(b) < 512 || string(b[257:262]) != "ustar" {
				t.Errorf("%s is not a tar", name)
			}
			dst := filepath.Join(work, "imported-"+name)
			r = mustRun(t, "import", arc, dst)
			if !strings.Contains(r.stdout, "tags: old, v1, v2") {
				t.Errorf("import printed %q", r.stdout)
			}
			if got, _ := upkeepLs(t, dst); got != wantLs {
				t.Errorf("ls --json of the import:\n%s\nwant:\n%s", got, wantLs)
			}
			upkeepUnpackExample(t, dst+":v1")
			mustRun(t, "verify", dst)

			// Importing again stores nothing and skips every blob.
			r = mustRun(t, "import", arc, dst)
			if !strings.Contains(r.stdout, "imported 0 blob(s)") || !strings.Contains(r.stdout, "7 skipped") {
				t.Errorf("second import printed %q", r.stdout)
			}
		})
	}

	t.Run("some tags", func(t *testing.T) {
		arc := filepath.Join(work, "some.tar")
		r := mustRun(t, "export", lay+":v1,v2", arc)
		if !strings.Contains(r.stdout, "exported 2 tag(s)") {
			t.Errorf("export printed %q", r.stdout)
		}
		dst := filepath.Join(work, "some")
		mustRun(t, "import", arc, dst)
		got := upkeepTags(t, dst)
		want := map[string]string{"v1": tags["v1"], "v2": tags["v2"]}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("tags of the import %v, want %v", got, want)
		}
		// old's manifest was not exported.
		if _, err := os.Stat(testkit.BlobPath(dst, tags["old"])); err == nil {
			t.Errorf("the manifest of old, which was not exported, was imported")
		}
		upkeepUnpackExample(t, dst+":v1")
	})

	t.Run("a missing tag", func(t *testing.T) {
		arc := filepath.Join(work, "none.tar")
		upkeepWantFail(t, 1, []string{"nope"}, "export", lay+":v1,nope", arc)
		if matches, _ := filepath.Glob(arc + "*"); len(matches) != 0 {
			t.Errorf("a failed export left %v", matches)
		}
	})
}

// TestUpkeepExportImportStdio: `export L -` writes the archive to stdout
// and its summary to stderr; `import - L` reads it from stdin.
func TestUpkeepExportImportStdio(t *testing.T) {
	lay, _ := upkeepThreeTags(t)
	wantLs, _ := upkeepLs(t, lay)
	file := filepath.Join(t.TempDir(), "file.tar")
	mustRun(t, "export", lay, file)

	r := mustRun(t, "export", lay, "-")
	if !strings.Contains(r.stderr, "exported 3 tag(s)") {
		t.Errorf("export - wrote no summary to stderr: %q", r.stderr)
	}
	fromFile := testkit.ReadFile(t, file)
	if !bytes.Equal([]byte(r.stdout), fromFile) {
		t.Errorf("export - wrote %d bytes, not the %d of the archive file", len(r.stdout), len(fromFile))
	}

	dst := filepath.Join(t.TempDir(), "L3")
	r = upkeepMustRun(t, []byte(r.stdout), "import", "-", dst)
	if !strings.Contains(r.stdout, "tags: old, v1, v2") {
		t.Errorf("import - printed %q", r.stdout)
	}
	if got, _ := upkeepLs(t, dst); got != wantLs {
		t.Errorf("ls --json after import -:\n%s\nwant:\n%s", got, wantLs)
	}
	upkeepUnpackExample(t, dst+":v1")

	// --split writes files, so not to stdout.
	upkeepWantFail(t, 2, []string{"--split"}, "export", lay, "-", "--split", "8K")
	// - is the only archive when given.
	upkeepWantFail(t, 2, []string{"- (standard input)"}, "import", "-", file, filepath.Join(t.TempDir(), "x"))

	// A damaged stream leaves the target as it was, and creates none.
	app := testkit.ReadFile(t, filepath.Join(example, "app-1.0.tar"))
	bad := bytes.Clone(fromFile)
	at := bytes.Index(bad, app)
	if at < 0 {
		t.Fatal("the archive does not hold app-1.0.tar's bytes")
	}
	bad[at+100] ^= 1
	appDigest := digest.FromBytes(app).String()
	target := filepath.Join(t.TempDir(), "target")
	mustRun(t, "pack", target+":mine", filepath.Join(example, "site", "bin", "deploy.sh"))
	before := testkit.Snapshot(t, target)
	empty := t.TempDir()
	for _, tc := range []struct {
		name  string
		stdin []byte
		wants []string
	}{
		{"tampered", bad, []string{appDigest}},
		{"empty", nil, []string{"empty"}},
		{"cut short", fromFile[:len(fromFile)/2], []string{"truncated"}},
	} {
		fresh := filepath.Join(t.TempDir(), "fresh")
		for _, dst := range []string{target, fresh, empty} {
			r := upkeepRun(t, tc.stdin, "import", "-", dst)
			if r.code != 1 {
				t.Errorf("%s stream into %s: exit %d, want 1\n%s%s", tc.name, dst, r.code, r.stdout, r.stderr)
				continue
			}
			oneStderrLine(t, r, tc.wants...)
		}
		testkit.SameTree(t, tc.name+" stream", before, testkit.Snapshot(t, target), testkit.Content)
		if _, err := os.Stat(fresh); err == nil {
			t.Errorf("a failed import - created %s", fresh)
		}
		if entries, err := os.ReadDir(empty); err != nil || len(entries) != 0 {
			t.Errorf("a failed import - left %d entries in an empty directory (%v)", len(entries), err)
		}
	}
}

// TestArchiveCLISplit: --split writes volumes of at most SIZE; import takes
// them in any order, refuses a missing one naming it, and leaves the
// target as it was; verify checks one volume on its own.
func TestArchiveCLISplit(t *testing.T) {
	lay, _ := upkeepThreeTags(t)
	wantLs, _ := upkeepLs(t, lay)
	work := t.TempDir()
	base := filepath.Join(work, "bundle.tar")

	r := mustRun(t, "export", lay, base, "--split", "8K")
	vols, err := filepath.Glob(base + ".*")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(vols)
	if len(vols) < 3 {
		t.Fatalf("--split 8K of ~26 KiB wrote %v, want at least 3 volumes", vols)
	}
	for i, v := range vols {
		if want := fmt.Sprintf("%s.%03d", base, i+1); v != want {
			t.Errorf("volume %d is %s, want %s", i+1, v, want)
		}
		fi, err := os.Stat(v)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 8192 {
			t.Errorf("%s has %d bytes, more than 8K", v, fi.Size())
		}
		if !strings.Contains(r.stdout, "  "+v+"\n") {
			t.Errorf("export output does not list %s: %q", v, r.stdout)
		}
	}
	if _, err := os.Stat(base); err == nil {
		t.Errorf("--split also wrote %s", base)
	}

	t.Run("shuffled", func(t *testing.T) {
		shuffled := slices.Clone(vols)
		slices.Reverse(shuffled)
		shuffled[0], shuffled[1] = shuffled[1], shuffled[0]
		dst := filepath.Join(t.TempDir(), "L2")
		mustRun(t, append(append([]string{"import"}, shuffled...), dst)...)
		if got, _ := upkeepLs(t, dst); got != wantLs {
			t.Errorf("ls --json after import:\n%s\nwant:\n%s", got, wantLs)
		}
		upkeepUnpackExample(t, dst+":v1")
	})

	t.Run("first volume finds the rest", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "L2")
		mustRun(t, "import", vols[0], dst)
		if got, _ := upkeepLs(t, dst); got != wantLs {
			t.Errorf("ls --json after import:\n%s\nwant:\n%s", got, wantLs)
		}
	})

	t.Run("verify one volume", func(t *testing.T) {
		r := mustRun(t, "verify", vols[2])
		want := fmt.Sprintf("volume 3 of %d of archive sha256:", len(vols))
		if !strings.Contains(r.stdout, want) || !strings.HasSuffix(r.stdout, ": ok\n") {
			t.Errorf("verify %s printed %q, want %q … ok", vols[2], r.stdout, want)
		}
		r = mustRun(t, "verify", vols[2], "--json")
		var v struct {
			Volume, Volumes int
			Digest          string
		}
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Volume != 3 || v.Volumes != len(vols) || !strings.HasPrefix(v.Digest, "sha256:") {
			t.Errorf("verify --json: %+v, %v\n%s", v, err, r.stdout)
		}
		// A damaged copy of it fails, naming it.
		bad := filepath.Join(t.TempDir(), "copy.tar.003")
		b := testkit.ReadFile(t, vols[2])
		testkit.WriteFile(t, bad, b)
		testkit.FlipByte(t, bad, 1000)
		upkeepWantFail(t, 1, []string{bad}, "verify", bad)
	})

	t.Run("missing volume", func(t *testing.T) {
		// The target holds something already: it must stay as it was.
		dst := filepath.Join(t.TempDir(), "target")
		mustRun(t, "pack", dst+":mine", filepath.Join(example, "site", "bin", "deploy.sh"))
		before := testkit.Snapshot(t, dst)
		index := testkit.ReadFile(t, filepath.Join(dst, "index.json"))
		// Move volume 3 away.
		aside := filepath.Join(t.TempDir(), "aside")
		if err := os.Rename(vols[2], aside); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := os.Rename(aside, vols[2]); err != nil {
				t.Fatal(err)
			}
		}()
		rest := slices.Concat(vols[3:], vols[:2])
		for _, args := range [][]string{
			append(append([]string{"import"}, rest...), dst),
			{"import", vols[0], dst},
			{"import", base, dst},
		} {
			upkeepWantFail(t, 1, []string{"missing volume", filepath.Base(vols[2])}, args...)
			testkit.SameTree(t, strings.Join(args, " "), before, testkit.Snapshot(t, dst), testkit.Content)
			if got, err := os.ReadFile(filepath.Join(dst, "index.json")); err != nil || !bytes.Equal(got, index) {
				t.Errorf("index.json changed: %s, %v", got, err)
			}
		}
		if got := upkeepTags(t, dst); len(got) != 1 || got["mine"] == "" {
			t.Errorf("target tags after failed imports: %v", got)
		}
		// Into a new directory: it is not created.
		fresh := filepath.Join(t.TempDir(), "fresh")
		upkeepWantFail(t, 1, []string{filepath.Base(vols[2])}, "import", vols[0], fresh)
		if _, err := os.Stat(fresh); err == nil {
			t.Errorf("a failed import created %s", fresh)
		}
	})

	t.Run("bad size", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "x.tar")
		upkeepWantFail(t, 2, []string{"4X"}, "export", lay, other, "--split", "4X")
		if m, _ := filepath.Glob(other + "*"); len(m) != 0 {
			t.Errorf("a usage error wrote %v", m)
		}
	})
}

// TestUpkeepImportTampered: a flipped byte in a blob of the archive fails
// the import, naming the blob, and leaves the target as it was.
func TestUpkeepImportTampered(t *testing.T) {
	lay, _ := upkeepThreeTags(t)
	arc := filepath.Join(t.TempDir(), "bundle.tar")
	mustRun(t, "export", lay, arc)
	app := testkit.ReadFile(t, filepath.Join(example, "app-1.0.tar"))
	appDigest := digest.FromBytes(app).String()
	b := testkit.ReadFile(t, arc)
	at := bytes.Index(b, app)
	if at < 0 {
		t.Fatalf("the archive does not hold app-1.0.tar's bytes")
	}
	testkit.FlipByte(t, arc, int64(at+5000))

	dst := filepath.Join(t.TempDir(), "target")
	mustRun(t, "pack", dst+":mine", filepath.Join(example, "site", "bin", "deploy.sh"))
	before := testkit.Snapshot(t, dst)
	upkeepWantFail(t, 1, []string{appDigest, "tampered"}, "import", arc, dst)
	testkit.SameTree(t, "target after a tampered import", before, testkit.Snapshot(t, dst), testkit.Content)

	fresh := filepath.Join(t.TempDir(), "fresh")
	upkeepWantFail(t, 1, []string{appDigest}, "import", arc, fresh)
	if _, err := os.Stat(fresh); err == nil {
		t.Errorf("a failed import created %s", fresh)
	}
	// Unpacking it in place fails too, and writes nothing.
	out := filepath.Join(t.TempDir(), "out")
	upkeepWantFail(t, 1, []string{appDigest}, "unpack", arc+":v1", "-o", out)
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("a failed unpack wrote %d entries", len(entries))
	}
}

// TestUpkeepExportSince: a delta against an earlier archive is smaller,
// completes a layout that holds the earlier archive, and is refused,
// naming what is missing, anywhere else.
func TestUpkeepExportSince(t *testing.T) {
	work := t.TempDir()
	lay := filepath.Join(work, "L")
	oldDigest := packedDigest(t, mustRun(t, "pack", lay+":old", filepath.Join(example, "hello-0.1.0.tgz")))
	old := filepath.Join(work, "OLD.tar")
	mustRun(t, "export", lay, old)
	oldBlobs := append(upkeepManifestBlobs(t, lay, "old"), oldDigest)

	upkeepPackExample(t, lay, "v1")
	mustRun(t, "pack", lay+":v2", filepath.Join(example, "site", "bin", "deploy.sh"), filepath.Join(example, "hello-0.1.0.tgz"))
	wantLs, wantEntries := upkeepLs(t, lay)

	delta := filepath.Join(work, "DELTA.tar")
	r := mustRun(t, "export", lay, delta, "--since", old)
	if !strings.Contains(r.stdout, fmt.Sprintf("(%d blob(s) left out", len(oldBlobs))) {
		t.Errorf("export --since printed %q, want %d blob(s) left out", r.stdout, len(oldBlobs))
	}
	full := filepath.Join(work, "FULL.tar")
	mustRun(t, "export", lay, full)
	df, _ := os.Stat(delta)
	ff, _ := os.Stat(full)
	if df.Size() >= ff.Size() {
		t.Errorf("delta has %d bytes, the full archive %d", df.Size(), ff.Size())
	}

	// Into a layout that holds OLD: every tag completes.
	dst := filepath.Join(work, "M")
	mustRun(t, "import", old, dst)
	r = mustRun(t, "import", delta, dst)
	if !strings.Contains(r.stdout, "tags: old, v1, v2") {
		t.Errorf("import of the delta printed %q", r.stdout)
	}
	if got, _ := upkeepLs(t, dst); got != wantLs {
		t.Errorf("ls --json after the delta:\n%s\nwant:\n%s", got, wantLs)
	}
	for _, e := range wantEntries {
		out := filepath.Join(t.TempDir(), e.Tag)
		mustRun(t, "unpack", dst+":"+e.Tag, "-o", out)
		switch e.Tag {
		case "v1":
			upkeepAssertExample(t, out)
		case "v2":
			testkit.CompareFiles(t, filepath.Join(example, "site", "bin", "deploy.sh"), filepath.Join(out, "deploy.sh"))
			testkit.CompareFiles(t, filepath.Join(example, "hello-0.1.0.tgz"), filepath.Join(out, "hello-0.1.0.tgz"))
		case "old":
			testkit.CompareFiles(t, filepath.Join(example, "hello-0.1.0.tgz"), filepath.Join(out, "hello-0.1.0.tgz"))
		}
	}
	mustRun(t, "verify", dst)

	// A delta against a layout (rather than an archive) works the same.
	delta2 := filepath.Join(work, "DELTA2.tar")
	mustRun(t, "export", lay+":v1", delta2, "--since", dst)
	r = mustRun(t, "import", delta2, dst)
	if !strings.Contains(r.stdout, "imported 0 blob(s)") {
		t.Errorf("import of a delta against the target itself printed %q", r.stdout)
	}

	// Into an empty layout: refused, naming every blob it lacks.
	empty := filepath.Join(work, "empty")
	wants := append([]string{"incomplete delta", fmt.Sprintf("%d blob(s)", len(oldBlobs))}, oldBlobs...)
	upkeepWantFail(t, 1, wants, "import", delta, empty)
	if _, err := os.Stat(empty); err == nil {
		t.Errorf("a refused import created %s", empty)
	}
	// --since of something that is neither archive nor layout.
	upkeepWantFail(t, 1, []string{"--since", "nowhere"}, "export", lay, filepath.Join(work, "x.tar"), "--since", filepath.Join(work, "nowhere"))
}

// TestArchiveCLIReadInPlace: unpack and push read an archive, compressed or
// split, without importing it.
func TestArchiveCLIReadInPlace(t *testing.T) {
	lay, tags := upkeepThreeTags(t)
	work := t.TempDir()
	plain := filepath.Join(work, "bundle.tar")
	zst := filepath.Join(work, "bundle.tar.zst")
	split := filepath.Join(work, "split.tar")
	mustRun(t, "export", lay, plain)
	mustRun(t, "export", lay, zst)
	mustRun(t, "export", lay, split, "--split", "8K")

	for _, ref := range []string{plain + ":v1", zst + ":v1", split + ".001:v1", split + ":v1", plain + "@" + tags["v1"]} {
		t.Run(filepath.Base(ref), func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "out")
			r := mustRun(t, "unpack", ref, "-o", dest)
			if !strings.Contains(r.stdout, tags["v1"]) {
				t.Errorf("unpack printed %q, want the digest %s", r.stdout, tags["v1"])
			}
			upkeepAssertExample(t, dest)
		})
	}
	// An archive with several tags needs one named.
	upkeepWantFail(t, 2, []string{"3 tags"}, "unpack", plain, "-o", filepath.Join(work, "o"))
	upkeepWantFail(t, 1, []string{"nope"}, "unpack", zst+":nope", "-o", filepath.Join(work, "o"))

	t.Run("push", func(t *testing.T) {
		t.Setenv("DOCKER_CONFIG", t.TempDir())
		reg := testkit.StartRegistry(t, testkit.RegistryOptions{})
		repo := reg.Host + "/upkeep/bundle"
		for _, src := range []string{zst + ":v1", split + ".002:v2"} {
			r := mustRun(t, "push", src, repo, "--plain-http", "-q")
			tag := src[strings.LastIndex(src, ":")+1:]
			if !strings.Contains(r.stdout, tags[tag]) || !strings.Contains(r.stdout, "-> "+repo+":"+tag) {
				t.Errorf("push %s printed %q", src, r.stdout)
			}
		}
		back := filepath.Join(t.TempDir(), "back")
		// Explicit LAYOUT:TAG: plain tags (without one, full names).
		mustRun(t, "pull", repo+":v1", back+":v1", "--plain-http", "-q")
		mustRun(t, "pull", repo+":v2", back+":v2", "--plain-http", "-q")
		got := upkeepTags(t, back)
		if got["v1"] != tags["v1"] || got["v2"] != tags["v2"] || len(got) != 2 {
			t.Errorf("pulled back %v, want v1 %s and v2 %s", got, tags["v1"], tags["v2"])
		}
		upkeepUnpackExample(t, back+":v1")
		mustRun(t, "verify", back)
	})
}

// upkeepCopyLayout copies a layout into a new directory.
func upkeepCopyLayout(t *testing.T, lay string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	copyTree(t, lay, dst)
	return dst
}

var upkeepSummaryRE = regexp.MustCompile(`(?m)^(\d+) tag\(s\), (\d+) manifest\(s\), (\d+) blob\(s\), .* checked: (\d+) problem\(s\), (\d+) warning\(s\)\n\z`)

// TestVerifyCLI: a sound layout passes; each kind of damage fails, listed
// with its digest; --json; --fast; unreferenced blobs only warn.
func TestVerifyCLI(t *testing.T) {
	lay, tags := upkeepThreeTags(t)
	appDigest := testkit.FileDigest(t, filepath.Join(example, "app-1.0.tar")).String()

	r := mustRun(t, "verify", lay)
	m := upkeepSummaryRE.FindStringSubmatch(r.stdout)
	if m == nil || m[1] != "3" || m[2] != "3" || m[3] != "7" || m[4] != "0" || m[5] != "0" {
		t.Errorf("verify of a sound layout printed %q", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("verify of a sound layout wrote to stderr: %q", r.stderr)
	}
	mustRun(t, "verify", lay, "--fast")

	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, lay string)
		wants  []string // in the problem line
		blob   string   // the digest the problem names ("" for index.json)
		fast   bool     // --fast finds it too
	}{
		{"missing blob", func(t *testing.T, lay string) {
			if err := os.Remove(testkit.BlobPath(lay, appDigest)); err != nil {
				t.Fatal(err)
			}
		}, []string{"missing", strings.TrimPrefix(appDigest, "sha256:"), tags["v1"]}, appDigest, true},
		{"flipped byte", func(t *testing.T, lay string) {
			testkit.FlipByte(t, testkit.BlobPath(lay, appDigest), 4321)
		}, []string{"digest", strings.TrimPrefix(appDigest, "sha256:")}, appDigest, false},
		{"truncated blob", func(t *testing.T, lay string) {
			if err := os.Truncate(testkit.BlobPath(lay, appDigest), 5000); err != nil {
				t.Fatal(err)
			}
		}, []string{"size", strings.TrimPrefix(appDigest, "sha256:"), "5000"}, appDigest, true},
		{"truncated manifest", func(t *testing.T, lay string) {
			if err := os.Truncate(testkit.BlobPath(lay, tags["old"]), 100); err != nil {
				t.Fatal(err)
			}
		}, []string{strings.TrimPrefix(tags["old"], "sha256:")}, tags["old"], true},
		{"broken index.json", func(t *testing.T, lay string) {
			testkit.WriteFile(t, filepath.Join(lay, "index.json"), []byte(`{"schemaVersion":2,"manifests":[`))
		}, []string{"corrupt-index", "index.json"}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := upkeepCopyLayout(t, lay)
			tc.damage(t, bad)
			r := upkeepRun(t, nil, "verify", bad)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			oneStderrLine(t, r, "problems found: 1 in layout", bad)
			var problems []string
			for line := range strings.Lines(r.stdout) {
				if strings.HasPrefix(line, "problem: ") {
					problems = append(problems, line)
				}
			}
			if len(problems) != 1 {
				t.Errorf("%d problem lines, want 1:\n%s", len(problems), r.stdout)
			} else {
				for _, w := range tc.wants {
					if !strings.Contains(problems[0], w) {
						t.Errorf("problem line %q does not name %q", problems[0], w)
					}
				}
			}
			if m := upkeepSummaryRE.FindStringSubmatch(r.stdout); m == nil || m[4] != "1" {
				t.Errorf("no summary line with 1 problem:\n%s", r.stdout)
			}

			r = upkeepRun(t, nil, "verify", bad, "--json")
			if r.code != 1 {
				t.Errorf("--json: exit %d, want 1", r.code)
			}
			var rep struct {
				Problems []struct {
					Digest, Path, Kind, Detail string
				} `json:"problems"`
				Warnings []json.RawMessage `json:"warnings"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("verify --json is not JSON: %v\n%s", err, r.stdout)
			}
			if len(rep.Problems) != 1 {
				t.Fatalf("verify --json: %d problems, want 1:\n%s", len(rep.Problems), r.stdout)
			}
			p := rep.Problems[0]
			if tc.blob == "" {
				if p.Path != "index.json" || p.Kind != "corrupt-index" {
					t.Errorf("problem %+v", p)
				}
			} else if p.Digest != tc.blob || p.Path != "blobs/sha256/"+strings.TrimPrefix(tc.blob, "sha256:") {
				t.Errorf("problem %+v does not name %s", p, tc.blob)
			}

			r = upkeepRun(t, nil, "verify", bad, "--fast")
			if want := map[bool]int{true: 1, false: 0}[tc.fast]; r.code != want {
				t.Errorf("--fast: exit %d, want %d\n%s", r.code, want, r.stdout)
			}
		})
	}

	t.Run("unreferenced blob", func(t *testing.T) {
		l := upkeepCopyLayout(t, lay)
		mustRun(t, "rm", l+":old")
		r := mustRun(t, "verify", l)
		var warnings []string
		for line := range strings.Lines(r.stdout) {
			if strings.HasPrefix(line, "warning: ") {
				warnings = append(warnings, line)
			}
			if strings.HasPrefix(line, "problem: ") {
				t.Errorf("a problem after rm: %q", line)
			}
		}
		// old's manifest; its layer (hello) and config are v1's too.
		if len(warnings) != 1 || !strings.Contains(warnings[0], "unreferenced") || !strings.Contains(warnings[0], strings.TrimPrefix(tags["old"], "sha256:")) {
			t.Errorf("warnings %q, want one naming old's manifest %s", warnings, tags["old"])
		}
		if m := upkeepSummaryRE.FindStringSubmatch(r.stdout); m == nil || m[4] != "0" || m[5] != "1" {
			t.Errorf("summary:\n%s", r.stdout)
		}
	})

	t.Run("usage", func(t *testing.T) {
		upkeepWantFail(t, 2, []string{"verify"}, "verify")
		upkeepWantFail(t, 1, []string{"nowhere"}, "verify", filepath.Join(t.TempDir(), "nowhere"))
	})
}

// upkeepRemovedRE matches a line of gc's: verb, digest, size.
var upkeepRemovedRE = regexp.MustCompile(`^(would remove|removed) (sha256:[0-9a-f]{64}) (.+)$`)

// upkeepGCLines splits gc's output into the blob lines (digest → size) and
// the summary.
func upkeepGCLines(t *testing.T, out, verb string) (map[string]string, string) {
	t.Helper()
	blobs := map[string]string{}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, line := range lines[:len(lines)-1] {
		m := upkeepRemovedRE.FindStringSubmatch(line)
		if m == nil || m[1] != verb {
			t.Errorf("not a %q line: %q", verb, line)
			continue
		}
		blobs[m[2]] = m[3]
	}
	return blobs, lines[len(lines)-1]
}

// TestGCCLI: after rm, gc --dry-run lists what gc then removes; what a kept
// tag reaches stays; temporary files go; a broken layout is left alone.
func TestGCCLI(t *testing.T) {
	work := t.TempDir()
	lay := filepath.Join(work, "L")
	v1 := upkeepPackExample(t, lay, "v1")
	only := filepath.Join(work, "only-old.txt")
	testkit.WriteFile(t, only, []byte("only the old tag has this\n"))
	oldDigest := packedDigest(t, mustRun(t, "pack", lay+":old", only, filepath.Join(example, "app-1.0.tar")))
	onlyDigest := testkit.FileDigest(t, only).String()
	appDigest := testkit.FileDigest(t, filepath.Join(example, "app-1.0.tar")).String()

	// Nothing to collect yet.
	r := mustRun(t, "gc", lay, "--dry-run")
	if r.stdout != "would remove 0 blob(s) and 0 temporary file(s): 0 B freed\n" {
		t.Errorf("gc --dry-run of a clean layout printed %q", r.stdout)
	}

	mustRun(t, "rm", lay+":old")
	tmp := filepath.Join(lay, layout.WorkDir, "tmp", "leftover-upkeep")
	testkit.WriteFile(t, tmp, []byte("half a blob"))
	before := testkit.Snapshot(t, lay)

	r = mustRun(t, "gc", lay, "--dry-run")
	would, drySummary := upkeepGCLines(t, r.stdout, "would remove")
	if len(would) != 2 || would[oldDigest] == "" || would[onlyDigest] == "" {
		t.Errorf("gc --dry-run lists %v, want old's manifest %s and its own layer %s", would, oldDigest, onlyDigest)
	}
	if !strings.HasPrefix(drySummary, "would remove 2 blob(s) and 1 temporary file(s): ") {
		t.Errorf("gc --dry-run summary %q", drySummary)
	}
	testkit.SameTree(t, "after gc --dry-run", before, testkit.Snapshot(t, lay), testkit.Content)

	r = mustRun(t, "gc", lay, "--dry-run", "--json")
	var rep struct {
		Removed []struct {
			Digest, Path string
			Size         int64
		} `json:"removed"`
		BytesFreed int64 `json:"bytesFreed"`
		TempFiles  int   `json:"tempFiles"`
		DryRun     bool  `json:"dryRun"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("gc --json is not JSON: %v\n%s", err, r.stdout)
	}
	var sum int64
	for _, x := range rep.Removed {
		fi, err := os.Stat(filepath.Join(lay, filepath.FromSlash(x.Path)))
		if err != nil || fi.Size() != x.Size || would[x.Digest] == "" {
			t.Errorf("gc --json entry %+v: file %v, %v", x, fi, err)
		}
		sum += x.Size
	}
	if !rep.DryRun || len(rep.Removed) != 2 || rep.TempFiles != 1 || rep.BytesFreed != sum+int64(len("half a blob")) {
		t.Errorf("gc --dry-run --json: %+v", rep)
	}

	r = mustRun(t, "gc", lay)
	removed, summary := upkeepGCLines(t, r.stdout, "removed")
	if fmt.Sprint(removed) != fmt.Sprint(would) {
		t.Errorf("gc removed %v; --dry-run said %v", removed, would)
	}
	if upkeepAsDryRun(summary) != drySummary {
		t.Errorf("gc summary %q; --dry-run said %q", summary, drySummary)
	}
	for d := range would {
		if _, err := os.Stat(testkit.BlobPath(lay, d)); err == nil {
			t.Errorf("gc left %s", d)
		}
	}
	if _, err := os.Stat(tmp); err == nil {
		t.Errorf("gc left the temporary file")
	}
	// What v1 reaches, app-1.0.tar's layer among it (shared with old), stays.
	for _, d := range append(upkeepManifestBlobs(t, lay, "v1"), v1, appDigest) {
		if _, err := os.Stat(testkit.BlobPath(lay, d)); err != nil {
			t.Errorf("gc removed %s, which v1 reaches: %v", d, err)
		}
	}
	r = mustRun(t, "verify", lay)
	if m := upkeepSummaryRE.FindStringSubmatch(r.stdout); m == nil || m[4] != "0" || m[5] != "0" {
		t.Errorf("verify after gc:\n%s", r.stdout)
	}
	upkeepUnpackExample(t, lay+":v1")

	// Again: nothing left to do.
	r = mustRun(t, "gc", lay, "--json")
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Removed) != 0 || rep.DryRun || rep.TempFiles != 0 {
		t.Errorf("second gc --json: %+v, %v\n%s", rep, err, r.stdout)
	}

	t.Run("broken index.json", func(t *testing.T) {
		bad := upkeepCopyLayout(t, lay)
		mustRun(t, "rm", bad+":v1") // everything would go, were the index readable
		testkit.WriteFile(t, filepath.Join(bad, "index.json"), []byte("{broken"))
		before := testkit.Snapshot(t, bad)
		for _, args := range [][]string{{"gc", bad}, {"gc", bad, "--dry-run"}, {"gc", bad, "--json"}} {
			upkeepWantFail(t, 1, []string{"ocipack verify", "nothing was removed"}, args...)
			testkit.SameTree(t, strings.Join(args, " "), before, testkit.Snapshot(t, bad), testkit.Content)
		}
	})

	t.Run("missing manifest", func(t *testing.T) {
		bad := upkeepCopyLayout(t, lay)
		mustRun(t, "pack", bad+":extra", only)
		if err := os.Remove(testkit.BlobPath(bad, v1)); err != nil {
			t.Fatal(err)
		}
		before := testkit.Snapshot(t, bad)
		upkeepWantFail(t, 1, []string{"ocipack verify", strings.TrimPrefix(v1, "sha256:")}, "gc", bad)
		testkit.SameTree(t, "gc with a missing manifest", before, testkit.Snapshot(t, bad), testkit.Content)
	})

	t.Run("usage", func(t *testing.T) {
		upkeepWantFail(t, 2, []string{"gc"}, "gc")
		upkeepWantFail(t, 1, []string{"nowhere"}, "gc", filepath.Join(work, "nowhere"))
	})
}

// upkeepAsDryRun turns gc's summary line into the one --dry-run prints.
func upkeepAsDryRun(s string) string {
	return "would remove" + strings.TrimPrefix(s, "removed")
}

// TestTagRmCLI: tag adds tags at the artifact's digest; rm removes them and
// leaves the blobs to what remains.
func TestTagRmCLI(t *testing.T) {
	lay := filepath.Join(t.TempDir(), "L")
	v1 := upkeepPackExample(t, lay, "v1")

	r := mustRun(t, "tag", lay+":v1", "a", "b")
	if strings.Count(r.stdout, "tagged ") != 2 || !strings.Contains(r.stdout, lay+":a -> "+v1) || !strings.Contains(r.stdout, lay+":b -> "+v1) {
		t.Errorf("tag printed %q", r.stdout)
	}
	want := map[string]string{"a": v1, "b": v1, "v1": v1}
	if got := upkeepTags(t, lay); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tags %v, want %v", got, want)
	}
	// By digest.
	mustRun(t, "tag", lay+"@"+v1, "c")
	if got := upkeepTags(t, lay); got["c"] != v1 {
		t.Errorf("tag by digest: %v", got)
	}
	mustRun(t, "rm", lay+":c")

	before := testkit.Snapshot(t, lay)
	upkeepWantFail(t, 2, []string{"bad tag!"}, "tag", lay+":v1", "ok", "bad tag!")
	upkeepWantFail(t, 2, []string{".dot"}, "tag", lay+":v1", ".dot")
	upkeepWantFail(t, 2, []string{"names no tag"}, "tag", lay, "x")
	upkeepWantFail(t, 2, []string{"NEWTAG"}, "tag", lay+":v1")
	upkeepWantFail(t, 1, []string{"nope"}, "tag", lay+":nope", "x")
	upkeepWantFail(t, 1, []string{"missing"}, "rm", lay+":missing")
	upkeepWantFail(t, 2, []string{"names no tag"}, "rm", lay)
	testkit.SameTree(t, "after refused tag and rm", before, testkit.Snapshot(t, lay), testkit.Content)

	r = mustRun(t, "rm", lay+":a", lay+":v1")
	if r.stdout != "removed tag "+lay+":a\nremoved tag "+lay+":v1\n" {
		t.Errorf("rm printed %q", r.stdout)
	}
	if got := upkeepTags(t, lay); len(got) != 1 || got["b"] != v1 {
		t.Errorf("tags after rm: %v, want only b", got)
	}
	upkeepWantFail(t, 1, []string{"v1"}, "unpack", lay+":v1", "-o", filepath.Join(t.TempDir(), "o"))
	// The blobs stay for b; without a tag, the only one is taken.
	upkeepUnpackExample(t, lay+":b")
	upkeepUnpackExample(t, lay)
	// gc removes nothing b reaches.
	r = mustRun(t, "gc", lay)
	if !strings.HasPrefix(r.stdout, "removed 0 blob(s)") {
		t.Errorf("gc after rm of tags of a kept artifact: %q", r.stdout)
	}
	upkeepUnpackExample(t, lay+":b")
}

// TestInspectCLI: inspect shows the manifest's fields and every file, as
// text and JSON, by tag and by digest.
func TestInspectCLI(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	lay := filepath.Join(t.TempDir(), "L")
	deploy := filepath.Join(example, "site", "bin", "deploy.sh")
	r := mustRun(t, "pack", lay+":v1", filepath.Join(example, "site"), deploy, filepath.Join(example, "app-1.0.tar"),
		"--artifact-type", "application/vnd.example.upkeep.v1", "--annotation", "org.example.note=hello")
	v1 := packedDigest(t, r)
	deployDigest := testkit.FileDigest(t, deploy).String()

	r = mustRun(t, "inspect", lay+":v1")
	for _, w := range []string{
		"Reference:", lay + ":v1",
		"Digest:", v1,
		"Media type:", "application/vnd.oci.image.manifest.v1+json",
		"Artifact type:", "application/vnd.example.upkeep.v1",
		"Created:", "2023-11-14T22:13:20Z",
		"org.example.note=hello",
	} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("inspect does not show %q:\n%s", w, r.stdout)
		}
	}
	rows := map[string][]string{}
	header := false
	for line := range strings.Lines(r.stdout) {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "TITLE" {
			header = true
			if !slices.Equal(f, []string{"TITLE", "KIND", "MODE", "SIZE", "MEDIA", "TYPE", "DIGEST"}) {
				t.Errorf("file table header %q", line)
			}
			continue
		}
		if header && len(f) > 0 {
			rows[f[0]] = f
		}
	}
	if len(rows) != 3 {
		t.Fatalf("inspect lists %d files, want 3:\n%s", len(rows), r.stdout)
	}
	if f := rows["site"]; f[1] != "dir" || !strings.Contains(strings.Join(f, " "), "tar+gzip") {
		t.Errorf("site row %q", f)
	}
	if f := rows["deploy.sh"]; f[1] != "file" || f[2] != "0755" || f[len(f)-1] != deployDigest || f[3]+" "+f[4] != "148 B" {
		t.Errorf("deploy.sh row %q, want file 0755 148 B %s", f, deployDigest)
	}
	if f := rows["app-1.0.tar"]; f[1] != "file" || f[2] != "0644" {
		t.Errorf("app-1.0.tar row %q, want file 0644", f)
	}

	type file struct {
		Title  string `json:"title"`
		Dir    bool   `json:"dir"`
		Mode   string `json:"mode"`
		Size   int64  `json:"size"`
		Digest string `json:"digest"`
	}
	var in struct {
		Digest       string            `json:"digest"`
		ArtifactType string            `json:"artifactType"`
		Created      string            `json:"created"`
		Annotations  map[string]string `json:"annotations"`
		Files        []file            `json:"files"`
		Size         int64             `json:"size"`
	}
	for _, ref := range []string{lay + ":v1", lay + "@" + v1} {
		r = mustRun(t, "inspect", ref, "--json")
		if err := json.Unmarshal([]byte(r.stdout), &in); err != nil {
			t.Fatalf("inspect --json is not JSON: %v\n%s", err, r.stdout)
		}
		var titles []string
		for _, f := range in.Files {
			titles = append(titles, f.Title)
		}
		if in.Digest != v1 || in.ArtifactType != "application/vnd.example.upkeep.v1" || in.Created != "2023-11-14T22:13:20Z" ||
			in.Annotations["org.example.note"] != "hello" || !slices.Equal(titles, []string{"site", "deploy.sh", "app-1.0.tar"}) {
			t.Errorf("inspect %s --json: %+v", ref, in)
		}
		if len(in.Files) == 3 && (!in.Files[0].Dir || in.Files[1].Dir || in.Files[1].Mode != "0755" || in.Files[1].Size != 148 || in.Files[1].Digest != deployDigest) {
			t.Errorf("inspect %s --json files: %+v", ref, in.Files)
		}
	}
	// The size is ls's.
	if _, es := upkeepLs(t, lay); len(es) != 1 || es[0].Size != in.Size {
		t.Errorf("inspect size %d, ls %+v", in.Size, es)
	}
	// By digest, the text names the reference as given.
	r = mustRun(t, "inspect", lay+"@"+v1)
	if !strings.Contains(r.stdout, lay+"@"+v1) || !strings.Contains(r.stdout, "deploy.sh") {
		t.Errorf("inspect by digest:\n%s", r.stdout)
	}

	upkeepWantFail(t, 1, []string{"nope"}, "inspect", lay+":nope")
	missing := "sha256:" + strings.Repeat("0", 64)
	upkeepWantFail(t, 1, []string{missing}, "inspect", lay+"@"+missing)
	upkeepWantFail(t, 2, []string{"names no tag"}, "inspect", lay)
	upkeepWantFail(t, 2, []string{"inspect"}, "inspect")
}

// TestUpkeepLs: the columns, the created time, and a tag whose manifest is
// gone.
func TestUpkeepLs(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	lay, tags := upkeepThreeTags(t)

	r := mustRun(t, "ls", lay)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("ls printed %d lines, want a header and 3 tags:\n%s", len(lines), r.stdout)
	}
	if h := strings.Fields(lines[0]); !slices.Equal(h, []string{"TAG", "DIGEST", "ARTIFACT", "TYPE", "FILES", "SIZE", "CREATED"}) {
		t.Errorf("ls header %q", lines[0])
	}
	filesCol := strings.Index(lines[0], "FILES")
	createdCol := strings.Index(lines[0], "CREATED")
	wantFiles := map[string]string{"old": "1", "v1": "3", "v2": "1"}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(line) < createdCol || len(f) < 6 {
			t.Errorf("short ls line %q", line)
			continue
		}
		if f[1] != tags[f[0]] {
			t.Errorf("ls line %q: digest, want %s", line, tags[f[0]])
		}
		if got := strings.Fields(line[filesCol:])[0]; got != wantFiles[f[0]] {
			t.Errorf("ls line %q: FILES %q, want %s", line, got, wantFiles[f[0]])
		}
		if got := strings.TrimSpace(line[createdCol:]); got != "2023-11-14T22:13:20Z" {
			t.Errorf("ls line %q: CREATED %q", line, got)
		}
	}
	_, es := upkeepLs(t, lay)
	for _, e := range es {
		if e.Created != "2023-11-14T22:13:20Z" || e.Files != map[string]int{"old": 1, "v1": 3, "v2": 1}[e.Tag] || e.Error != "" {
			t.Errorf("ls --json entry %+v", e)
		}
	}

	// old's manifest is deleted: the others are still listed; exit 1.
	if err := os.Remove(testkit.BlobPath(lay, tags["old"])); err != nil {
		t.Fatal(err)
	}
	r = upkeepRun(t, nil, "ls", lay)
	if r.code != 1 {
		t.Fatalf("ls with a missing manifest: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	oneStderrLine(t, r, "ocipack verify", "old")
	for _, tag := range []string{"v1", "v2", "old"} {
		if !strings.Contains(r.stdout, tags[tag]) {
			t.Errorf("ls no longer lists %s:\n%s", tag, r.stdout)
		}
	}
	for line := range strings.Lines(r.stdout) {
		if strings.HasPrefix(line, "old ") && !strings.Contains(line, "ERROR") {
			t.Errorf("the broken tag's line says no error: %q", line)
		}
		if strings.HasPrefix(line, "v1 ") && !strings.Contains(line, "2023-11-14T22:13:20Z") {
			t.Errorf("v1's line is incomplete: %q", line)
		}
	}
	// --json too lists everything, with the error, and exits 1.
	r = upkeepRun(t, nil, "ls", lay, "--json")
	if r.code != 1 {
		t.Errorf("ls --json with a missing manifest: exit %d, want 1", r.code)
	}
	oneStderrLine(t, r, "ocipack verify", "old")
	if err := json.Unmarshal([]byte(r.stdout), &es); err != nil || len(es) != 3 {
		t.Fatalf("ls --json: %v, %d entries\n%s", err, len(es), r.stdout)
	}
	for _, e := range es {
		if (e.Tag == "old") != (e.Error != "") {
			t.Errorf("ls --json entry %+v", e)
		}
	}
}

// TestUpkeepPackMissingInput: pack of a file that does not exist fails
// naming it, before storing anything.
func TestUpkeepPackMissingInput(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-file")
	fresh := filepath.Join(dir, "fresh")
	upkeepWantFail(t, 1, []string{missing}, "pack", fresh+":v1", filepath.Join(example, "site"), filepath.Join(example, "app-1.0.tar"), missing)
	if b := testkit.BlobDigests(t, fresh); len(b) != 0 {
		t.Errorf("a failed pack left blobs %v", b)
	}
	if tmp, _ := os.ReadDir(filepath.Join(fresh, layout.WorkDir, "tmp")); len(tmp) != 0 {
		t.Errorf("a failed pack left %d temporary files", len(tmp))
	}

	lay := filepath.Join(dir, "L")
	mustRun(t, "pack", lay+":v1", filepath.Join(example, "hello-0.1.0.tgz"))
	before := testkit.Snapshot(t, lay)
	upkeepWantFail(t, 1, []string{missing}, "pack", lay+":v2", filepath.Join(example, "site"), missing)
	testkit.SameTree(t, "after a failed pack", before, testkit.Snapshot(t, lay), testkit.Content)
}

// TestUpkeepAirGapWorkflow runs the air-gap round trip with the real
// binary: pack, export in volumes, carry them over, import from the first
// volume, verify, unpack; then a delta the same way, and an archive piped
// from one process to another.
func TestUpkeepAirGapWorkflow(t *testing.T) {
	exe := ocipackBinary(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	connected, disconnected, media := t.TempDir(), t.TempDir(), t.TempDir()
	sh := func(dir string, stdin []byte, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, exe, args...)
		cmd.Dir = dir
		cmd.Stdin = bytes.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("ocipack %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}

	// Connected side.
	out := sh(connected, nil, "pack", "./bundle:v1.2.0", abs(filepath.Join(example, "hello-0.1.0.tgz")), abs(filepath.Join(example, "app-1.0.tar")), abs(filepath.Join(example, "site")))
	v1 := manifestRE.FindStringSubmatch(out)
	if v1 == nil {
		t.Fatalf("pack printed %q", out)
	}
	sh(connected, nil, "export", "./bundle", "bundle.tar", "--split", "10K")
	vols, _ := filepath.Glob(filepath.Join(connected, "bundle.tar.*"))
	if len(vols) < 2 {
		t.Fatalf("export --split 10K wrote %v", vols)
	}
	// Carry the volumes across, checking each on the way.
	for _, v := range vols {
		if out := sh(connected, nil, "verify", v); !strings.HasSuffix(out, ": ok\n") {
			t.Errorf("verify %s: %q", v, out)
		}
		b := testkit.ReadFile(t, v)
		testkit.WriteFile(t, filepath.Join(media, filepath.Base(v)), b)
	}

	// Disconnected side.
	out = sh(disconnected, nil, "import", filepath.Join(media, "bundle.tar.001"), "./bundle")
	if !strings.Contains(out, "tags: v1.2.0") {
		t.Errorf("import printed %q", out)
	}
	if out := sh(disconnected, nil, "verify", "./bundle"); !strings.Contains(out, "0 problem(s), 0 warning(s)") {
		t.Errorf("verify printed %q", out)
	}
	if out := sh(disconnected, nil, "ls", "./bundle"); !strings.Contains(out, v1[1]) {
		t.Errorf("ls printed %q, want %s", out, v1[1])
	}
	sh(disconnected, nil, "unpack", "./bundle:v1.2.0", "-o", "deploy")
	upkeepAssertExample(t, filepath.Join(disconnected, "deploy"))

	// The next release goes as a delta against what was carried before.
	sh(connected, nil, "pack", "./bundle:v1.3.0", abs(filepath.Join(example, "site", "bin", "deploy.sh")), abs(filepath.Join(example, "app-1.0.tar")))
	sh(connected, nil, "export", "./bundle", "delta.tar.zst", "--since", "bundle.tar.001")
	out = sh(disconnected, nil, "import", filepath.Join(connected, "delta.tar.zst"), "./bundle")
	if !strings.Contains(out, "tags: v1.2.0, v1.3.0") || !strings.Contains(out, "imported 2 blob(s)") {
		t.Errorf("import of the delta printed %q, want 2 new blobs (deploy.sh and a manifest)", out)
	}
	sh(disconnected, nil, "verify", "./bundle")
	sh(disconnected, nil, "unpack", "./bundle:v1.3.0", "-o", "next")
	testkit.CompareFiles(t, filepath.Join(example, "site", "bin", "deploy.sh"), filepath.Join(disconnected, "next", "deploy.sh"))

	// A pipe between two processes: export - | import -.
	stream := sh(connected, nil, "export", "./bundle:v1.3.0", "-")
	sh(disconnected, []byte(stream), "import", "-", "./piped")
	if out := sh(disconnected, nil, "ls", "./piped"); !strings.Contains(out, "v1.3.0") || strings.Contains(out, "v1.2.0") {
		t.Errorf("ls of the piped import: %q", out)
	}
}
