package layout_test

// Benchmarks of the layout's hot paths (issue 5): Ingest (hashing and
// writing a blob) and index.json updates with 10,000 tags. The baseline
// sub-benchmarks split Ingest's cost into its parts on this machine.
//
//	go test -run '^$' -bench . -benchtime 5x ./layout

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/inspect"
	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

const benchIngestSize = 64 << 20

// BenchmarkIngest64MiB stores 64 MiB of random data as a blob: the path of
// `ocipack pack FILE`. The blob is removed (untimed) after each iteration so
// that every iteration stores it anew.
func BenchmarkIngest64MiB(b *testing.B) {
	data := testkit.RandomBytes(1, benchIngestSize)
	ctx := context.Background()

	b.Run("ingest", func(b *testing.B) {
		l := testkit.NewLayout(b)
		b.SetBytes(benchIngestSize)
		b.ResetTimer()
		for b.Loop() {
			desc, err := l.Ingest(ctx, "application/octet-stream", bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := os.Remove(l.BlobPath(desc.Digest)); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})

	// The parts of Ingest, each alone.
	b.Run("baseline-sha256", func(b *testing.B) {
		b.SetBytes(benchIngestSize)
		for b.Loop() {
			h := sha256.New()
			h.Write(data)
			h.Sum(nil)
		}
	})
	writeFile := func(b *testing.B, sync bool) {
		dir := b.TempDir()
		b.SetBytes(benchIngestSize)
		for b.Loop() {
			f, err := os.Create(filepath.Join(dir, "blob"))
			if err != nil {
				b.Fatal(err)
			}
			for off := 0; off < len(data); off += 1 << 20 {
				if _, err := f.Write(data[off : off+1<<20]); err != nil {
					b.Fatal(err)
				}
			}
			if sync {
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			os.Remove(f.Name())
			b.StartTimer()
		}
	}
	b.Run("baseline-write", func(b *testing.B) { writeFile(b, false) })
	b.Run("baseline-write-fsync", func(b *testing.B) { writeFile(b, true) })
}

// benchTaggedLayout returns a layout whose index.json has n tags (t00000,
// t00001, ...) pointing at one small manifest, and that manifest's
// descriptor. index.json is written in one update, not n.
func benchTaggedLayout(b *testing.B, n int) (*layout.Layout, ocispec.Descriptor) {
	b.Helper()
	ctx := context.Background()
	l := testkit.NewLayout(b)
	cfg, err := l.Ingest(ctx, ocispec.MediaTypeEmptyJSON, bytes.NewReader([]byte("{}")))
	if err != nil {
		b.Fatal(err)
	}
	layer, err := l.Ingest(ctx, "application/vnd.oci.image.layer.v1.tar", bytes.NewReader([]byte("hello")))
	if err != nil {
		b.Fatal(err)
	}
	layer.Annotations = map[string]string{ocispec.AnnotationTitle: "hello.txt"}
	m, err := json.Marshal(ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: "application/vnd.ocipack.bundle.v1",
		Config:       cfg,
		Layers:       []ocispec.Descriptor{layer},
	})
	if err != nil {
		b.Fatal(err)
	}
	desc, err := l.Ingest(ctx, ocispec.MediaTypeImageManifest, bytes.NewReader(m))
	if err != nil {
		b.Fatal(err)
	}
	desc.ArtifactType = "application/vnd.ocipack.bundle.v1"
	err = l.UpdateIndex(ctx, func(idx *ocispec.Index) error {
		idx.Manifests = idx.Manifests[:0]
		for i := range n {
			d := desc
			d.Annotations = map[string]string{ocispec.AnnotationRefName: fmt.Sprintf("t%05d", i)}
			idx.Manifests = append(idx.Manifests, d)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return l, desc
}

// BenchmarkTag10k adds a tag to a layout holding 10,000 tags: the path of
// `ocipack tag` and of the last step of `ocipack pack` and `pull`. The same
// new tag is moved on each iteration, so the index keeps 10,001 entries.
func BenchmarkTag10k(b *testing.B) {
	l, desc := benchTaggedLayout(b, 10000)
	ctx := context.Background()
	for b.Loop() {
		if err := l.Tag(ctx, desc, "bench-new"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdateIndex10k is a read-modify-write of index.json that
// changes nothing, with 10,000 tags: lock, read, parse, validate, sort,
// marshal, write, fsync, rename, fsync the directory.
func BenchmarkUpdateIndex10k(b *testing.B) {
	l, _ := benchTaggedLayout(b, 10000)
	ctx := context.Background()
	fi, err := os.Stat(filepath.Join(l.Path(), "index.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	for b.Loop() {
		if err := l.UpdateIndex(ctx, func(*ocispec.Index) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIndexRead10k reads and parses index.json with 10,000 tags, as
// every command that resolves a tag does.
func BenchmarkIndexRead10k(b *testing.B) {
	l, _ := benchTaggedLayout(b, 10000)
	ctx := context.Background()
	for b.Loop() {
		if _, err := l.Index(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSummaries10kSameManifest is what `ocipack ls` computes for the
// layout bench/run lists: 10,000 tags on one manifest (inspect_test.go's
// BenchmarkSummaries10k has a manifest per tag).
func BenchmarkSummaries10kSameManifest(b *testing.B) {
	l, _ := benchTaggedLayout(b, 10000)
	ctx := context.Background()
	for b.Loop() {
		s, err := inspect.Summaries(ctx, l)
		if err != nil {
			b.Fatal(err)
		}
		if len(s) != 10000 {
			b.Fatalf("%d summaries, want 10000", len(s))
		}
	}
}

// BenchmarkResolve10k resolves the last of 10,000 tags.
func BenchmarkResolve10k(b *testing.B) {
	l, _ := benchTaggedLayout(b, 10000)
	ctx := context.Background()
	for b.Loop() {
		if _, err := l.Resolve(ctx, "t09999"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTag20k adds a tag to a layout holding 20,000 tags (issue 14's
// "index update with 20,000 tags"): lock, read, parse, one pass to set the
// tag, sort, write, fsync, rename.
func BenchmarkTag20k(b *testing.B) {
	l, desc := benchTaggedLayout(b, 20000)
	ctx := context.Background()
	for b.Loop() {
		if err := l.Tag(ctx, desc, "bench-new"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPut20k writes 20,000 tags in one Put, as an import of 20,000
// tags does, into a layout that holds them already (each entry replaces
// one): linear in the entries, where a scan of the index per entry was
// quadratic.
func BenchmarkPut20k(b *testing.B) {
	l, desc := benchTaggedLayout(b, 20000)
	ctx := context.Background()
	tags := make([]string, 20000)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%05d", i)
	}
	entries := layout.WithTags(desc, tags...)
	for b.Loop() {
		if err := l.Put(ctx, entries...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckFast is `ocipack verify --fast` of the layout named by
// OCIPACK_BENCH_LAYOUT (e.g. one of bench/gendata scale's layouts, to
// profile the scale rows of bench/run), or of 2,000 tagged manifests of
// four small layers each.
func BenchmarkCheckFast(b *testing.B) {
	ctx := context.Background()
	dir := os.Getenv("OCIPACK_BENCH_LAYOUT")
	if dir == "" {
		dir = b.TempDir()
		l, err := layout.OpenOrCreate(ctx, dir)
		if err != nil {
			b.Fatal(err)
		}
		cfg, err := l.Ingest(ctx, ocispec.MediaTypeEmptyJSON, bytes.NewReader([]byte("{}")))
		if err != nil {
			b.Fatal(err)
		}
		var entries []ocispec.Descriptor
		for i := range 2000 {
			var layers []ocispec.Descriptor
			for j := range 4 {
				d, err := l.Ingest(ctx, "text/plain", bytes.NewReader(fmt.Appendf(nil, "%d-%d", i, j)))
				if err != nil {
					b.Fatal(err)
				}
				layers = append(layers, d)
			}
			m, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: layers})
			d, err := l.Ingest(ctx, ocispec.MediaTypeImageManifest, bytes.NewReader(m))
			if err != nil {
				b.Fatal(err)
			}
			d.Annotations = map[string]string{ocispec.AnnotationRefName: fmt.Sprintf("t%05d", i)}
			entries = append(entries, d)
		}
		if err := l.UpdateIndex(ctx, func(idx *ocispec.Index) error { idx.Manifests = entries; return nil }); err != nil {
			b.Fatal(err)
		}
		l.Close()
	}
	l, err := layout.Open(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	for b.Loop() {
		rep, err := l.Check(ctx, layout.CheckOptions{SkipHash: true})
		if err != nil || len(rep.Problems) > 0 {
			b.Fatalf("check: %v %v", err, rep)
		}
	}
}
