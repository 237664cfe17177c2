package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/memory"

	"github.com/ocipack/ocipack/graph"
)

// store pushes b to s as mediaType and returns its descriptor.
func store(t *testing.T, s *memory.Store, mediaType string, b []byte) ocispec.Descriptor {
	t.Helper()
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if err := s.Push(context.Background(), d, strings.NewReader(string(b))); err != nil {
		t.Fatal(err)
	}
	return d
}

func storeJSON(t *testing.T, s *memory.Store, mediaType string, v any) ocispec.Descriptor {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return store(t, s, mediaType, b)
}

func TestKindOf(t *testing.T) {
	for mt, want := range map[string]graph.Kind{
		ocispec.MediaTypeImageManifest:       graph.KindImage,
		graph.MediaTypeDockerManifest:        graph.KindImage,
		ocispec.MediaTypeImageIndex:          graph.KindIndex,
		graph.MediaTypeDockerManifestList:    graph.KindIndex,
		graph.MediaTypeArtifactManifest:      graph.KindArtifact,
		ocispec.MediaTypeImageLayerGzip:      graph.KindUnknown,
		ocispec.MediaTypeImageConfig:         graph.KindUnknown,
		"":                                   graph.KindUnknown,
		"application/vnd.oci.image.index.v2": graph.KindUnknown,
	} {
		if got := graph.KindOf(mt); got != want {
			t.Errorf("KindOf(%q) = %v, want %v", mt, got, want)
		}
		if got := graph.IsManifest(mt); got != (want != graph.KindUnknown) {
			t.Errorf("IsManifest(%q) = %v", mt, got)
		}
		if got := graph.IsIndex(mt); got != (want == graph.KindIndex) {
			t.Errorf("IsIndex(%q) = %v", mt, got)
		}
	}
	if graph.KindFor("", true, false) != graph.KindIndex || graph.KindFor("", false, true) != graph.KindImage || graph.KindFor("", false, false) != graph.KindUnknown {
		t.Error("KindFor does not tell the kind from the content")
	}
}

