package layout_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/layout"
)

func sha(b []byte) digest.Digest {
	s := sha256.Sum256(b)
	return digest.Digest("sha256:" + hex.EncodeToString(s[:]))
}

func TestIngest(t *testing.T) {
	ctx := context.Background()
	l := testkit.NewLayout(t)
	content := []byte("hello, layout\n")
	desc := testkit.Ingest(t, l, "text/plain", content)
	want := ocispec.Descriptor{MediaType: "text/plain", Digest: sha(content), Size: int64(len(content))}
	if desc.MediaType != want.MediaType || desc.Digest != want.Digest || desc.Size != want.Size {
		t.Fatalf("Ingest = %+v, want %+v", desc, want)
	}
	got, err := os.ReadFile(l.BlobPath(desc.Digest))
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("blob file holds %q, %v", got, err)
	}
	if fi, _ := os.Stat(l.BlobPath(desc.Digest)); fi.Mode().Perm() != 0o644 {
		t.Errorf("blob mode %v, want 0644", fi.Mode().Perm())
	}
	if ok, err := l.Exists(ctx, desc); !ok || err != nil {
		t.Errorf("Exists = %v, %v", ok, err)
	}

	// The same content again (through a reader that returns one byte at a
	// time) is stored once.
	desc2, err := l.Ingest(ctx, "application/other", &oneByteReader{r: bytes.NewReader(content)})
	if err != nil {
		t.Fatal(err)
	}
	if desc2.Digest != desc.Digest || desc2.Size != desc.Size || desc2.MediaType != "application/other" {
		t.Fatalf("second Ingest = %+v", desc2)
	}
	if files := testkit.BlobFiles(t, l.Path()); len(files) != 1 || files[0] != desc.Digest.Encoded() {
		t.Errorf("blobs/sha256 = %v, want just %s", files, desc.Digest.Encoded())
	}
	if tmp := testkit.TmpFiles(t, l.Path()); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}

	// Empty content is a blob too.
	empty, err := l.Ingest(ctx, "x/y", strings.NewReader(""))
	if err != nil || empty.Size != 0 || empty.Digest != sha(nil) {
		t.Errorf("Ingest(empty) = %+v, %v", empty, err)
	}
}

type oneByteReader struct{ r io.Reader }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

// failingReader returns n bytes, then err.
type failingReader struct {
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	m := min(len(p), f.n)
	for i := range p[:m] {
		p[i] = 'x'
	}
	f.n -= m
	return m, nil
}

