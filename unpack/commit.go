package unpack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"oras.land/oras-go/v2"
)

// The destination side: creating dest, the staging directory inside it,
// checking for existing paths, moving the result into place, and rolling
// back.
//
// The staging directory, dest/.ocipack-unpack-<random>, holds
//
//	new/<title>   what the layers restore, moved into dest at the end;
//	old/<n>       with Overwrite, what was at the n-th title's path;
//	rollback-<n>  after a failed commit, what had been moved into place.

// osCreateExcl creates a new file for writing, failing if anything (even a
// dangling symlink) is at the path.
const osCreateExcl = os.O_WRONLY | os.O_CREATE | os.O_EXCL

// testHookBeforePlace, when set by a test, is called before each title is
// moved into place; an error it returns fails the commit.
var testHookBeforePlace func(title string) error

// unpacker holds the state of one Unpack call.
type unpacker struct {
	ctx    context.Context
	src    oras.ReadOnlyTarget
	dest   string
	opts   Options
	layers []*layerPlan
	budget budget
	buf    []byte
	done   int64 // blob bytes read, for Progress
	total  int64 // blob bytes to read, for Progress

	destRoot    *os.Root
	createdDest []string // directories created for dest, outermost first
	staging     string   // staging directory's name in dest
	keepStaging bool     // a failed rollback left content there
}

// moved is an existing path moved aside by Overwrite.
type moved struct{ title, aside string }

// run does the work once the manifest is planned. It returns the restored
// files, or nil and an error when nothing was restored.
func (u *unpacker) run() (files []File, err error) {
	if err := u.openDest(); err != nil {
		return nil, err
	}
	defer func() {
		u.destRoot.Close()
		if files == nil {
			u.removeCreatedDest()
		}
	}()
	// Before any layer is read.
	if err := u.checkDest(); err != nil {
		return nil, err
	}
	if err := u.makeStaging(); err != nil {
		return nil, err
	}
	if err := u.extractAll(); err != nil {
		return nil, u.abort(err)
	}
	if err := u.ctx.Err(); err != nil {
		return nil, u.abort(err)
	}
	// Again: something may have appeared while the layers were read.
	if err := u.checkDest(); err != nil {
		return nil, u.abort(err)
	}
	if err := u.commit(); err != nil {
		return nil, u.abort(err)
	}

	for _, l := range u.layers {
		files = append(files, File{Title: l.title, MediaType: l.desc.MediaType, Digest: l.desc.Digest, Size: l.desc.Size, Dir: l.dir})
	}
	if err := u.removeStaging(); err != nil {
		return files, fmt.Errorf("unpacked into %s, but could not remove the staging directory %s: %w; remove it by hand",
			u.dest, filepath.Join(u.dest, u.staging), err)
	}
	return files, nil
}

// abort removes the staging directory, unless a failed rollback left the
// previous content there, and returns err.
func (u *unpacker) abort(err error) error {
	if u.keepStaging {
		return err
	}
	if rerr := u.removeStaging(); rerr != nil {
		return fmt.Errorf("%w (and removing the staging directory %s failed: %v)", err, filepath.Join(u.dest, u.staging), rerr)
	}
	return err
}

// openDest opens dest, creating it and its missing parents (recorded in
// u.createdDest, to be removed on failure) when it does not exist.
func (u *unpacker) openDest() error {
	fi, err := os.Stat(u.dest)
	switch {
	case err == nil && !fi.IsDir():
		return fmt.Errorf("destination %s is not a directory", u.dest)
	case errors.Is(err, fs.ErrNotExist):
		if err := u.createDest(); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("destination: %w", err)
	}
	root, err := os.OpenRoot(u.dest)
	if err != nil {
		u.removeCreatedDest()
		return fmt.Errorf("open destination: %w", err)
	}
	u.destRoot = root
	return nil
}

// createDest creates dest and whatever parents it lacks, recording them.
func (u *unpacker) createDest() error {
	var missing []string
	for p := filepath.Clean(u.dest); ; {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("destination %s: %s is not a directory", u.dest, p)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("destination: %w", err)
		}
		missing = append(missing, p)
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil {
			u.removeCreatedDest()
			return fmt.Errorf("create destination: %w", err)
		}
		u.createdDest = append(u.createdDest, missing[i])
	}
	return nil
}

// removeCreatedDest removes the directories createDest made, innermost
// first. They are empty by then.
func (u *unpacker) removeCreatedDest() {
	for i := len(u.createdDest) - 1; i >= 0; i-- {
		os.Remove(u.createdDest[i])
	}
	u.createdDest = nil
}

// checkDest checks that no title's path exists in dest (unless Overwrite)
// and that the existing parents of nested titles are directories.
func (u *unpacker) checkDest() error {
	for _, l := range u.layers {
		for _, p := range parentDirs(l.title) {
			fi, err := u.destRoot.Stat(p)
			if errors.Is(err, fs.ErrNotExist) {
				break // created at commit
			}
			if err != nil {
				return fmt.Errorf("check %s: %w", u.destPath(p), err)
			}
			if !fi.IsDir() {
				return fmt.Errorf("%s %w and is not a directory, so %q cannot be restored under it; move it away (--overwrite replaces only the titles' own paths)",
					u.destPath(p), ErrExists, l.title)
			}
		}
		_, err := u.destRoot.Lstat(l.title)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return fmt.Errorf("check %s: %w", u.destPath(l.title), err)
		case !u.opts.Overwrite:
			return fmt.Errorf("%s %w; use --overwrite to replace it", u.destPath(l.title), ErrExists)
		}
	}
	return nil
}

