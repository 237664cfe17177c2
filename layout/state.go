package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxStateSize bounds one State record.
const maxStateSize = 64 << 10

// State is a small store of named records that an operation keeps inside
// the layout's work directory (.ocipack/tmp) so that a later run can
// continue it: the sessions of a chunked push (upload-*.json). `ocipack
// verify` lists them as warnings and `ocipack gc` removes them. Records are
// at most 64 KiB; a name is a plain file name (no separator, not starting
// with '.'). A State is safe for concurrent use.
type State struct{ l *Layout }

// State returns the layout's State.
func (l *Layout) State() *State { return &State{l: l} }

func (s *State) path(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, ".") || strings.ContainsAny(name, `/\:`) || name != path.Base(name) || strings.HasSuffix(name, ".lock") {
		return "", fmt.Errorf("state record %q: %w: not a plain file name", name, ErrInvalidReference)
	}
	return filepath.Join(s.l.root, WorkDir, tmpName, name), nil
}

// Load returns the record name. It fails with fs.ErrNotExist when there is
// none, and refuses (ErrCorrupt) one that is not a regular file, such as a
// link or a fifo planted there, or that is larger than 64 KiB.
func (s *State) Load(name string) ([]byte, error) {
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	if err := s.l.checkOwn(); err != nil {
		return nil, err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxStateSize {
		return nil, fmt.Errorf("state record %s: %w: not a regular file of at most %d bytes", name, ErrCorrupt, maxStateSize)
	}
	b, err := openAndReadLimited(p, maxStateSize)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Save writes the record name (replacing it atomically). On media that
// cannot be written it fails, and the caller keeps the record in memory.
func (s *State) Save(name string, b []byte) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	if len(b) > maxStateSize {
		return fmt.Errorf("state record %s: %d bytes, more than %d", name, len(b), maxStateSize)
	}
	if err := s.l.ensureDirs(); err != nil {
		return err
	}
	dir := filepath.Dir(p)
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("save state record %s: %w", name, err)
	}
	return nil
}

// Delete removes the record name; a missing record is not an error.
func (s *State) Delete(name string) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	if err := s.l.checkOwn(); err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