func TestIngestFailureLeavesNothing(t *testing.T) {
	ctx := context.Background()
	l := testkit.NewLayout(t)
	boom := errors.New("disk on fire")
	_, err := l.Ingest(ctx, "x/y", &failingReader{n: 3 << 20, err: boom})
	if !errors.Is(err, boom) {
		t.Fatalf("Ingest of a failing reader: %v, want %v", err, boom)
	}
	if tmp := testkit.TmpFiles(t, l.Path()); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
	if b := testkit.BlobFiles(t, l.Path()); len(b) != 0 {
		t.Errorf("blobs stored: %v", b)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = l.Ingest(cctx, "x/y", strings.NewReader("abc"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Ingest with a cancelled context: %v", err)
	}
	if tmp := testkit.TmpFiles(t, l.Path()); len(tmp) != 0 {
		t.Errorf("temporary files left after cancel: %v", tmp)
	}
	if b := testkit.BlobFiles(t, l.Path()); len(b) != 0 {
		t.Errorf("blobs stored after cancel: %v", b)
	}
}

// patternBlock is what patternReader repeats: an odd length, so that the
// repetition does not line up with buffer sizes.
var patternBlock = func() []byte {
	b := make([]byte, 64<<10+7)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}()

// patternReader generates n deterministic bytes without holding them: it
// repeats patternBlock.
type patternReader struct {
	n, off int64
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	if rest := r.n - r.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	m := 0
	for m < len(p) {
		m += copy(p[m:], patternBlock[(r.off+int64(m))%int64(len(patternBlock)):])
	}
	r.off += int64(m)
	return m, nil
}

// TestIngestMemory ingests 256 MiB generated on the fly and checks that
// Ingest allocates a small constant amount, not memory proportional to the
// content.
func TestIngestMemory(t *testing.T) {
	const size = 256 << 20
	ctx := context.Background()
	l := testkit.NewLayout(t)

	// The expected digest, computed the same way (streaming).
	h := sha256.New()
	if _, err := io.CopyBuffer(h, &patternReader{n: size}, make([]byte, 1<<16)); err != nil {
		t.Fatal(err)
	}
	want := digest.NewDigest(digest.SHA256, h)

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	desc, err := l.Ingest(ctx, "application/octet-stream", &patternReader{n: size})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Size != size || desc.Digest != want {
		t.Fatalf("Ingest = %s (%d bytes), want %s (%d bytes)", desc.Digest, desc.Size, want, size)
	}
	const limit = 32 << 20
	if d := after.TotalAlloc - before.TotalAlloc; d > limit {
		t.Errorf("Ingest of %d bytes allocated %d bytes in all, more than %d", size, d, limit)
	}
	if after.HeapAlloc > before.HeapAlloc && after.HeapAlloc-before.HeapAlloc > limit {
		t.Errorf("heap grew by %d bytes during Ingest, more than %d", after.HeapAlloc-before.HeapAlloc, limit)
	}
	t.Logf("Ingest of %d MiB allocated %d KiB", size>>20, (after.TotalAlloc-before.TotalAlloc)>>10)
	fi, err := os.Stat(l.BlobPath(desc.Digest))
	if err != nil || fi.Size() != size {
		t.Fatalf("blob file: %v, %v", fi, err)
	}
	if tmp := testkit.TmpFiles(t, l.Path()); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

func TestPush(t *testing.T) {
	ctx := context.Background()
	content := []byte("push me")
	good := ocispec.Descriptor{MediaType: "x/y", Digest: sha(content), Size: int64(len(content))}

	t.Run("ok", func(t *testing.T) {
		l := testkit.NewLayout(t)
		if err := l.Push(ctx, good, bytes.NewReader(content)); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(l.BlobPath(good.Digest))
		if err != nil || !bytes.Equal(b, content) {
			t.Fatalf("stored %q, %v", b, err)
		}
		err = l.Push(ctx, good, bytes.NewReader(content))
		if !errors.Is(err, layout.ErrAlreadyExists) {
			t.Fatalf("second Push: %v, want ErrAlreadyExists", err)
		}
		if tmp := testkit.TmpFiles(t, l.Path()); len(tmp) != 0 {
			t.Errorf("temporary files left: %v", tmp)
		}
	})

	refused := []struct {
		name    string
		desc    ocispec.Descriptor
		content []byte
		want    error
	}{
		{"digest mismatch", ocispec.Descriptor{Digest: sha([]byte("push mE")), Size: int64(len(content))}, content, layout.ErrDigestMismatch},
		{"short", good, content[:len(content)-1], layout.ErrSizeMismatch},
		{"long", good, append(bytes.Clone(content), '!'), layout.ErrSizeMismatch},
		{"much longer", good, bytes.Repeat(content, 1<<17), layout.ErrSizeMismatch},
		{"empty", good, nil, layout.ErrSizeMismatch},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			l := testkit.NewLayout(t)
			err := l.Push(ctx, tc.desc, bytes.NewReader(tc.content))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Push: %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.desc.Digest.String()) {
				t.Errorf("error %q does not name the digest", err)
			}
			if b := testkit.BlobFiles(t, l.Path()); len(b) != 0 {
				t.Errorf("blobs stored after a refused Push: %v", b)
			}
			if tmp := testkit.TmpFiles(t, l.Path()); len(tmp) != 0 {
				t.Errorf("temporary files left: %v", tmp)
			}
			if ok, _ := l.Exists(ctx, tc.desc); ok {
				t.Errorf("Exists after a refused Push")
			}
		})
	}

	t.Run("bad digest", func(t *testing.T) {
		l := testkit.NewLayout(t)
		err := l.Push(ctx, ocispec.Descriptor{Digest: "sha256:nope", Size: 1}, strings.NewReader("x"))
		if err == nil {
			t.Fatal("Push with an invalid digest succeeded")
		}
		if b := testkit.BlobFiles(t, l.Path()); len(b) != 0 {
			t.Errorf("blobs stored: %v", b)
		}
	})
}

func TestFetchAndExists(t *testing.T) {
	ctx := context.Background()
	l := testkit.NewLayout(t)
	content := []byte("fetch me")
	desc := testkit.Ingest(t, l, "x/y", content)
	if got := testkit.FetchBytes(t, l, desc); !bytes.Equal(got, content) {
		t.Fatalf("Fetch read %q", got)
	}

	missing := ocispec.Descriptor{Digest: sha([]byte("absent")), Size: 6}
	if _, err := l.Fetch(ctx, missing); !errors.Is(err, layout.ErrNotFound) {
		t.Errorf("Fetch of a missing blob: %v, want ErrNotFound", err)
	}
	if ok, err := l.Exists(ctx, missing); ok || err != nil {
		t.Errorf("Exists(missing) = %v, %v", ok, err)
	}

	wrongSize := desc
	wrongSize.Size++
	if _, err := l.Fetch(ctx, wrongSize); !errors.Is(err, layout.ErrSizeMismatch) {
		t.Errorf("Fetch with a wrong size: %v, want ErrSizeMismatch", err)
	}
	if ok, _ := l.Exists(ctx, wrongSize); ok {
		t.Errorf("Exists with a wrong size = true")
	}

	if _, err := l.Fetch(ctx, ocispec.Descriptor{Digest: "sha256:../../etc/passwd", Size: 1}); err == nil {
		t.Errorf("Fetch of an invalid digest succeeded")
	}
	if _, err := l.Exists(ctx, ocispec.Descriptor{Digest: "nope", Size: 1}); err == nil {
		t.Errorf("Exists of an invalid digest gave no error")
	}
}

