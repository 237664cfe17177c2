package layout

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Layouts arrive from outside (removable media, archives, other tools), so
// the directories and lock files ocipack itself uses inside one are never
// trusted to be what their names say. A `.ocipack/tmp` that is a symbolic
// link to another directory would make gc empty that directory, and a
// `.ocipack/lock` that is a fifo would make every writer block in open(2).
// So:
//
//   - Open, OpenOrCreate and every operation that creates, locks, walks or
//     empties them first checks each of them with Lstat (checkOwn),
//     parents before children, and refuses the layout with ErrUnsafeLayout
//     when one is a link or of the wrong kind;
//   - directories are created one component at a time with Mkdir, which
//     never follows a link, and checked with Lstat after (ensureDir);
//   - lock files and partial downloads are opened with O_NOFOLLOW and
//     O_NONBLOCK where the system has them, and checked with fstat
//     (openRegular): a fifo or device is refused, never waited on;
//   - gc removes entries of .ocipack/tmp with os.RemoveAll, which removes a
//     link itself and never what it points to.

// unsafeError is an error matching ErrUnsafeLayout with a message of its
// own.
type unsafeError struct{ msg string }

func (e *unsafeError) Error() string { return e.msg }

// Is makes errors.Is(err, ErrUnsafeLayout) hold.
func (e *unsafeError) Is(target error) bool { return target == ErrUnsafeLayout }

// modeWords says what kind of file mode m is, for a person.
func modeWords(m fs.FileMode) string {
	switch m.Type() {
	case 0:
		return "a regular file"
	case fs.ModeDir:
		return "a directory"
	case fs.ModeSymlink:
		return "a symbolic link"
	case fs.ModeNamedPipe:
		return "a named pipe (fifo)"
	case fs.ModeSocket:
		return "a socket"
	case fs.ModeDevice, fs.ModeDevice | fs.ModeCharDevice:
		return "a device"
	case fs.ModeIrregular:
		return "a special file (a junction or mount point)"
	}
	return fmt.Sprintf("a special file (%v)", m.Type())
}

// wantKind checks that the entry rel (relative to the layout, with forward
// slashes) of mode m is a directory (dir) or a regular file, and not a
// link.
func (l *Layout) wantKind(rel string, m fs.FileMode, dir bool) error {
	if dir && m.IsDir() || !dir && m.IsRegular() {
		return nil
	}
	want := "a regular file"
	if dir {
		want = "a directory"
	}
	why := "ocipack never follows links inside a layout"
	if m&fs.ModeSymlink == 0 {
		why = "ocipack never opens special files inside a layout"
	}
	fix := "remove it (ocipack creates it again)"
	if rel == ocispec.ImageBlobsDir || strings.HasPrefix(rel, ocispec.ImageBlobsDir+"/") {
		fix = "replace it with a real directory holding the blobs"
	}
	return &unsafeError{fmt.Sprintf("layout %s: %s is %s, not %s; %s: %s", l.root, rel, modeWords(m), want, why, fix)}
}

// ownEntry is a directory or lock file that ocipack itself uses inside a
// layout.
type ownEntry struct {
	rel string // relative to the layout, with forward slashes
	dir bool
}

// ownEntries lists what checkOwn checks, each parent before its children
// (Lstat follows links in all but the last component of a path).
func ownEntries() []ownEntry {
	es := []ownEntry{{ocispec.ImageBlobsDir, true}}
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA384, digest.SHA512} {
		es = append(es, ownEntry{path.Join(ocispec.ImageBlobsDir, alg.String()), true})
	}
	return append(es,
		ownEntry{WorkDir, true},
		ownEntry{path.Join(WorkDir, tmpName), true},
		ownEntry{path.Join(WorkDir, lockName), false},
		ownEntry{path.Join(WorkDir, writersLockName), false},
	)
}

