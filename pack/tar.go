package pack

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocipack/ocipack/internal/zstdframes"
	"github.com/ocipack/ocipack/layout"
)

// scanTree walks a directory before it is packed: it refuses what cannot be
// packed (devices, sockets, fifos, symlinks leaving the tree) and returns the
// bytes of its regular files.
func scanTree(ctx context.Context, root string) (int64, error) {
	var total int64
	links := map[fileID]bool{} // hard links: their content is read once
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// A name unpack would refuse on some system is refused here, so that
		// what packs also unpacks everywhere.
		if name := d.Name(); strings.ContainsAny(name, "\\\x00") {
			return fmt.Errorf("%s: %w: its name holds a backslash or NUL, which cannot be unpacked on every system; rename it", p, ErrUnsupportedFile)
		}
		switch t := d.Type(); {
		case t.IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if id, ok := linkID(fi); ok {
				if links[id] {
					return nil
				}
				links[id] = true
			}
			total += fi.Size()
		case t.IsDir():
		case t&fs.ModeSymlink != 0:
			if _, err := symlinkTarget(root, p); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: %w: it is a %s; remove it from the directory or pack the files one by one", p, ErrUnsupportedFile, fileKind(t))
		}
		return nil
	})
	return total, err
}

// symlinkTarget reads the symlink at p and checks that it stays inside root.
func symlinkTarget(root, p string) (string, error) {
	target, err := os.Readlink(p)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return "", err
	}
	t := filepath.ToSlash(target)
	resolved := path.Join(path.Dir(filepath.ToSlash(rel)), t)
	if filepath.IsAbs(target) || path.IsAbs(t) || resolved == ".." || strings.HasPrefix(resolved, "../") {
		return "", fmt.Errorf("%s: %w: symlink points outside %s (to %s); replace it with what it points at, or pack its target separately", p, ErrUnsupportedFile, root, target)
	}
	return t, nil
}

// packDir stores the directory p as one compressed tar blob. The tar is
// written by a goroutine into a pipe that Ingest reads, so the archive is
// hashed (uncompressed and compressed) and stored in one pass, never held in
// memory or written twice.
func packDir(ctx context.Context, l *layout.Layout, p *plan, opts Options, prog *counter) (ocispec.Descriptor, error) {
	mt := p.in.MediaType
	if mt == "" {
		switch opts.Compression {
		case Zstd:
			mt = MediaTypeTarZstd
		case None:
			mt = MediaTypeTar
		default:
			mt = MediaTypeTarGzip
		}
	}
	mtime := time.Unix(0, 0).UTC()
	if opts.SourceDateEpoch != nil {
		mtime = opts.SourceDateEpoch.UTC()
	}

	pr, pw := io.Pipe()
	tarHash := sha256.New()
	done := make(chan error, 1)
	go func() {
		var cw io.WriteCloser
		err := func() error {
			bw := bufio.NewWriterSize(pw, 1<<20)
			c, err := compressor(bw, opts.Compression)
			if err != nil {
				return err
			}
			cw = c
			tw := &treeWriter{
				ctx: ctx, root: p.root, prefix: p.title, prog: prog,
				mtime: mtime, keepMtime: opts.KeepMtime,
				tw:    tar.NewWriter(io.MultiWriter(tarHash, cw)),
				links: map[fileID]string{},
			}
			if err := tw.writeTree(); err != nil {
				return err
			}
			if err := tw.tw.Close(); err != nil {
				return err
			}
			if err := cw.Close(); err != nil {
				return err
			}
			return bw.Flush()
		}()
		pw.CloseWithError(err)
		if err != nil && cw != nil {
			// The pipe is closed: this only stops the compressor's
			// goroutines and frees its buffers.
			release(cw)
		}
		done <- err
	}()
	desc, err := l.Ingest(ctx, mt, pr)
	pr.CloseWithError(err) // unblock the writer if Ingest failed
	werr := <-done
	if err != nil {
		// Ingest's error is the cause (a full disk, say); the writer's is
		// then only the closed pipe.
		return ocispec.Descriptor{}, fmt.Errorf("pack %s: %w", p.in.Path, err)
	}
	if werr != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pack %s: %w", p.in.Path, werr)
	}
	desc.Annotations = map[string]string{
		ocispec.AnnotationTitle:        p.title,
		layout.AnnotationContentDigest: digest.NewDigest(digest.SHA256, tarHash).String(),
		layout.AnnotationUnpack:        "true",
	}
	return desc, nil
}

// nopCloser turns an io.Writer into an io.WriteCloser whose Close does
// nothing, for the uncompressed case.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// The compressors' settings. Each one's output is a function of its input
// alone: neither depends on the machine (GOMAXPROCS, CPU features), so the
// same tree gives the same digest anywhere. compress_test.go checks that
// changing the concurrency changes no byte.
var (
	// zstdFrameSize is the input each zstd frame holds: the tar is cut
	// into frames of this size, compressed independently and in
	// parallel (internal/zstdframes). The output depends on it: it must
	// never change with the machine, and changing it changes the digest
	// of every zstd archive. 2 MiB costs about 4% in size against one
	// frame for the whole Go source tree (4 MiB: 2%, 1 MiB: 7%) and keeps
	// a few frames in flight for each CPU within about 5 MiB each.
	zstdFrameSize = 2 << 20
	// zstdWorkers is how many frames are compressed at once; 0 means one
	// a CPU, at most 8 (memory: about 2 frames of input and output a
	// worker). It does not change the output, only the speed.
	zstdWorkers = 0
	// gzipBlockSize is the block of input pgzip compresses on its own
	// (with the previous 16 KiB as its dictionary), several at once.
	// The output depends on it: it must never change with the machine,
	// and changing it changes the digest of every gzip archive.
	gzipBlockSize = 512 << 10
	// gzipWorkers is how many blocks are compressed at once; 0 means one
	// a CPU, from 2 to 4. It does not change the output, only the speed
	// and the memory (a block in flight holds about 2.5 MiB).
	gzipWorkers = 0
)

