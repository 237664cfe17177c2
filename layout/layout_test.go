package layout_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

func TestOpenOrCreateNewDirectory(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "a", "b", "layout") // parents missing too
	l, err := layout.OpenOrCreate(ctx, dir)
	if err != nil {
		t.Fatalf("OpenOrCreate: %v", err)
	}
	if l.Path() != dir {
		t.Errorf("Path() = %q, want %q", l.Path(), dir)
	}

	b := testkit.ReadFile(t, filepath.Join(dir, "oci-layout"))
	if string(b) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %q", b)
	}

	b, err = os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("index.json: %v: %s", err, b)
	}
	if string(raw["schemaVersion"]) != "2" {
		t.Errorf("index.json schemaVersion = %s, want 2", raw["schemaVersion"])
	}
	if string(raw["mediaType"]) != `"`+ocispec.MediaTypeImageIndex+`"` {
		t.Errorf("index.json mediaType = %s", raw["mediaType"])
	}
	if string(raw["manifests"]) != "[]" {
		t.Errorf("index.json manifests = %s, want [] (present and empty, as the spec requires)", raw["manifests"])
	}

	fi, err := os.Stat(filepath.Join(dir, "blobs", "sha256"))
	if err != nil || !fi.IsDir() {
		t.Fatalf("blobs/sha256 is not a directory: %v", err)
	}
	if n := testkit.BlobFiles(t, l.Path()); len(n) != 0 {
		t.Errorf("new layout has blobs: %v", n)
	}

	tags, err := l.Tags(ctx)
	if err != nil || len(tags) != 0 {
		t.Errorf("Tags() = %v, %v; want none", tags, err)
	}

	// Open now finds it.
	if _, err := layout.Open(ctx, dir); err != nil {
		t.Errorf("Open after OpenOrCreate: %v", err)
	}
}