func TestCheckDescriptor(t *testing.T) {
	good := digest.FromString("x")
	for name, tc := range map[string]struct {
		d  ocispec.Descriptor
		ok bool
	}{
		"zero size":      {ocispec.Descriptor{Digest: good, Size: 0}, true},
		"at the bound":   {ocispec.Descriptor{Digest: good, Size: graph.MaxBlobSize}, true},
		"past it":        {ocispec.Descriptor{Digest: good, Size: graph.MaxBlobSize + 1}, false},
		"negative":       {ocispec.Descriptor{Digest: good, Size: -1}, false},
		"bad digest":     {ocispec.Descriptor{Digest: "sha256:xyz", Size: 1}, false},
		"empty digest":   {ocispec.Descriptor{Size: 1}, false},
		"path traversal": {ocispec.Descriptor{Digest: "../../etc/passwd", Size: 1}, false},
	} {
		err := graph.CheckDescriptor(tc.d)
		if (err == nil) != tc.ok {
			t.Errorf("%s: CheckDescriptor = %v, want ok %v", name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, graph.ErrInvalidDescriptor) {
			t.Errorf("%s: %v does not match ErrInvalidDescriptor", name, err)
		}
	}
}

func TestParse(t *testing.T) {
	cfg := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromString("c"), Size: 1}
	layer := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromString("l"), Size: 1}
	subj := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("s"), Size: 1}
	j := func(v any) []byte { b, _ := json.Marshal(v); return b }
	for name, tc := range map[string]struct {
		mt       string
		b        []byte
		kind     graph.Kind
		children int
		subject  bool
		err      error
	}{
		"image":                            {ocispec.MediaTypeImageManifest, j(map[string]any{"schemaVersion": 2, "config": cfg, "layers": []any{layer}}), graph.KindImage, 2, false, nil},
		"docker image":                     {graph.MediaTypeDockerManifest, j(map[string]any{"schemaVersion": 2, "config": cfg, "layers": []any{layer, layer}}), graph.KindImage, 3, false, nil},
		"image with subject":               {ocispec.MediaTypeImageManifest, j(map[string]any{"schemaVersion": 2, "config": cfg, "subject": subj}), graph.KindImage, 1, true, nil},
		"index":                            {ocispec.MediaTypeImageIndex, j(map[string]any{"schemaVersion": 2, "manifests": []any{subj}}), graph.KindIndex, 1, false, nil},
		"docker list":                      {graph.MediaTypeDockerManifestList, j(map[string]any{"schemaVersion": 2, "manifests": []any{subj, subj}}), graph.KindIndex, 2, false, nil},
		"artifact":                         {graph.MediaTypeArtifactManifest, j(map[string]any{"blobs": []any{layer}, "subject": subj}), graph.KindArtifact, 1, true, nil},
		"no media type, index by content":  {"", j(map[string]any{"schemaVersion": 2, "manifests": []any{}}), graph.KindIndex, 0, false, nil},
		"no media type, content states it": {"", j(map[string]any{"schemaVersion": 2, "mediaType": ocispec.MediaTypeImageManifest, "config": cfg}), graph.KindImage, 1, false, nil},
		"content disagrees":                {ocispec.MediaTypeImageIndex, j(map[string]any{"schemaVersion": 2, "mediaType": ocispec.MediaTypeImageManifest, "config": cfg}), 0, 0, false, graph.ErrInvalidManifest},
		"not JSON":                         {ocispec.MediaTypeImageManifest, []byte("{"), 0, 0, false, graph.ErrInvalidManifest},
		"schema 1":                         {ocispec.MediaTypeImageManifest, j(map[string]any{"schemaVersion": 1, "config": cfg}), 0, 0, false, graph.ErrInvalidManifest},
		"no config":                        {ocispec.MediaTypeImageManifest, j(map[string]any{"schemaVersion": 2}), 0, 0, false, graph.ErrInvalidManifest},
		"unknown type":                     {"application/x.other", j(map[string]any{"schemaVersion": 2}), 0, 0, false, graph.ErrUnknownMediaType},
		"negative layer":                   {ocispec.MediaTypeImageManifest, j(map[string]any{"schemaVersion": 2, "config": cfg, "layers": []any{map[string]any{"digest": layer.Digest, "size": -1}}}), 0, 0, false, graph.ErrInvalidDescriptor},
		"huge layer":                       {ocispec.MediaTypeImageManifest, j(map[string]any{"schemaVersion": 2, "config": cfg, "layers": []any{map[string]any{"digest": layer.Digest, "size": graph.MaxBlobSize + 1}}}), 0, 0, false, graph.ErrInvalidDescriptor},
		"bad subject":                      {ocispec.MediaTypeImageManifest, j(map[string]any{"schemaVersion": 2, "config": cfg, "subject": map[string]any{"digest": "sha256:zz", "size": 1}}), 0, 0, false, graph.ErrInvalidDescriptor},
	} {
		m, err := graph.Parse(ocispec.Descriptor{MediaType: tc.mt, Digest: digest.FromBytes(tc.b), Size: int64(len(tc.b))}, tc.b)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: Parse = %v, want %v", name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: Parse: %v", name, err)
			continue
		}
		if m.Kind != tc.kind || len(m.Children()) != tc.children || (m.Subject != nil) != tc.subject {
			t.Errorf("%s: kind %v, %d children, subject %v; want %v, %d, %v", name, m.Kind, len(m.Children()), m.Subject != nil, tc.kind, tc.children, tc.subject)
		}
		// The subject rule: Successors is the subject, then the children.
		want := m.Children()
		if tc.subject {
			want = append([]ocispec.Descriptor{subj}, want...)
		}
		if got := m.Successors(); !slices.EqualFunc(got, want, func(a, b ocispec.Descriptor) bool { return a.Digest == b.Digest }) {
			t.Errorf("%s: Successors = %v, want %v", name, got, want)
		}
	}
}

