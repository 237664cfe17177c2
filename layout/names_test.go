package layout_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

func TestFullName(t *testing.T) {
	d := "sha256:" + hex64
	for _, tc := range []struct{ in, want string }{
		{"nginx:1.27", "docker.io/library/nginx:1.27"},
		{"docker.io/nginx:1.27", "docker.io/library/nginx:1.27"},
		{"library/nginx:1.27", "docker.io/library/nginx:1.27"},
		{"localhost:5000/a/b:v1", "localhost:5000/a/b:v1"},
		{"127.0.0.1:5000/a/b:v1", "127.0.0.1:5000/a/b:v1"},
		{"registry.example/app@" + d, "registry.example/app@" + d},
		{"registry.example/app:v1@" + d, "registry.example/app:v1@" + d},
		{"nginx", ""},
		{"registry.example/app", ""},
		{"Not A Reference", ""},
		{"", ""},
	} {
		got, err := layout.FullName(tc.in)
		if tc.want == "" {
			if !errors.Is(err, layout.ErrInvalidReference) {
				t.Errorf("FullName(%q) = %q, %v; want ErrInvalidReference", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("FullName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if !layout.IsFullName(got) || !layout.ValidName(got) {
			t.Errorf("IsFullName(%q) = false for FullName's result", got)
		}
	}
	for _, s := range []string{"nginx:1.27", "docker.io/nginx:1.27", "v1", "registry.example/app", "a:b"} {
		if layout.IsFullName(s) {
			t.Errorf("IsFullName(%q) = true", s)
		}
	}
	if !layout.ValidName("v1") || layout.ValidName("docker.io/nginx:1.27") {
		t.Error("ValidName: a tag must be valid, a name not in normalised form not")
	}
}

func TestParseReferenceFullName(t *testing.T) {
	d := "sha256:" + hex64
	for _, tc := range []struct {
		in   string
		want layout.Reference
	}{
		{"./bundle:docker.io/library/nginx:1.27", layout.Reference{Path: "./bundle", Tag: "docker.io/library/nginx:1.27"}},
		{"bundle:localhost:5000/a/b:v1", layout.Reference{Path: "bundle", Tag: "localhost:5000/a/b:v1"}},
		{"bundle:registry.example/app@" + d, layout.Reference{Path: "bundle", Tag: "registry.example/app@" + d}},
		{"bundle:registry.example/app:v1@" + d, layout.Reference{Path: "bundle", Tag: "registry.example/app:v1@" + d}},
		{`C:\bundle:docker.io/library/nginx:1.27`, layout.Reference{Path: `C:\bundle`, Tag: "docker.io/library/nginx:1.27"}},
		// Not normalised: no full name, read as before.
		{"bundle:nginx:1.27", layout.Reference{Path: "bundle:nginx", Tag: "1.27"}},
		{"host:5000/repo:tag", layout.Reference{Path: "host:5000/repo", Tag: "tag"}},
	} {
		got, err := layout.ParseReference(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseReference(%q) = %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}

	// The longest path that exists as a directory wins; else the first ':'.
	dir := t.TempDir()
	odd := filepath.Join(dir, "x:docker.io", "library", "nginx")
	s := filepath.Join(dir, "x") + ":docker.io/library/nginx:1.27"
	if got, _ := layout.ParseReference(s); got.Path != filepath.Join(dir, "x") {
		t.Errorf("no directory: ParseReference(%q) = %#v, want the path before the first ':'", s, got)
	}
	if err := os.MkdirAll(odd, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, _ := layout.ParseReference(s); got != (layout.Reference{Path: odd, Tag: "1.27"}) {
		t.Errorf("%s exists: ParseReference(%q) = %#v, want it as the path", odd, s, got)
	}
	if err := os.Mkdir(filepath.Join(dir, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, _ := layout.ParseReference(s); got != (layout.Reference{Path: odd, Tag: "1.27"}) {
		t.Errorf("both exist: ParseReference(%q) = %#v, want the longest", s, got)
	}
}

// TestFullNames: entries of several repositories with the same tag live
// side by side; a full name is written in both annotations, a plain tag
// drops io.containerd.image.name; a plain tag finds the one full name
// with that tag and refuses an ambiguous one.
func TestFullNames(t *testing.T) {
	ctx := t.Context()
	l := testkit.NewLayout(t)
	a := testkit.StoreManifest(t, l, "application/vnd.test.a", "a")
	b := testkit.StoreManifest(t, l, "application/vnd.test.b", "b")
	na, nb := "docker.io/library/nginx:1.27", "registry.example/mirror/nginx:1.27"
	testkit.Tag(t, l, a, na)
	testkit.Tag(t, l, b, nb)
	for name, want := range map[string]ocispec.Descriptor{na: a, nb: b} {
		got, err := l.Resolve(ctx, name)
		if err != nil || got.Digest != want.Digest {
			t.Fatalf("Resolve(%q) = %v, %v; want %s", name, got.Digest, err, want.Digest)
		}
		if got.Annotations[ocispec.AnnotationRefName] != name || got.Annotations[layout.AnnotationImageName] != name {
			t.Errorf("entry %q has annotations %v", name, got.Annotations)
		}
	}
	if _, err := l.Resolve(ctx, "1.27"); !errors.Is(err, layout.ErrInvalidReference) {
		t.Errorf("Resolve of the ambiguous tag 1.27: %v, want ErrInvalidReference", err)
	}
	if err := l.Untag(ctx, nb); err != nil {
		t.Fatal(err)
	}
	if got, err := l.Resolve(ctx, "1.27"); err != nil || got.Digest != a.Digest {
		t.Errorf("Resolve(1.27) with one full name left = %v, %v; want %s", got.Digest, err, a.Digest)
	}
	// Retagging a full-named entry with a plain tag drops the full name.
	named, _ := l.Resolve(ctx, na)
	testkit.Tag(t, l, named, "v1")
	got, err := l.Resolve(ctx, "v1")
	if err != nil || got.Annotations[layout.AnnotationImageName] != "" {
		t.Errorf("plain tag v1: %v, annotations %v; want no io.containerd.image.name", err, got.Annotations)
	}
	// Put reads the same names.
	if err := l.Put(ctx, layout.WithTags(b, "docker.io/library/nginx:bad name")...); !errors.Is(err, layout.ErrInvalidReference) {
		t.Errorf("Put of an invalid name: %v", err)
	}
	e := layout.WithEntryName(ocispec.Descriptor{MediaType: b.MediaType, Digest: b.Digest, Size: b.Size,
		Annotations: map[string]string{ocispec.AnnotationRefName: "1.27", layout.AnnotationImageName: nb}})
	if err := l.Put(ctx, e); err != nil {
		t.Fatal(err)
	}
	if got, err := l.Resolve(ctx, nb); err != nil || got.Digest != b.Digest || got.Annotations[ocispec.AnnotationRefName] != nb {
		t.Errorf("Put of a docker save entry: %v, %v", got, err)
	}
}
