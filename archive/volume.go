package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"

	"github.com/opencontainers/go-digest"

	"github.com/ocipack/ocipack/internal/hashcopy"
)

// VolumeHeaderSize is the size of the header that starts every volume of a
// split archive.
const VolumeHeaderSize = 512

// volumeMagic starts every volume header.
var volumeMagic = []byte(`{"ocipackVolume":1,`)

// Volume describes one volume of a split archive, as its header says.
type Volume struct {
	// Path is the volume's file.
	Path string `json:"-"`
	// Archive is the ID of the archive the volume belongs to.
	Archive digest.Digest `json:"archive"`
	// Number is the volume's number, from 1.
	Number int `json:"volume"`
	// Count is how many volumes the archive has.
	Count int `json:"volumes"`
	// Size is the size of the volume's payload (the file less its header).
	Size int64 `json:"size"`
	// Digest is the sha256 digest of the volume's payload.
	Digest digest.Digest `json:"digest"`
}

// volumeHeader encodes v as a header: JSON padded with spaces to
// VolumeHeaderSize bytes, the last a newline.
func volumeHeader(v Volume) ([]byte, error) {
	b, err := json.Marshal(struct {
		Magic int `json:"ocipackVolume"`
		Volume
	}{1, v})
	if err != nil {
		return nil, err
	}
	if len(b) > VolumeHeaderSize-1 {
		return nil, fmt.Errorf("volume header too long (%d bytes)", len(b))
	}
	h := bytes.Repeat([]byte{' '}, VolumeHeaderSize)
	copy(h, b)
	h[VolumeHeaderSize-1] = '\n'
	return h, nil
}

// parseVolumeHeader reads a volume header; ok is false when h is not one.
func parseVolumeHeader(h []byte, path string) (v Volume, ok bool, err error) {
	if len(h) < VolumeHeaderSize || !bytes.HasPrefix(h, volumeMagic) {
		return v, false, nil
	}
	if err := json.Unmarshal(bytes.TrimRight(h[:VolumeHeaderSize], " \n"), &v); err != nil {
		return v, true, fmt.Errorf("%s: %w: unreadable volume header: %v", path, ErrTampered, err)
	}
	if v.Number < 1 || v.Count < v.Number || v.Size < 0 || v.Archive.Validate() != nil || v.Digest.Validate() != nil {
		return v, true, fmt.Errorf("%s: %w: inconsistent volume header (volume %d of %d)", path, ErrTampered, v.Number, v.Count)
	}
	v.Path = path
	return v, true, nil
}

// readVolume opens path and reads its header; ok is false when it is not a
// volume.
func readVolume(path string) (f *os.File, v Volume, ok bool, err error) {
	f, err = os.Open(path)
	if err != nil {
		return nil, v, false, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, v, false, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, v, false, fmt.Errorf("%s is not a regular file", path)
	}
	h := make([]byte, VolumeHeaderSize)
	n, err := io.ReadFull(f, h)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, v, false, fmt.Errorf("read %s: %w", path, err)
	}
	v, ok, err = parseVolumeHeader(h[:n], path)
	if err != nil || !ok {
		if err != nil {
			f.Close()
			return nil, v, ok, err
		}
		return f, v, false, nil
	}
	switch got := fi.Size() - VolumeHeaderSize; {
	case got < v.Size:
		f.Close()
		return nil, v, true, fmt.Errorf("%s (volume %d of %d): %w: %d of its %d payload bytes", path, v.Number, v.Count, ErrTruncated, got, v.Size)
	case got > v.Size:
		f.Close()
		return nil, v, true, fmt.Errorf("%s (volume %d of %d): %w: %d bytes more than its header says", path, v.Number, v.Count, ErrTampered, got-v.Size)
	}
	return f, v, true, nil
}