// compressor wraps w in the compression c. Both encoders are deterministic
// for a given input and settings, whatever the machine.
func compressor(w io.Writer, c Compression) (io.WriteCloser, error) {
	switch c {
	case Zstd:
		// Independent frames of zstdFrameSize, several compressed at
		// once on other goroutines while the tar is built and hashed;
		// concatenated, they are one zstd stream any decoder reads.
		workers := zstdWorkers
		if workers == 0 {
			workers = min(runtime.GOMAXPROCS(0), 8)
		}
		return zstdframes.NewWriter(w, zstdframes.Options{FrameSize: zstdFrameSize, Workers: workers, Level: zstd.SpeedDefault})
	case None:
		return nopCloser{w}, nil
	default:
		// pgzip splits the input into blocks at fixed offsets and
		// compresses them in parallel into one gzip member; a stream
		// of plain gzip compresses on one CPU only.
		z, err := pgzip.NewWriterLevel(w, pgzip.DefaultCompression)
		if err != nil {
			return nil, err
		}
		workers := gzipWorkers
		if workers == 0 {
			workers = min(max(runtime.GOMAXPROCS(0), 2), 4)
		}
		if err := z.SetConcurrency(gzipBlockSize, workers); err != nil {
			return nil, err
		}
		// MTIME 0, as compress/gzip writes it for a zero ModTime
		// (pgzip would write the zero time.Time's seconds).
		z.ModTime = time.Unix(0, 0)
		return z, nil
	}
}

// release stops a compressor whose output failed or was abandoned, so that
// no goroutine or buffer of it outlives the pack.
func release(cw io.WriteCloser) {
	switch z := cw.(type) {
	case *zstdframes.Writer:
		z.Abort()
	case *pgzip.Writer:
		// After an error, pgzip's Close returns it without stopping
		// the goroutine that writes the blocks out; Reset stops it.
		z.Reset(io.Discard)
	default:
		cw.Close()
	}
}

// treeWriter writes a directory tree as a deterministic tar stream.
type treeWriter struct {
	ctx       context.Context
	root      string // the directory on disk
	prefix    string // the name of the top entry in the archive
	tw        *tar.Writer
	prog      *counter
	mtime     time.Time
	keepMtime bool
	links     map[fileID]string // first archive name of each multiply-linked file
	buf       []byte            // copy buffer
}

// writeTree writes every entry below root in lexical order (WalkDir's), parents
// before children.
func (w *treeWriter) writeTree() error {
	return filepath.WalkDir(w.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := w.ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(w.root, p)
		if err != nil {
			return err
		}
		name := w.prefix
		if rel != "." {
			name = path.Join(w.prefix, filepath.ToSlash(rel))
		}
		return w.writeEntry(p, name, d)
	})
}

func (w *treeWriter) writeEntry(p, name string, d fs.DirEntry) error {
	fi, err := d.Info()
	if err != nil {
		return err
	}
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(fi.Mode().Perm()),
		ModTime: w.mtime,
	}
	if w.keepMtime {
		hdr.ModTime = fi.ModTime().UTC().Truncate(time.Second)
	}
	switch t := fi.Mode().Type(); {
	case t.IsDir():
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		return w.tw.WriteHeader(hdr)
	case t&fs.ModeSymlink != 0:
		target, err := symlinkTarget(w.root, p)
		if err != nil {
			return err
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
		hdr.Mode = 0o777
		return w.tw.WriteHeader(hdr)
	case t.IsRegular():
		if id, ok := linkID(fi); ok {
			if first, seen := w.links[id]; seen {
				hdr.Typeflag = tar.TypeLink
				hdr.Linkname = first
				return w.tw.WriteHeader(hdr)
			}
			w.links[id] = name
		}
		hdr.Typeflag = tar.TypeReg
		hdr.Size = fi.Size()
		if err := w.tw.WriteHeader(hdr); err != nil {
			return err
		}
		f, err := openFile(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if w.buf == nil {
			w.buf = make([]byte, 32<<10)
		}
		// One buffer for every file: io.Copy would allocate one a file.
		n, err := io.CopyBuffer(w.tw, w.prog.reader(io.LimitReader(f, hdr.Size)), w.buf)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if n != hdr.Size {
			return fmt.Errorf("%s: the file shrank from %d to %d bytes while it was packed; pack it again once it is no longer being written", p, hdr.Size, n)
		}
		return nil
	default:
		return fmt.Errorf("%s: %w: it is a %s", p, ErrUnsupportedFile, fileKind(t))
	}
}
