package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// cmdLayout writes an OCI image layout of -tags small artifacts directly
// (no ocipack needed, seconds for 100,000 blobs): each tag t00000, t00001,
// ... points at its own image manifest whose config is the shared empty
// JSON blob and whose layers are -blobs/-tags - 1 small text blobs (200 B to
// 2 KB) of its own. The layout holds about -blobs blobs; index.json is
// sorted as ocipack writes it. The scale rows of issue 14 use
//
//	gendata layout -o L10k -blobs 10000 -tags 2000
//	gendata layout -o L100k -blobs 100000 -tags 20000
func cmdLayout(args []string) error {
	fs := flag.NewFlagSet("layout", flag.ExitOnError)
	out := fs.String("o", "", "layout directory (must not exist)")
	nblobs := fs.Int("blobs", 10000, "number of blobs (about)")
	ntags := fs.Int("tags", 2000, "number of tags, one manifest each")
	seed := fs.Uint64("seed", 3, "seed")
	fs.Parse(args)
	if *out == "" || *ntags <= 0 || *nblobs < 2**ntags {
		return fmt.Errorf("need -o, -tags > 0 and -blobs >= 2 * -tags")
	}
	if _, err := os.Stat(*out); err == nil {
		return fmt.Errorf("%s exists", *out)
	}
	blobDir := filepath.Join(*out, "blobs", "sha256")
	if err := os.MkdirAll(blobDir, 0o755); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(nil, 64<<10)
	put := func(b []byte) (string, error) {
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])
		err := writeFile(filepath.Join(blobDir, h), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644, bw, func() { bw.Write(b) })
		return "sha256:" + h, err
	}
	type desc struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int               `json:"size"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	empty := []byte("{}")
	emptyDigest, err := put(empty)
	if err != nil {
		return err
	}
	cfg := desc{MediaType: "application/vnd.oci.empty.v1+json", Digest: emptyDigest, Size: len(empty)}
	layersPer := *nblobs / *ntags - 1
	rng := rand.New(rand.NewChaCha8(seed32(*seed)))
	var text []byte
	tw := &textWriter{rng: rng}
	entries := make([]desc, 0, *ntags)
	for i := range *ntags {
		tag := fmt.Sprintf("t%05d", i)
		layers := make([]desc, 0, layersPer)
		for j := range layersPer {
			text = text[:0]
			text = fmt.Appendf(text, "artifact %s file %d\n", tag, j)
			var buf bufferWriter
			tw.w = bufio.NewWriterSize(&buf, 4096)
			tw.write(200 + rng.IntN(1800))
			tw.w.Flush()
			text = append(text, buf...)
			d, err := put(text)
			if err != nil {
				return err
			}
			layers = append(layers, desc{
				MediaType:   "text/plain",
				Digest:      d,
				Size:        len(text),
				Annotations: map[string]string{"org.opencontainers.image.title": fmt.Sprintf("file-%d.txt", j)},
			})
		}
		m, err := json.Marshal(map[string]any{
			"schemaVersion": 2,
			"mediaType":     "application/vnd.oci.image.manifest.v1+json",
			"artifactType":  "application/vnd.ocipack.bench.v1",
			"config":        cfg,
			"layers":        layers,
			"annotations":   map[string]string{"org.opencontainers.image.created": "2023-11-14T22:13:20Z"},
		})
		if err != nil {
			return err
		}
		d, err := put(m)
		if err != nil {
			return err
		}
		entries = append(entries, desc{
			MediaType:   "application/vnd.oci.image.manifest.v1+json",
			Digest:      d,
			Size:        len(m),
			Annotations: map[string]string{"org.opencontainers.image.ref.name": tag},
		})
	}
	idx, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests":     entries,
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "index.json"), idx, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		return err
	}
	fmt.Printf("%d tags, %d blobs\n", *ntags, 1+*ntags*(layersPer+1))
	return nil
}

// bufferWriter is an io.Writer appending to a byte slice.
type bufferWriter []byte

func (b *bufferWriter) Write(p []byte) (int, error) {
	*b = append(*b, p...)
	return len(p), nil
}