// Verify checks one volume of a split archive on its own: its header, its
// size, and the sha256 digest of its payload. It fails with ErrTruncated
// or ErrTampered naming the volume, and with ErrNotArchive when path is
// not a volume.
func Verify(ctx context.Context, path string) (*Volume, error) {
	f, v, ok, err := readVolume(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if !ok {
		return nil, fmt.Errorf("%s: %w: not a volume of a split archive (no volume header)", path, ErrNotArchive)
	}
	h := sha256.New()
	if _, err := copyCtx(ctx, h, io.NewSectionReader(f, VolumeHeaderSize, v.Size), nil); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if got := digest.NewDigest(digest.SHA256, h); got != v.Digest {
		return nil, fmt.Errorf("%s (volume %d of %d): %w: payload hashes to %s, its header says %s", path, v.Number, v.Count, ErrTampered, got, v.Digest)
	}
	return &v, nil
}

// VolumeName is the name of volume n of the split archive base: base.001,
// base.002, …
func VolumeName(base string, n int) string { return fmt.Sprintf("%s.%03d", base, n) }

var volumeSuffix = regexp.MustCompile(`\.([0-9]{3,})$`)

// Volumes lists the volumes base.001, base.002, … that exist, in order.
func Volumes(base string) ([]string, error) {
	var out []string
	for n := 1; ; n++ {
		p := VolumeName(base, n)
		if _, err := os.Stat(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				break
			}
			return nil, err
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w (no %s)", base, fs.ErrNotExist, VolumeName(base, 1))
	}
	return out, nil
}

// expandPaths turns a single path into the archive's volumes when it is a
// base name (base.001 exists, base does not) or one volume of several:
// its siblings are found by name. Several paths are taken as given.
func expandPaths(paths []string) ([]string, error) {
	if len(paths) != 1 {
		return paths, nil
	}
	p := paths[0]
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		if _, err2 := os.Stat(VolumeName(p, 1)); err2 == nil {
			return Volumes(p)
		}
		return nil, err
	}
	m := volumeSuffix.FindStringSubmatch(p)
	if m == nil {
		return paths, nil
	}
	f, v, ok, err := readVolume(p)
	if err != nil || !ok {
		if f != nil {
			f.Close()
		}
		return paths, nil // reported when opened
	}
	f.Close()
	base := p[:len(p)-len(m[0])]
	out := []string{}
	for n := 1; n <= v.Count; n++ {
		q := VolumeName(base, n)
		if n == v.Number {
			q = p
		}
		if _, err := os.Stat(q); err == nil {
			out = append(out, q)
		}
	}
	return out, nil
}

// part is one file's share of an archive's byte stream.
type part struct {
	f      *os.File
	name   string
	off    int64 // where the payload starts in the file
	size   int64
	vol    *Volume // nil for a single-file archive
	digest digest.Digest
}

// source is an archive's byte stream: one file, or the payloads of its
// volumes, in order.
type source struct {
	parts []part
	size  int64
	id    digest.Digest // split archives only
	name  string        // for messages
}

// openSource opens one archive file or the volumes of one split archive,
// given in any order, checking that none is missing, foreign, truncated or
// given twice with different content.
func openSource(paths []string) (_ *source, err error) {
	paths, err = expandPaths(paths)
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, errors.New("no archive given")
	}
	s := &source{name: paths[0]}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	var vols []Volume
	var plain []string
	for _, p := range paths {
		f, v, ok, err := readVolume(p)
		if err != nil {
			return nil, err
		}
		if !ok {
			plain = append(plain, p)
			s.parts = append(s.parts, part{f: f, name: p})
			continue
		}
		vols = append(vols, v)
		vc := v
		s.parts = append(s.parts, part{f: f, name: p, off: VolumeHeaderSize, size: v.Size, vol: &vc, digest: v.Digest})
	}
	if len(vols) == 0 {
		if len(plain) > 1 {
			return nil, fmt.Errorf("%d archives given (%s, %s…): give one archive, or the volumes of one split archive", len(plain), plain[0], plain[1])
		}
		fi, err := s.parts[0].f.Stat()
		if err != nil {
			return nil, err
		}
		s.parts[0].size, s.size = fi.Size(), fi.Size()
		return s, nil
	}
	if len(plain) > 0 {
		return nil, fmt.Errorf("%s: %w: it is not a volume (no volume header), unlike %s", plain[0], ErrForeignVolume, vols[0].Path)
	}
	// The archive is the one most volumes belong to (the first given, on a
	// tie); every other volume is foreign.
	count := map[digest.Digest]int{}
	for _, v := range vols {
		count[v.Archive]++
	}
	main := vols[0]
	for _, v := range vols {
		if count[v.Archive] > count[main.Archive] {
			main = v
		}
	}
	for _, v := range vols {
		if v.Archive != main.Archive || v.Count != main.Count {
			return nil, fmt.Errorf("%s (volume %d of %d): %w: it belongs to archive %s, the other volumes (such as %s) to %s",
				v.Path, v.Number, v.Count, ErrForeignVolume, v.Archive, main.Path, main.Archive)
		}
	}
	// Order by number, drop identical duplicates, find gaps.
	idx := make([]int, len(s.parts))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return s.parts[a].vol.Number - s.parts[b].vol.Number })
	var ordered []part
	for _, i := range idx {
		p := s.parts[i]
		if n := len(ordered); n > 0 && ordered[n-1].vol.Number == p.vol.Number {
			if ordered[n-1].digest != p.digest {
				return nil, fmt.Errorf("%s and %s: %w: both say they are volume %d of archive %s, with different content",
					ordered[n-1].name, p.name, ErrForeignVolume, p.vol.Number, main.Archive)
			}
			p.f.Close()
			continue
		}
		ordered = append(ordered, p)
	}
	s.parts = ordered
	base := s.parts[0].name
	if m := volumeSuffix.FindStringSubmatch(base); m != nil {
		base = base[:len(base)-len(m[0])]
	}
	var missing []string
	have := map[int]bool{}
	for _, p := range s.parts {
		have[p.vol.Number] = true
	}
	for n := 1; n <= main.Count; n++ {
		if !have[n] {
			missing = append(missing, fmt.Sprintf("%s (volume %d of %d)", VolumeName(base, n), n, main.Count))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("archive %s: %w: %s", main.Archive, ErrMissingVolume, joinFew(missing))
	}
	for _, p := range s.parts {
		s.size += p.size
	}
	s.id, s.name = main.Archive, base
	return s, nil
}

