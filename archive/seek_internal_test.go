package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/layout"
)

func TestSeekTableRoundTrip(t *testing.T) {
	var out bytes.Buffer
	fw, err := newFrameWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 9<<20+123)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.IntN(16)) // compressible
	}
	fw.Write(data[:300<<10])
	fw.boundary() // 300 KiB >= minFrame: a frame ends here
	fw.Write(data[300<<10:])
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	frames, err := readSeekTable(bytes.NewReader(out.Bytes()), int64(out.Len()))
	if err != nil {
		t.Fatal(err)
	}
	// 300 KiB, then 4 MiB frames for the rest.
	if len(frames) != 4 || frames[1].d != 300<<10 || frames[2].d != 300<<10+maxFrame {
		t.Fatalf("frames %+v", frames)
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	for _, f := range frames {
		// From frame f to the end: every frame after it too.
		got, err := dec.DecodeAll(out.Bytes()[f.c:], nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data[f.d:]) {
			t.Fatalf("decompressing from frame at %d differs", f.c)
		}
	}
	if fr, _ := readSeekTable(bytes.NewReader(data), int64(len(data))); fr != nil {
		t.Fatal("a seek table found in random data")
	}
}

func TestOpenZstdSeeksToFrames(t *testing.T) {
	ctx := context.Background()
	l, err := layout.OpenOrCreate(ctx, filepath.Join(t.TempDir(), "l"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var layers []ocispec.Descriptor
	for i := range 3 {
		b := make([]byte, 600<<10)
		for j := range b {
			b[j] = byte(j*(i+1)) ^ byte(j>>9)
		}
		d, err := l.Ingest(ctx, "application/octet-stream", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, d)
	}
	cfg, _ := l.Ingest(ctx, ocispec.MediaTypeEmptyJSON, bytes.NewReader([]byte("{}")))
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: layers}
	m.SchemaVersion = 2
	mb, _ := json.Marshal(m)
	md, _ := l.Ingest(ctx, ocispec.MediaTypeImageManifest, bytes.NewReader(mb))
	if err := l.Tag(ctx, md, "t"); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "x.tar.zst")
	if _, err := ExportFile(ctx, l, nil, p, ExportOptions{Compression: Zstd}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(r.frames) < 3 {
		t.Fatalf("only %d frames", len(r.frames))
	}
	for _, d := range layers {
		e := r.entries[d.Digest]
		f := r.frames[frameAt(r.frames, e.off)]
		if e.off-f.d > minFrame+512 {
			t.Fatalf("blob %s at %d: its frame starts %d bytes before it", d.Digest, e.off, e.off-f.d)
		}
		if _, err := layout.ReadBlob(ctx, r, d, 1<<20); err != nil {
			t.Fatal(err)
		}
	}
}