// checkOwn checks that none of the layout's own directories and lock files
// that exist is a link or of the wrong kind; see ErrUnsafeLayout. It only
// reads, so it works on read-only media.
func (l *Layout) checkOwn() error {
	for _, e := range ownEntries() {
		fi, err := os.Lstat(filepath.Join(l.root, filepath.FromSlash(e.rel)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("layout %s: %w", l.root, err)
		}
		if err := l.wantKind(e.rel, fi.Mode(), e.dir); err != nil {
			return err
		}
	}
	return nil
}

// ensureDir creates the directory rel (relative to the layout, with forward
// slashes) and its parents inside the layout, one at a time with Mkdir
// (which never follows a link), and checks each with Lstat: a link or a
// file in the way fails with ErrUnsafeLayout. The layout directory itself
// must exist.
func (l *Layout) ensureDir(rel string) error {
	p, r := l.root, ""
	for part := range strings.SplitSeq(rel, "/") {
		p, r = filepath.Join(p, part), path.Join(r, part)
		if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create layout %s: %w", l.root, err)
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("create layout %s: %w", l.root, err)
		}
		if err := l.wantKind(r, fi.Mode(), true); err != nil {
			return err
		}
	}
	return nil
}

// notRegularError says that openRegular found something other than a
// regular file.
type notRegularError struct{ mode fs.FileMode }

func (e *notRegularError) Error() string { return modeWords(e.mode) + ", not a regular file" }

// openRegular opens the file at p with flag and perm like os.OpenFile, but
// never follows a link in its last component, never blocks on a fifo, and
// refuses anything but a regular file with a *notRegularError.
func openRegular(p string, flag int, perm fs.FileMode) (*os.File, error) {
	lfi, lerr := os.Lstat(p)
	if lerr == nil && !lfi.Mode().IsRegular() {
		return nil, &notRegularError{lfi.Mode()}
	}
	f, err := openNoFollow(p, flag, perm)
	if err != nil {
		// Planted between the Lstat and the open.
		if fi, lerr := os.Lstat(p); lerr == nil && !fi.Mode().IsRegular() {
			return nil, &notRegularError{fi.Mode()}
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &notRegularError{fi.Mode()}
	}
	if lerr == nil && !os.SameFile(lfi, fi) {
		// Replaced between the Lstat and the open (where the system has
		// no O_NOFOLLOW, by a link perhaps).
		f.Close()
		return nil, fmt.Errorf("%s changed while being opened", p)
	}
	return f, nil
}

// openLayoutFile opens the layout's own file rel with openRegular, turning
// a *notRegularError into one matching ErrUnsafeLayout that names it.
func (l *Layout) openLayoutFile(rel string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := openRegular(filepath.Join(l.root, filepath.FromSlash(rel)), flag, perm)
	if nr, ok := errors.AsType[*notRegularError](err); ok {
		return nil, l.wantKind(rel, nr.mode, false)
	}
	return f, err
}

// fileLock is a lock held on one of the layout's lock files.
type fileLock struct{ f *os.File }

// unlock releases the lock (closing the file releases it too).
func (lk *fileLock) unlock() error {
	err := unlockFile(lk.f)
	if cerr := lk.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// tryLock opens (creating) the lock file rel of the layout, refusing a link
// or anything but a regular file with ErrUnsafeLayout, and tries once to
// lock it, exclusively or shared. It returns nil and no error when another
// process or descriptor holds it.
func (l *Layout) tryLock(rel string, exclusive bool) (*fileLock, error) {
	f, err := l.openLayoutFile(rel, os.O_CREATE|lockOpenFlag, 0o600)
	if err != nil {
		return nil, err
	}
	ok, err := tryLockFile(f, exclusive)
	if err != nil || !ok {
		f.Close()
		return nil, err
	}
	return &fileLock{f: f}, nil
}

// lock is tryLock, tried again every retry until it succeeds or ctx is done.
// Waiting for a lock another process holds stays interruptible: a done ctx
// ends it with ctx.Err().
func (l *Layout) lock(ctx context.Context, rel string, exclusive bool, retry time.Duration) (*fileLock, error) {
	f, err := l.openLayoutFile(rel, os.O_CREATE|lockOpenFlag, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		ok, err := tryLockFile(f, exclusive)
		if err != nil {
			f.Close()
			return nil, err
		}
		if ok {
			return &fileLock{f: f}, nil
		}
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