func TestOpenOrCreateEmptyDirectory(t *testing.T) {
	dir := t.TempDir()
	if _, err := layout.OpenOrCreate(context.Background(), dir); err != nil {
		t.Fatalf("OpenOrCreate on an empty directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
		t.Fatal(err)
	}
}

func TestOpenOrCreateKeepsExistingLayout(t *testing.T) {
	ctx := context.Background()
	l := testkit.NewLayout(t)
	desc := testkit.StoreManifest(t, l, "application/x.test", "hello")
	testkit.Tag(t, l, desc, "v1")
	before := testkit.ReadFile(t, filepath.Join(l.Path(), "index.json"))
	l2, err := layout.OpenOrCreate(ctx, l.Path())
	if err != nil {
		t.Fatalf("OpenOrCreate on an existing layout: %v", err)
	}
	after := testkit.ReadFile(t, filepath.Join(l.Path(), "index.json"))
	if string(before) != string(after) {
		t.Errorf("OpenOrCreate rewrote index.json:\nbefore %s\nafter  %s", before, after)
	}
	got, err := l2.Resolve(ctx, "v1")
	if err != nil || got.Digest != desc.Digest {
		t.Errorf("Resolve(v1) = %v, %v; want %s", got.Digest, err, desc.Digest)
	}
}

func TestOpenOrCreateRefusesNonLayout(t *testing.T) {
	dir := t.TempDir()
	testkit.WriteFile(t, filepath.Join(dir, "notes.txt"), []byte("mine"))
	_, err := layout.OpenOrCreate(context.Background(), dir)
	if !errors.Is(err, layout.ErrNotLayout) {
		t.Fatalf("OpenOrCreate on a non-empty non-layout directory: %v, want ErrNotLayout", err)
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the directory", err)
	}
	// Nothing was scattered into it.
	if got := testkit.DirNames(t, dir); !slices.Equal(got, []string{"notes.txt"}) {
		t.Errorf("directory now holds %v, want only notes.txt", got)
	}
}

func TestOpenOrCreateRefusesWrongVersion(t *testing.T) {
	dir := t.TempDir()
	testkit.WriteFile(t, filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"2.0.0"}`))
	if _, err := layout.OpenOrCreate(context.Background(), dir); !errors.Is(err, layout.ErrNotLayout) {
		t.Fatalf("OpenOrCreate on a layout of version 2.0.0: %v, want ErrNotLayout", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "oci-layout"))
	if string(b) != `{"imageLayoutVersion":"2.0.0"}` {
		t.Errorf("oci-layout was rewritten: %s", b)
	}
	if got := testkit.DirNames(t, dir); !slices.Equal(got, []string{"oci-layout"}) {
		t.Errorf("OpenOrCreate wrote into a layout it refused: %v", got)
	}
}

// TestOpenOrCreateConcurrent: several goroutines, each with its own Layout
// (as separate processes would have), create the same new layout at once.
func TestOpenOrCreateConcurrent(t *testing.T) {
	ctx := context.Background()
	for round := range 20 {
		dir := filepath.Join(t.TempDir(), "layout")
		errs := make(chan error, 8)
		for range 8 {
			go func() {
				_, err := layout.OpenOrCreate(ctx, dir)
				errs <- err
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: concurrent OpenOrCreate: %v", round, err)
			}
		}
		if _, err := layout.Open(ctx, dir); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}

func TestOpenNonLayout(t *testing.T) {
	ctx := context.Background()
	cases := map[string]func(dir string) error{
		"missing directory": func(dir string) error { return os.Remove(dir) },
		"empty directory":   func(string) error { return nil },
		"other files": func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "index.json"), []byte(`{"schemaVersion":2}`), 0o644)
		},
		"bad JSON": func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{`), 0o644)
		},
		"wrong version": func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"0.9"}`), 0o644)
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "l")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := setup(dir); err != nil {
				t.Fatal(err)
			}
			_, err := layout.Open(ctx, dir)
			if !errors.Is(err, layout.ErrNotLayout) {
				t.Fatalf("Open: %v, want ErrNotLayout", err)
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not name %s", err, dir)
			}
			// Open writes nothing.
			if _, err := os.Stat(filepath.Join(dir, "blobs")); err == nil {
				t.Errorf("Open created blobs/")
			}
		})
	}
}

// TestOpenWritesNothing: Open of a layout without index.json (valid: an
// empty layout may lack it) neither creates it nor the work directory.
func TestOpenWritesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	testkit.WriteFile(t, filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`))
	l := testkit.OpenLayout(t, dir)
	tags, err := l.Tags(ctx)
	if err != nil || len(tags) != 0 {
		t.Fatalf("Tags() = %v, %v", tags, err)
	}
	if got := testkit.DirNames(t, dir); !slices.Equal(got, []string{"oci-layout"}) {
		t.Errorf("after Open and Tags the directory holds %v", got)
	}
}

func TestIndexCorrupt(t *testing.T) {
	ctx := context.Background()
	for name, content := range map[string]string{
		"not JSON":         `{"schemaVersion":2,`,
		"schema version 1": `{"schemaVersion":1,"manifests":[]}`,
		"bad digest":       `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:zz","size":1}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			l := testkit.NewLayout(t)
			testkit.WriteFile(t, filepath.Join(l.Path(), "index.json"), []byte(content))
			if _, err := l.Tags(ctx); !errors.Is(err, layout.ErrCorrupt) {
				t.Errorf("Tags: %v, want ErrCorrupt", err)
			}
			if _, err := l.Resolve(ctx, "v1"); !errors.Is(err, layout.ErrCorrupt) {
				t.Errorf("Resolve: %v, want ErrCorrupt", err)
			}
			// A corrupt index is never overwritten by an update.
			desc := testkit.StoreManifest(t, l, "application/x.test", "x")
			if err := l.Tag(ctx, desc, "v1"); !errors.Is(err, layout.ErrCorrupt) {
				t.Errorf("Tag: %v, want ErrCorrupt", err)
			}
			b, _ := os.ReadFile(filepath.Join(l.Path(), "index.json"))
			if string(b) != content {
				t.Errorf("index.json was rewritten to %s", b)
			}
		})
	}
}