// fixture stores an index of one image, and an artifact referring to the
// image; it returns the index, the image and the referrer.
func fixture(t *testing.T, s *memory.Store) (index, image, referrer ocispec.Descriptor) {
	cfg := store(t, s, ocispec.MediaTypeImageConfig, []byte("{}"))
	layer := store(t, s, ocispec.MediaTypeImageLayer, []byte("layer"))
	image = storeJSON(t, s, ocispec.MediaTypeImageManifest, map[string]any{"schemaVersion": 2, "config": cfg, "layers": []any{layer}})
	index = storeJSON(t, s, ocispec.MediaTypeImageIndex, map[string]any{"schemaVersion": 2, "manifests": []any{image}})
	sig := store(t, s, "application/x.sig", []byte("signature"))
	referrer = storeJSON(t, s, graph.MediaTypeArtifactManifest, map[string]any{"blobs": []any{sig}, "subject": image})
	return index, image, referrer
}

func TestSuccessorsAndChildren(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	_, image, referrer := fixture(t, s)
	kids, err := graph.Children(ctx, s, referrer)
	if err != nil || len(kids) != 1 || kids[0].MediaType != "application/x.sig" {
		t.Fatalf("Children(referrer) = %v, %v; want the signature alone", kids, err)
	}
	succ, err := graph.Successors(ctx, s, referrer)
	if err != nil || len(succ) != 2 || succ[0].Digest != image.Digest {
		t.Fatalf("Successors(referrer) = %v, %v; want the subject, then the signature", succ, err)
	}
	if succ, err := graph.Successors(ctx, s, kids[0]); err != nil || succ != nil {
		t.Errorf("Successors(blob) = %v, %v; want none", succ, err)
	}
}

func TestWalkReferrersAndSubjects(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	index, image, referrer := fixture(t, s)
	refs := func(_ context.Context, d ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		if d.Digest == image.Digest {
			return []ocispec.Descriptor{referrer}, nil
		}
		return nil, nil
	}
	for name, tc := range map[string]struct {
		w     graph.Walker
		roots []ocispec.Descriptor
		want  graph.Stats
	}{
		"index alone":            {graph.Walker{}, []ocispec.Descriptor{index}, graph.Stats{Manifests: 2, Blobs: 2, Bytes: index.Size + image.Size + 2 + 5}},
		"with referrers":         {graph.Walker{Referrers: refs}, []ocispec.Descriptor{index}, graph.Stats{Manifests: 3, Blobs: 3, Bytes: index.Size + image.Size + 2 + 5 + referrer.Size + 9}},
		"referrer, no subjects":  {graph.Walker{}, []ocispec.Descriptor{referrer}, graph.Stats{Manifests: 1, Blobs: 1, Bytes: referrer.Size + 9}},
		"referrer with subjects": {graph.Walker{Subjects: true}, []ocispec.Descriptor{referrer}, graph.Stats{Manifests: 2, Blobs: 3, Bytes: referrer.Size + 9 + image.Size + 2 + 5}},
	} {
		got, err := graph.Count(ctx, s, tc.w, tc.roots...)
		if err != nil || got != tc.want {
			t.Errorf("%s: Count = %+v, %v; want %+v", name, got, err, tc.want)
		}
	}
}

func TestWalkDepthBound(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	cfg := store(t, s, ocispec.MediaTypeImageConfig, []byte("{}"))
	d := storeJSON(t, s, ocispec.MediaTypeImageManifest, map[string]any{"schemaVersion": 2, "config": cfg})
	var at32 ocispec.Descriptor
	for i := range graph.MaxDepth + 1 {
		d = storeJSON(t, s, ocispec.MediaTypeImageIndex, map[string]any{"schemaVersion": 2, "manifests": []any{d}})
		if i == graph.MaxDepth-1 {
			at32 = d
		}
	}
	if _, err := graph.Count(ctx, s, graph.Walker{}, at32); err != nil {
		t.Errorf("a graph %d deep: %v", graph.MaxDepth, err)
	}
	if _, err := graph.Count(ctx, s, graph.Walker{}, d); !errors.Is(err, graph.ErrTooDeep) {
		t.Errorf("a graph %d deep: err = %v, want ErrTooDeep", graph.MaxDepth+1, err)
	}
	if _, err := graph.Count(ctx, s, graph.Walker{MaxDepth: 3}, at32); !errors.Is(err, graph.ErrTooDeep) {
		t.Errorf("MaxDepth 3: err = %v, want ErrTooDeep", err)
	}
}