func TestReadManifest(t *testing.T) {
	ctx := context.Background()
	l := testkit.NewLayout(t)
	desc := testkit.StoreManifest(t, l, "application/x.test", "body")
	m, err := layout.ReadManifest(ctx, l, desc)
	if err != nil {
		t.Fatal(err)
	}
	if m.ArtifactType != "application/x.test" || len(m.Layers) != 1 || m.Layers[0].Annotations[ocispec.AnnotationTitle] != "body.txt" {
		t.Errorf("ReadManifest = %+v", m)
	}

	idx := desc
	idx.MediaType = ocispec.MediaTypeImageIndex
	if _, err := layout.ReadManifest(ctx, l, idx); err == nil {
		t.Errorf("ReadManifest of an index descriptor succeeded")
	}

	// Not JSON, but stored under its own digest: ErrCorrupt.
	junk, err := l.Ingest(ctx, ocispec.MediaTypeImageManifest, strings.NewReader("not json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := layout.ReadManifest(ctx, l, junk); !errors.Is(err, layout.ErrCorrupt) {
		t.Errorf("ReadManifest of junk: %v, want ErrCorrupt", err)
	}

	// Tampered on disk: the digest check catches it.
	p := l.BlobPath(desc.Digest)
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 1
	testkit.WriteFile(t, p, b)
	if _, err := layout.ReadManifest(ctx, l, desc); !errors.Is(err, layout.ErrDigestMismatch) {
		t.Errorf("ReadManifest of a tampered manifest: %v, want ErrDigestMismatch", err)
	}

	// Too large to be read into memory: refused before reading.
	big := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: desc.Digest, Size: layout.MaxManifestSize + 1}
	if _, err := layout.ReadManifest(ctx, l, big); !errors.Is(err, layout.ErrSizeMismatch) {
		t.Errorf("ReadManifest of an oversized manifest: %v, want ErrSizeMismatch", err)
	}
}

// TestStoreRepairsDamagedBlob: a blob file of the wrong size (damaged,
// truncated by another tool) is replaced when the right content is stored
// again, instead of being taken for the blob.
func TestStoreRepairsDamagedBlob(t *testing.T) {
	ctx := context.Background()
	content := []byte("the whole content of the blob")
	for name, store := range map[string]func(l *layout.Layout, desc ocispec.Descriptor) error{
		"Ingest": func(l *layout.Layout, _ ocispec.Descriptor) error {
			_, err := l.Ingest(ctx, "x/y", bytes.NewReader(content))
			return err
		},
		"Push": func(l *layout.Layout, desc ocispec.Descriptor) error {
			return l.Push(ctx, desc, bytes.NewReader(content))
		},
	} {
		t.Run(name, func(t *testing.T) {
			l := testkit.NewLayout(t)
			desc := testkit.Ingest(t, l, "x/y", content)
			testkit.WriteFile(t, l.BlobPath(desc.Digest), content[:5])
			if ok, _ := l.Exists(ctx, desc); ok {
				t.Fatal("Exists is true for a truncated blob")
			}
			if err := store(l, desc); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if b, err := os.ReadFile(l.BlobPath(desc.Digest)); err != nil || !bytes.Equal(b, content) {
				t.Errorf("after %s the blob file holds %q, %v", name, b, err)
			}
			if ok, _ := l.Exists(ctx, desc); !ok {
				t.Errorf("Exists is false after %s", name)
			}
			if tmp := testkit.TmpFiles(t, l.Path()); len(tmp) != 0 {
				t.Errorf("temporary files left: %v", tmp)
			}
		})
	}
}

// TestPushSHA512: blobs with sha512 digests (which oras-go can copy) are
// stored under blobs/sha512 and read back.
func TestPushSHA512(t *testing.T) {
	ctx := context.Background()
	l := testkit.NewLayout(t)
	content := []byte("sha512 content")
	desc := ocispec.Descriptor{MediaType: "x/y", Digest: digest.SHA512.FromBytes(content), Size: int64(len(content))}
	if err := l.Push(ctx, desc, bytes.NewReader(content)); err != nil {
		t.Fatalf("Push: %v", err)
	}
	if !strings.Contains(filepath.ToSlash(l.BlobPath(desc.Digest)), "blobs/sha512/") {
		t.Errorf("BlobPath = %s", l.BlobPath(desc.Digest))
	}
	rc, err := l.Fetch(ctx, desc)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(layout.NewVerifyReader(rc, desc))
	if err != nil || !bytes.Equal(got, content) {
		t.Errorf("read back %q, %v", got, err)
	}
	bad := desc
	bad.Digest = digest.SHA512.FromBytes([]byte("other"))
	if err := l.Push(ctx, bad, bytes.NewReader(content)); !errors.Is(err, layout.ErrDigestMismatch) {
		t.Errorf("Push with a wrong sha512: %v, want ErrDigestMismatch", err)
	}
}