func joinFew(s []string) string {
	out := ""
	for i, x := range s {
		if i == 5 {
			return out + ", and " + strconv.Itoa(len(s)-5) + " more"
		}
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}

// Close closes the files.
func (s *source) Close() error {
	for _, p := range s.parts {
		if p.f != nil {
			p.f.Close()
		}
	}
	return nil
}

// ReadAt reads the concatenated payloads.
func (s *source) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for _, p := range s.parts {
		if len(b) == 0 {
			break
		}
		if off >= p.size {
			off -= p.size
			continue
		}
		k := int(min(int64(len(b)), p.size-off))
		m, err := p.f.ReadAt(b[:k], p.off+off)
		n += m
		if err != nil && !(errors.Is(err, io.EOF) && m == k) {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("%s: %w", p.name, ErrTruncated)
			}
			return n, err
		}
		b, off = b[k:], 0
	}
	if len(b) > 0 {
		return n, io.EOF
	}
	return n, nil
}

// stream returns the archive's bytes in order. A volume's payload is
// checked against its header's digest when its last byte is read; a
// mismatch fails the read with ErrTampered naming the volume. onRead, when
// not nil, is told of every byte read.
func (s *source) stream(onRead func(int)) io.Reader {
	return &streamReader{s: s, onRead: onRead}
}

type streamReader struct {
	s      *source
	i      int
	r      *io.SectionReader
	got    int64
	h      hash.Hash
	onRead func(int)
	err    error
}

func (r *streamReader) Read(b []byte) (int, error) {
	for r.err == nil {
		if r.r == nil {
			if r.i == len(r.s.parts) {
				r.err = io.EOF
				break
			}
			p := r.s.parts[r.i]
			r.r = io.NewSectionReader(p.f, p.off, p.size)
			r.h, r.got = nil, 0
			if p.vol != nil {
				r.h = sha256.New()
			}
		}
		n, err := r.r.Read(b)
		if n > 0 {
			r.got += int64(n)
			if r.h != nil {
				r.h.Write(b[:n])
			}
			if r.onRead != nil {
				r.onRead(n)
			}
			return n, nil
		}
		if err == io.EOF {
			p := r.s.parts[r.i]
			if r.got != p.size {
				r.err = fmt.Errorf("%s: %w", p.name, ErrTruncated)
				break
			}
			if r.h != nil {
				if got := digest.NewDigest(digest.SHA256, r.h); got != p.digest {
					r.err = fmt.Errorf("%s (volume %d of %d): %w: payload hashes to %s, its header says %s", p.name, p.vol.Number, p.vol.Count, ErrTampered, got, p.digest)
					break
				}
			}
			r.r = nil
			r.i++
			continue
		}
		if err != nil {
			r.err = fmt.Errorf("read %s: %w", r.s.parts[r.i].name, err)
		}
	}
	return 0, r.err
}