func TestWalkRefusesHugeManifest(t *testing.T) {
	s := memory.New()
	huge := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("h"), Size: graph.MaxManifestSize + 1}
	root := storeJSON(t, s, ocispec.MediaTypeImageIndex, map[string]any{"schemaVersion": 2, "manifests": []any{huge}})
	if _, err := graph.Count(context.Background(), s, graph.Walker{}, root); !errors.Is(err, graph.ErrManifestTooLarge) {
		t.Errorf("err = %v, want ErrManifestTooLarge", err)
	}
}

func TestPlatform(t *testing.T) {
	p := func(s string) ocispec.Platform {
		parts := strings.Split(s, "/")
		out := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
		if len(parts) > 2 {
			out.Variant = parts[2]
		}
		return out
	}
	for _, tc := range []struct {
		have, want string
		match      bool
	}{
		{"linux/arm64/v8", "linux/arm64", true},
		{"linux/arm64", "linux/arm64/v8", true},
		{"linux/aarch64", "linux/arm64", true},
		{"linux/arm", "linux/arm/v7", true},
		{"linux/arm/7", "linux/arm/v7", true},
		{"linux/armhf", "linux/arm/v7", true},
		{"linux/arm/v6", "linux/arm/v7", false},
		{"linux/amd64", "linux/x86_64", true},
		{"linux/amd64/v1", "linux/amd64", true},
		{"linux/amd64/v3", "linux/amd64", false},
		{"linux/amd64", "linux/arm64", false},
		{"windows/amd64", "linux/amd64", false},
		{"Linux/AMD64", "linux/amd64", true},
		{"linux/i386", "linux/386", true},
	} {
		have := p(tc.have)
		if got := graph.MatchPlatform(&have, p(tc.want)); got != tc.match {
			t.Errorf("MatchPlatform(%s, %s) = %v, want %v", tc.have, tc.want, got, tc.match)
		}
	}
	if graph.MatchPlatform(nil, p("linux/amd64")) {
		t.Error("a child of no platform matched")
	}
	got, err := graph.ParsePlatform("linux/arm")
	if err != nil || graph.FormatPlatform(got) != "linux/arm/v7" {
		t.Errorf("ParsePlatform(linux/arm) = %v, %v", got, err)
	}
	for _, bad := range []string{"", "linux", "linux/", "/amd64", "linux/arm/", "a/b/c/d"} {
		if _, err := graph.ParsePlatform(bad); err == nil {
			t.Errorf("ParsePlatform(%q) accepted", bad)
		}
	}
}

// ExampleWalker walks an image index and the referrers of its manifests,
// listing each node once.
func ExampleWalker() {
	ctx := context.Background()
	s := memory.New()
	push := func(mt string, b []byte) ocispec.Descriptor {
		d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
		_ = s.Push(ctx, d, strings.NewReader(string(b)))
		return d
	}
	cfg := push(ocispec.MediaTypeImageConfig, []byte("{}"))
	layer := push(ocispec.MediaTypeImageLayer, []byte("hello"))
	b, _ := json.Marshal(ocispec.Manifest{Versioned: specsV2, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}})
	image := push(ocispec.MediaTypeImageManifest, b)
	b, _ = json.Marshal(ocispec.Index{Versioned: specsV2, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{image}})
	index := push(ocispec.MediaTypeImageIndex, b)

	w := graph.Walker{
		Fetcher:   s,
		Referrers: s.Predecessors, // what refers to each manifest
		Visit: func(_ context.Context, n graph.Node) error {
			fmt.Printf("%*s%s (%s)\n", 2*n.Depth, "", graph.KindOf(n.Descriptor.MediaType), n.Descriptor.MediaType)
			return nil
		},
	}
	if err := w.Walk(ctx, index); err != nil {
		fmt.Println(err)
	}
	st, _ := graph.Count(ctx, s, graph.Walker{}, index)
	fmt.Printf("%d manifests, %d blobs\n", st.Manifests, st.Blobs)
	// Output:
	// image index (application/vnd.oci.image.index.v1+json)
	//   image manifest (application/vnd.oci.image.manifest.v1+json)
	//     blob (application/vnd.oci.image.config.v1+json)
	//     blob (application/vnd.oci.image.layer.v1.tar)
	// 2 manifests, 2 blobs
}

var specsV2 = specs.Versioned{SchemaVersion: 2}
