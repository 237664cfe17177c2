package source_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"oras.land/oras-go/v2"

	"github.com/ocipack/ocipack/archive"
	"github.com/ocipack/ocipack/inspect"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
	"github.com/ocipack/ocipack/source"
	"github.com/ocipack/ocipack/unpack"
)

// fixture packs a layout with the given tags (one file each) and exports
// it as a .tar, a .tar.zst and split volumes. It returns the layout's path
// and the archives' paths (for the volumes, their base name).
func fixture(t *testing.T, tags ...string) (lay string, archives []string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	lay = filepath.Join(dir, "lay")
	l, err := layout.OpenOrCreate(ctx, lay)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i, tag := range tags {
		f := filepath.Join(dir, tag+".txt")
		data := make([]byte, 100<<10+i)
		for j := range data {
			data[j] = byte(j*7 + i)
		}
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := pack.Pack(ctx, l, tag, []pack.Input{{Path: f}}, pack.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []struct {
		name  string
		split int64
	}{{"a.tar", 0}, {"a.tar.zst", 0}, {"v.tar", 64 << 10}} {
		p := filepath.Join(dir, a.name)
		opts := archive.ExportOptions{Compression: archive.CompressionFor(p), Split: a.split}
		if _, err := archive.ExportFile(ctx, l, nil, p, opts); err != nil {
			t.Fatalf("export %s: %v", a.name, err)
		}
		archives = append(archives, p)
	}
	if _, err := os.Stat(archive.VolumeName(archives[2], 2)); err != nil {
		t.Fatalf("no second volume: %v", err)
	}
	return lay, archives
}

// TestOpenEveryKind reads the same artifact from a layout, a .tar, a
// .tar.zst and split volumes through the one interface, and unpacks it.
func TestOpenEveryKind(t *testing.T) {
	ctx := context.Background()
	lay, archives := fixture(t, "v1")
	want, err := os.ReadFile(filepath.Join(filepath.Dir(lay), "v1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append([]string{lay}, archives...) {
		t.Run(filepath.Base(p), func(t *testing.T) {
			if got := source.IsArchive(p); got != (p != lay) {
				t.Errorf("IsArchive = %v", got)
			}
			s, err := source.Open(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var g oras.ReadOnlyGraphTarget = s
			if s.Path() != p {
				t.Errorf("Path = %q", s.Path())
			}
			if (s.State() == nil) != (p != lay) {
				t.Errorf("State = %v: want the layout's, nil for an archive", s.State())
			}
			tags, err := s.Tags(ctx)
			if err != nil || !slices.Equal(tags, []string{"v1"}) {
				t.Errorf("Tags = %v, %v", tags, err)
			}
			ref, err := s.Ref(ctx, "")
			if err != nil || ref != "v1" {
				t.Fatalf("Ref(\"\") = %q, %v", ref, err)
			}
			desc, err := g.Resolve(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := g.Exists(ctx, desc); !ok || err != nil {
				t.Errorf("Exists(manifest) = %v, %v", ok, err)
			}
			rc, err := g.Fetch(ctx, desc)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if int64(len(b)) != desc.Size {
				t.Errorf("fetched %d bytes of the manifest, want %d", len(b), desc.Size)
			}
			if preds, err := g.Predecessors(ctx, desc); err != nil || len(preds) != 0 {
				t.Errorf("Predecessors = %v, %v; want none", preds, err)
			}
			out := filepath.Join(t.TempDir(), "out")
			res, err := unpack.Unpack(ctx, s, ref, out, unpack.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(out, "v1.txt"))
			if err != nil || !slices.Equal(got, want) || len(res.Files) != 1 {
				t.Errorf("unpacked %d file(s), v1.txt: %d bytes, %v", len(res.Files), len(got), err)
			}
		})
	}
}

// TestRef: a reference given is taken as is; without one, the only tag,
// or an error naming the tags.
func TestRef(t *testing.T) {
	ctx := context.Background()
	lay, archives := fixture(t, "a", "b")
	for _, p := range []string{lay, archives[0]} {
		s, err := source.Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if r, err := s.Ref(ctx, "b"); err != nil || r != "b" {
			t.Errorf("%s: Ref(b) = %q, %v", p, r, err)
		}
		_, err = s.Ref(ctx, "")
		var amb *source.AmbiguousError
		if !errors.As(err, &amb) || !slices.Equal(amb.Tags, []string{"a", "b"}) {
			t.Errorf("%s: Ref(\"\") = %v, want an AmbiguousError naming a and b", p, err)
		} else if want := p + " has 2 tags (a, b): name one, as " + p + ":TAG"; err.Error() != want {
			t.Errorf("message %q, want %q", err, want)
		}
		s.Close()
	}

	empty := filepath.Join(t.TempDir(), "empty")
	l, err := layout.OpenOrCreate(ctx, empty)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	s, err := source.Open(ctx, empty)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Ref(ctx, ""); !errors.Is(err, source.ErrNoTags) || err.Error() != empty+" has no tags: nothing to take" {
		t.Errorf("Ref on an empty layout = %v", err)
	}
}

func TestOpenMissing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nothing")
	if source.IsArchive(p) {
		t.Error("IsArchive of a missing path")
	}
	if s, err := source.Open(context.Background(), p); err == nil {
		s.Close()
		t.Fatal("Open of a missing path succeeded")
	}
}

// TestDigests: the blobs of a layout and of its archive are the same.
func TestDigests(t *testing.T) {
	ctx := context.Background()
	lay, archives := fixture(t, "v1", "v2")
	fromLayout, err := source.Digests(ctx, lay)
	if err != nil {
		t.Fatal(err)
	}
	if len(fromLayout) < 4 {
		t.Fatalf("%d blobs in the layout, want at least 4", len(fromLayout))
	}
	for _, p := range archives {
		got, err := source.Digests(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(fromLayout) {
			t.Errorf("%s: %d blobs, the layout %d", p, len(got), len(fromLayout))
		}
		for d := range fromLayout {
			if !got[d] {
				t.Errorf("%s lacks %s", p, d)
			}
		}
	}
}

func TestParseTagList(t *testing.T) {
	for _, c := range []struct {
		in   string
		path string
		tags []string
		bad  bool
	}{
		{in: "./bundle", path: "./bundle"},
		{in: "./bundle:v1", path: "./bundle", tags: []string{"v1"}},
		{in: "./bundle:v1,v2", path: "./bundle", tags: []string{"v1", "v2"}},
		{in: `C:\x\bundle:v1`, path: `C:\x\bundle`, tags: []string{"v1"}},
		{in: "./bundle:docker.io/library/nginx:1.27", path: "./bundle", tags: []string{"docker.io/library/nginx:1.27"}},
		{in: "./bundle:docker.io/library/nginx:1.27,v1,localhost:5000/a/b:v2", path: "./bundle", tags: []string{"docker.io/library/nginx:1.27", "v1", "localhost:5000/a/b:v2"}},
		{in: "./bundle:registry.example/app@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", path: "./bundle", tags: []string{"registry.example/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}},
		{in: "./bundle:nginx:1.27", path: "./bundle:nginx", tags: []string{"1.27"}},
		{in: "./bundle@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", bad: true},
		{in: "", bad: true},
	} {
		path, tags, err := source.ParseTagList(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("ParseTagList(%q) = %q, %v; want an error", c.in, path, tags)
			}
			continue
		}
		if err != nil || path != c.path || !slices.Equal(tags, c.tags) {
			t.Errorf("ParseTagList(%q) = %q, %v, %v; want %q, %v", c.in, path, tags, err, c.path, c.tags)
		}
	}
}

// TestInspectEveryKind: inspect.Summaries and inspect.Describe give the
// same over a layout, a .tar, a .tar.zst and split volumes, and Verify
// checks each through its one entry point.
func TestInspectEveryKind(t *testing.T) {
	ctx := context.Background()
	lay, archives := fixture(t, "v1", "v2")
	var wantSums []inspect.Summary
	var wantIn *inspect.Inspection
	for _, p := range append([]string{lay}, archives...) {
		t.Run(filepath.Base(p), func(t *testing.T) {
			s, err := source.Open(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			sums, err := inspect.Summaries(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			in, err := inspect.Describe(ctx, s, "v2")
			if err != nil {
				t.Fatal(err)
			}
			if p == lay {
				if len(sums) != 2 || sums[0].Tag != "v1" || sums[1].Tag != "v2" || sums[1].Files != 1 || sums[1].Error != "" {
					t.Fatalf("layout: %+v", sums)
				}
				if in.Digest != sums[1].Digest || len(in.Files) != 1 || in.Files[0].Title != "v2.txt" {
					t.Fatalf("layout: %+v", in)
				}
				wantSums, wantIn = sums, in
				return
			}
			if !reflect.DeepEqual(sums, wantSums) {
				t.Errorf("Summaries = %+v, want (as the layout's) %+v", sums, wantSums)
			}
			if !reflect.DeepEqual(in, wantIn) {
				t.Errorf("Describe = %+v, want %+v", in, wantIn)
			}
			if _, err := inspect.Describe(ctx, s, "nope"); !errors.Is(err, layout.ErrNotFound) {
				t.Errorf("Describe(nope): %v, want ErrNotFound", err)
			}
		})
	}
	for _, p := range append([]string{lay, archive.VolumeName(archives[2], 2)}, archives...) {
		rep, err := source.Verify(ctx, p, source.VerifyOptions{})
		if err != nil {
			t.Fatalf("Verify %s: %v", p, err)
		}
		switch {
		case p == lay:
			if rep.Layout == nil || !rep.Layout.OK() || rep.Layout.Tags != 2 || rep.Archive != nil || rep.Volume != nil {
				t.Errorf("Verify %s: %+v", p, rep)
			}
		case strings.HasSuffix(p, ".002"):
			if rep.Volume == nil || rep.Volume.Number != 2 || rep.Layout != nil || rep.Archive != nil {
				t.Errorf("Verify %s: %+v", p, rep)
			}
		default:
			if rep.Archive == nil || len(rep.Archive.Tags) != 2 || rep.Layout != nil || rep.Volume != nil {
				t.Errorf("Verify %s: %+v", p, rep)
			}
		}
	}
}