// makeStaging creates the staging directory in dest, with new/ and old/.
func (u *unpacker) makeStaging() error {
	for range 100 {
		var b [8]byte
		rand.Read(b[:])
		name := stagingPrefix + hex.EncodeToString(b[:])
		err := u.destRoot.Mkdir(name, 0o700)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("create staging directory in %s: %w", u.dest, err)
		}
		u.staging = name
		for _, sub := range []string{"new", "old"} {
			if err := u.destRoot.Mkdir(name+"/"+sub, 0o700); err != nil {
				return u.abort(fmt.Errorf("create staging directory in %s: %w", u.dest, err))
			}
		}
		return nil
	}
	return fmt.Errorf("create staging directory in %s: too many collisions", u.dest)
}

// extractAll extracts and verifies every layer into staging.
func (u *unpacker) extractAll() error {
	root, err := u.destRoot.OpenRoot(u.staging + "/new")
	if err != nil {
		return fmt.Errorf("open staging directory: %w", err)
	}
	defer root.Close()
	u.buf = make([]byte, bufSize)
	for _, l := range u.layers {
		if err := u.extractLayer(root, l); err != nil {
			return err
		}
	}
	return nil
}

// commit moves every title's path from staging into dest: missing parents
// are created, with Overwrite what is there is moved aside into staging,
// and directory layers get their root's mode and times last (as they may
// make it read-only, which would prevent moving it). On failure it rolls
// everything back.
func (u *unpacker) commit() error {
	var (
		created []string     // parents created in dest
		aside   []moved      // existing paths moved into staging/old
		placed  []*layerPlan // titles moved into dest
	)
	rollback := func(cause error) error {
		var errs []string
		for i := len(placed) - 1; i >= 0; i-- {
			l := placed[i]
			if l.dir {
				// Moving a directory to another parent needs write
				// permission on it.
				u.destRoot.Chmod(l.title, 0o700)
			}
			if err := u.destRoot.Rename(l.title, u.staging+"/rollback-"+strconv.Itoa(i)); err != nil {
				errs = append(errs, err.Error())
			}
		}
		for i := len(aside) - 1; i >= 0; i-- {
			if err := u.destRoot.Rename(aside[i].aside, aside[i].title); err != nil {
				errs = append(errs, err.Error())
			}
		}
		for i := len(created) - 1; i >= 0; i-- {
			if err := u.destRoot.Remove(created[i]); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if len(errs) > 0 {
			u.keepStaging = true
			return fmt.Errorf("%w; rolling back failed too, what was in %s before may be in %s: %s",
				cause, u.dest, filepath.Join(u.dest, u.staging), strings.Join(errs, "; "))
		}
		return cause
	}

	for i, l := range u.layers {
		for _, p := range parentDirs(l.title) {
			_, err := u.destRoot.Lstat(p)
			if err == nil {
				continue
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return rollback(fmt.Errorf("check %s: %w", u.destPath(p), err))
			}
			if err := u.destRoot.Mkdir(p, 0o755); err != nil {
				return rollback(fmt.Errorf("create %s: %w", u.destPath(p), err))
			}
			created = append(created, p)
		}
		_, err := u.destRoot.Lstat(l.title)
		switch {
		case err == nil && !u.opts.Overwrite:
			return rollback(fmt.Errorf("%s %w; use --overwrite to replace it", u.destPath(l.title), ErrExists))
		case err == nil:
			old := u.staging + "/old/" + strconv.Itoa(i)
			if err := u.destRoot.Rename(l.title, old); err != nil {
				return rollback(fmt.Errorf("move the existing %s aside: %w", u.destPath(l.title), err))
			}
			aside = append(aside, moved{title: l.title, aside: old})
		case !errors.Is(err, fs.ErrNotExist):
			return rollback(fmt.Errorf("check %s: %w", u.destPath(l.title), err))
		}
		if testHookBeforePlace != nil {
			if err := testHookBeforePlace(l.title); err != nil {
				return rollback(err)
			}
		}
		if err := u.destRoot.Rename(u.staging+"/new/"+l.title, l.title); err != nil {
			return rollback(fmt.Errorf("move %s into place: %w", u.destPath(l.title), err))
		}
		placed = append(placed, l)
	}
	for _, l := range u.layers {
		if l.dir {
			if err := setDirMeta(u.destRoot, &l.rootMeta); err != nil {
				return rollback(fmt.Errorf("%s: %w", u.destPath(l.title), err))
			}
		}
	}
	u.syncPlaced(created)
	return nil
}

// syncPlaced makes the renames of commit durable: it syncs dest and every
// directory that gained an entry (the titles' parents, and those of the
// parents commit created), and the parents of the directories created for
// dest. Best effort: the content is in place whatever a
// directory's sync says, and some systems (Windows) cannot sync a
// directory at all.
func (u *unpacker) syncPlaced(created []string) {
	dirs := map[string]bool{".": true}
	for _, l := range u.layers {
		dirs[path.Dir(l.title)] = true
	}
	for _, p := range created {
		dirs[path.Dir(p)] = true
	}
	for d := range dirs {
		if f, err := u.destRoot.Open(d); err == nil {
			f.Sync()
			f.Close()
		}
	}
	// The directories created for dest itself, outside the root.
	for _, d := range u.createdDest {
		if f, err := os.Open(filepath.Dir(d)); err == nil {
			f.Sync()
			f.Close()
		}
	}
}

// removeStaging removes the staging directory. Directories in it may be
// read-only (as the archive or, with Overwrite, the replaced content had
// them), so each is made writable before its content is removed.
func (u *unpacker) removeStaging() error {
	if u.staging == "" {
		return nil
	}
	fs.WalkDir(u.destRoot.FS(), u.staging, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			u.destRoot.Chmod(p, 0o700) // before WalkDir reads it
		}
		return nil
	})
	if err := u.destRoot.RemoveAll(u.staging); err != nil {
		return err
	}
	u.staging = ""
	return nil
}