// volumeWriter cuts a stream into the volumes of a split archive: temporary
// files in the destination directory, given their headers and renamed to
// base.001, base.002, … by finish.
type volumeWriter struct {
	base    string
	payload int64 // payload bytes per volume
	cur     *os.File
	curw    *hashcopy.FileWriter // writes to cur, starting write-back as it goes
	n       int64
	h       hash.Hash
	vols    []Volume
	tmps    []string
}

func (w *volumeWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if w.cur == nil || w.n == w.payload {
			if err := w.rotate(); err != nil {
				return written, err
			}
		}
		k := int(min(int64(len(p)), w.payload-w.n))
		m, err := w.curw.Write(p[:k])
		w.h.Write(p[:m])
		w.n += int64(m)
		written += m
		if err != nil {
			return written, fmt.Errorf("write %s: %w", VolumeName(w.base, len(w.vols)), err)
		}
		p = p[k:]
	}
	return written, nil
}

// rotate ends the current volume and starts the next.
func (w *volumeWriter) rotate() error {
	if err := w.endVolume(); err != nil {
		return err
	}
	n := len(w.vols) + 1
	f, err := os.CreateTemp(filepath.Dir(w.base), "."+filepath.Base(VolumeName(w.base, n))+".tmp-*")
	if err != nil {
		return fmt.Errorf("create volume %d: %w", n, err)
	}
	w.tmps = append(w.tmps, f.Name())
	// The header is written for real once the volume count is known.
	if _, err := f.Write(make([]byte, VolumeHeaderSize)); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	w.cur, w.curw, w.n, w.h = f, hashcopy.NewFileWriter(f), 0, sha256.New()
	w.vols = append(w.vols, Volume{Number: n})
	return nil
}

func (w *volumeWriter) endVolume() error {
	if w.cur == nil {
		return nil
	}
	v := &w.vols[len(w.vols)-1]
	v.Size, v.Digest = w.n, digest.NewDigest(digest.SHA256, w.h)
	err := w.cur.Sync()
	if cerr := w.cur.Close(); err == nil {
		err = cerr
	}
	w.cur = nil
	if err != nil {
		return fmt.Errorf("write %s: %w", VolumeName(w.base, v.Number), err)
	}
	return nil
}

// finish writes every header and renames the volumes into place.
func (w *volumeWriter) finish(id digest.Digest) ([]string, error) {
	if w.cur == nil && len(w.vols) == 0 {
		if err := w.rotate(); err != nil {
			return nil, err
		}
	}
	if err := w.endVolume(); err != nil {
		return nil, err
	}
	var names []string
	for i := range w.vols {
		v := &w.vols[i]
		v.Archive, v.Count = id, len(w.vols)
		h, err := volumeHeader(*v)
		if err != nil {
			return nil, err
		}
		f, err := os.OpenFile(w.tmps[i], os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		_, err = f.WriteAt(h, 0)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", w.tmps[i], err)
		}
	}
	for i := range w.vols {
		name := VolumeName(w.base, i+1)
		if err := os.Chmod(w.tmps[i], 0o644); err != nil {
			return names, err
		}
		if err := os.Rename(w.tmps[i], name); err != nil {
			return names, fmt.Errorf("rename volume into place: %w", err)
		}
		w.tmps[i] = ""
		names = append(names, name)
	}
	return names, nil
}

// abort removes the temporary volumes.
func (w *volumeWriter) abort() {
	if w.cur != nil {
		w.cur.Close()
		w.cur = nil
	}
	for _, t := range w.tmps {
		if t != "" {
			os.Remove(t)
		}
	}
}

// copyCtx copies r to w with a 1 MiB buffer, checking ctx between reads and
// calling onWrite after each write.
func copyCtx(ctx context.Context, w io.Writer, r io.Reader, onWrite func(int)) (int64, error) {
	buf := make([]byte, copyBufSize)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, rerr := r.Read(buf)
		if k > 0 {
			m, werr := w.Write(buf[:k])
			n += int64(m)
			if onWrite != nil {
				onWrite(m)
			}
			if werr != nil {
				return n, werr
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}
