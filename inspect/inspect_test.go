package inspect_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/inspect"
	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
)

// inEpoch is the SourceDateEpoch of the packed artifacts.
var inEpoch = time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)

// inPack packs an executable file and a directory as tag.
func inPack(t testing.TB, l *layout.Layout, tag string) *pack.Result {
	t.Helper()
	src := t.TempDir()
	run := filepath.Join(src, "run.sh")
	if err := os.WriteFile(run, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(run, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(src, "data")
	testkit.WriteFile(t, filepath.Join(dir, "x", "one.txt"), "one")
	testkit.WriteFile(t, filepath.Join(dir, "two.txt"), "two")
	res, err := pack.Pack(context.Background(), l, tag, []pack.Input{{Path: run}, {Path: dir}}, pack.Options{
		ArtifactType:    "application/x.inspect-test",
		Annotations:     map[string]string{"com.example.note": "hello"},
		SourceDateEpoch: &inEpoch,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestInspect(t *testing.T) {
	l := testkit.NewLayout(t)
	ctx := context.Background()
	res := inPack(t, l, "v1")
	m, err := layout.ReadManifest(ctx, l, res.Manifest)
	if err != nil {
		t.Fatal(err)
	}

	in, err := inspect.Describe(ctx, l, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if in.Reference != "v1" || in.Digest != res.Manifest.Digest || in.MediaType != ocispec.MediaTypeImageManifest {
		t.Errorf("reference %q digest %s media type %q", in.Reference, in.Digest, in.MediaType)
	}
	if in.ArtifactType != "application/x.inspect-test" {
		t.Errorf("artifact type %q", in.ArtifactType)
	}
	if in.Created != "2024-02-03T04:05:06Z" {
		t.Errorf("created %q", in.Created)
	}
	if in.Annotations["com.example.note"] != "hello" || in.Annotations[ocispec.AnnotationCreated] != in.Created {
		t.Errorf("annotations %v", in.Annotations)
	}
	if in.Config.Digest != m.Config.Digest || in.Config.MediaType != ocispec.MediaTypeEmptyJSON || in.Config.Size != 2 {
		t.Errorf("config %+v", in.Config)
	}
	if in.Subject != nil {
		t.Errorf("subject %+v", in.Subject)
	}
	wantSize := res.Manifest.Size + m.Config.Size + m.Layers[0].Size + m.Layers[1].Size
	if in.Size != wantSize {
		t.Errorf("size %d, want %d", in.Size, wantSize)
	}
	if len(in.Files) != 2 {
		t.Fatalf("files %+v", in.Files)
	}
	file, dir := in.Files[0], in.Files[1]
	if file.Title != "run.sh" || file.Dir || file.Mode != "0755" || file.MediaType != pack.DefaultFileMediaType ||
		file.Digest != m.Layers[0].Digest || file.Size != int64(len("#!/bin/sh\necho hi\n")) {
		t.Errorf("file %+v", file)
	}
	if dir.Title != "data" || !dir.Dir || dir.Mode != "" || dir.MediaType != pack.MediaTypeTarGzip ||
		dir.Digest != m.Layers[1].Digest || dir.Size != m.Layers[1].Size {
		t.Errorf("dir %+v", dir)
	}

	// By digest, the same.
	byDigest, err := inspect.Describe(ctx, l, res.Manifest.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	byDigest.Reference = "v1"
	if !reflect.DeepEqual(byDigest, in) {
		t.Errorf("by digest:\n%+v\nby tag:\n%+v", byDigest, in)
	}

	// JSON for `inspect --json`.
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"reference", "digest", "mediaType", "artifactType", "created", "annotations", "config", "files", "size"} {
		if _, ok := back[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	if _, ok := back["subject"]; ok {
		t.Errorf("JSON has a null subject: %s", b)
	}
}

func TestInspectReferrer(t *testing.T) {
	l := testkit.NewLayout(t)
	ctx := context.Background()
	res := inPack(t, l, "v1")
	ref := testkit.PushReferrer(t, l, res.Manifest, "application/x.referrer", "application/x.sbom", []byte("sbom"))
	in, err := inspect.Describe(ctx, l, ref.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	if in.Subject == nil || in.Subject.Digest != res.Manifest.Digest {
		t.Errorf("subject %+v", in.Subject)
	}
	if in.ArtifactType != "application/x.referrer" || len(in.Files) != 1 || in.Files[0].Title != "" {
		t.Errorf("inspection %+v", in)
	}
}

func TestInspectIndex(t *testing.T) {
	l := testkit.NewLayout(t)
	ctx := context.Background()
	art := testkit.StoreManifest(t, l, "application/x.test", "in an index")
	idx := testkit.PushJSON(t, l, ocispec.MediaTypeImageIndex,
		ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{art}}, "multi")
	in, err := inspect.Describe(ctx, l, "multi")
	if err != nil {
		t.Fatal(err)
	}
	if in.MediaType != ocispec.MediaTypeImageIndex || len(in.Manifests) != 1 || in.Manifests[0].Digest != art.Digest ||
		len(in.Files) != 0 || in.Size != idx.Size+art.Size {
		t.Errorf("inspection %+v", in)
	}
}

func TestInspectErrors(t *testing.T) {
	l := testkit.NewLayout(t)
	ctx := context.Background()
	if _, err := inspect.Describe(ctx, l, "nope"); !errors.Is(err, layout.ErrNotFound) {
		t.Errorf("missing tag: %v", err)
	}
	if _, err := inspect.Describe(ctx, l, digest.FromString("nope").String()); !errors.Is(err, layout.ErrNotFound) {
		t.Errorf("missing digest: %v", err)
	}
	testkit.TagBlobAsManifest(t, l, "broken", []byte("{not json"))
	if _, err := inspect.Describe(ctx, l, "broken"); !errors.Is(err, layout.ErrCorrupt) {
		t.Errorf("unparseable manifest: %v", err)
	}
	res := inPack(t, l, "v1")
	testkit.FlipByteMiddle(t, testkit.BlobPath(l.Path(), res.Manifest.Digest.String()))
	if _, err := inspect.Describe(ctx, l, "v1"); !errors.Is(err, layout.ErrDigestMismatch) {
		t.Errorf("damaged manifest: %v", err)
	}
}

func TestSummaries(t *testing.T) {
	l := testkit.NewLayout(t)
	ctx := context.Background()
	res := inPack(t, l, "v1")
	if err := l.Tag(ctx, res.Manifest, "latest"); err != nil {
		t.Fatal(err)
	}
	other := testkit.StoreManifest(t, l, "application/x.test", "other")
	if err := l.Tag(ctx, other, "other"); err != nil {
		t.Fatal(err)
	}
	_, om := testkit.Manifest(t, l, "other")
	broken := testkit.TagBlobAsManifest(t, l, "broken", []byte("{not json")).Digest

	sums, err := inspect.Summaries(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, s := range sums {
		tags = append(tags, s.Tag)
	}
	if !reflect.DeepEqual(tags, []string{"broken", "latest", "other", "v1"}) {
		t.Fatalf("tags %v", tags)
	}
	in, err := inspect.Describe(ctx, l, "v1")
	if err != nil {
		t.Fatal(err)
	}
	want := inspect.Summary{Tag: "v1", Digest: res.Manifest.Digest, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: "application/x.inspect-test", Size: in.Size, Created: "2024-02-03T04:05:06Z", Files: 2}
	if sums[3] != want {
		t.Errorf("v1:\n%+v, want\n%+v", sums[3], want)
	}
	want.Tag = "latest"
	if sums[1] != want {
		t.Errorf("latest:\n%+v, want\n%+v", sums[1], want)
	}
	if s := sums[2]; s.Digest != other.Digest || s.Files != 1 || s.Created != "" ||
		s.ArtifactType != "application/x.test" || s.Size != other.Size+om.Config.Size+om.Layers[0].Size || s.Error != "" {
		t.Errorf("other: %+v", s)
	}
	if s := sums[0]; s.Digest != broken || s.Error == "" || s.Files != 0 {
		t.Errorf("broken: %+v", s)
	}
}

func TestSummariesEmpty(t *testing.T) {
	sums, err := inspect.Summaries(context.Background(), testkit.NewLayout(t))
	if err != nil || len(sums) != 0 {
		t.Fatalf("%v, %v", sums, err)
	}
}

// BenchmarkSummaries10k lists a layout of 10,000 tags, each on its own
// manifest. The blobs and index.json are written straight to disk: storing
// them through Ingest would sync 30,000 files.
func BenchmarkSummaries10k(b *testing.B) {
	const n = 10000
	l := testkit.NewLayout(b)
	ctx := context.Background()
	write := func(data []byte) ocispec.Descriptor {
		d := digest.FromBytes(data)
		if err := os.WriteFile(testkit.BlobPath(l.Path(), d.String()), data, 0o644); err != nil {
			b.Fatal(err)
		}
		return ocispec.Descriptor{Digest: d, Size: int64(len(data))}
	}
	cfg := write(ocispec.DescriptorEmptyJSON.Data)
	cfg.MediaType = ocispec.MediaTypeEmptyJSON
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}
	for i := range n {
		layer := write(fmt.Appendf(nil, "file %d", i))
		layer.MediaType = pack.DefaultFileMediaType
		layer.Annotations = map[string]string{ocispec.AnnotationTitle: fmt.Sprintf("file-%d.txt", i), layout.AnnotationFileMode: "0644"}
		m := ocispec.Manifest{
			Versioned:    specs.Versioned{SchemaVersion: 2},
			MediaType:    ocispec.MediaTypeImageManifest,
			ArtifactType: pack.DefaultArtifactType,
			Config:       cfg,
			Layers:       []ocispec.Descriptor{layer},
			Annotations:  map[string]string{ocispec.AnnotationCreated: "2024-02-03T04:05:06Z"},
		}
		md := write(testkit.MustJSON(b, m))
		md.MediaType = ocispec.MediaTypeImageManifest
		md.ArtifactType = pack.DefaultArtifactType
		md.Annotations = map[string]string{ocispec.AnnotationRefName: fmt.Sprintf("tag-%05d", i)}
		idx.Manifests = append(idx.Manifests, md)
	}
	testkit.WriteFile(b, filepath.Join(l.Path(), "index.json"), string(testkit.MustJSON(b, idx)))
	for b.Loop() {
		sums, err := inspect.Summaries(ctx, l)
		if err != nil {
			b.Fatal(err)
		}
		if len(sums) != n || sums[n-1].Files != 1 || sums[n-1].Error != "" {
			b.Fatalf("%d summaries, last %+v", len(sums), sums[n-1])
		}
	}
}
