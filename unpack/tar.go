package unpack

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Extraction of a directory layer's tar into the layer's directory in
// staging. The rules, in order of application:
//
//   - pax/global headers and other metadata entries are skipped; devices,
//     fifos and unknown types are refused;
//   - names are checked lexically (checkRelative) and must be the layer's
//     prefix or under it;
//   - no entry is written through a symlink: symlinks are only created once
//     every other entry has been written, and an entry whose parent is a
//     symlink of the archive is refused;
//   - every write goes through an os.Root opened on the layer's directory,
//     so the kernel refuses what the lexical checks would have missed;
//   - directory modes and times are set last, deepest first, so read-only
//     directories can be filled first.

// entryKind is what the archive has put at a path so far.
type entryKind uint8

const (
	kindNone entryKind = iota
	kindDir
	kindFile
	kindSymlink
)

// dirMeta is the metadata a directory gets once everything is written.
type dirMeta struct {
	rel   string // path in the layer root; "." for the root
	mode  fs.FileMode
	atime time.Time // zero: leave as is
	mtime time.Time // zero: leave as is
}

// pendingLink is a symlink entry, created once all other entries are.
type pendingLink struct {
	rel    string // path in the layer root
	target string // the link's target, as in the archive
	name   string // the entry name, for messages
}

// extractor extracts one directory layer.
type extractor struct {
	root     *os.Root // the layer's directory in staging
	title    string   // the layer's title, for messages
	prefixes []string // candidate name prefixes: the title, its base name
	prefix   string   // the prefix the archive uses, once known
	budget   *budget
	buf      []byte

	kinds    map[string]entryKind    // foldKey(rel) -> what is there
	dirs     map[string]*dirMeta     // foldKey(rel) -> directory metadata
	links    map[string]*pendingLink // foldKey(rel) -> pending symlink
	targets  map[string]string       // foldKey(rel) -> pending symlink's target
	linkList []*pendingLink          // pending symlinks in archive order
	rootMeta dirMeta                 // metadata of the layer root itself
}

// newExtractor returns an extractor writing into root, the directory that
// the layer titled title restores.
func newExtractor(root *os.Root, title string, b *budget, buf []byte) *extractor {
	x := &extractor{
		root:     root,
		title:    title,
		prefixes: []string{title},
		budget:   b,
		buf:      buf,
		kinds:    map[string]entryKind{".": kindDir},
		dirs:     map[string]*dirMeta{},
		links:    map[string]*pendingLink{},
		targets:  map[string]string{},
		rootMeta: dirMeta{rel: ".", mode: 0o755},
	}
	if base := path.Base(title); base != title {
		// oras prefixes entries with the whole title; ocipack's packer with
		// its base name. For "a/b" the archive's first entry tells which.
		x.prefixes = append(x.prefixes, base)
	}
	return x
}

// unsafeEntry returns an ErrUnsafePath error about the entry name.
func unsafeEntry(name string, format string, args ...any) error {
	return fmt.Errorf("tar entry %q: %w: %s", name, ErrUnsafePath, fmt.Sprintf(format, args...))
}

// entryError returns an error about the entry name that is not a safety
// refusal (an I/O error, a conflict between entries).
func entryError(name string, format string, args ...any) error {
	return fmt.Errorf("tar entry %q: %s", name, fmt.Errorf(format, args...))
}

// extract reads the tar from r and writes its entries. It returns at the
// tar's end-of-archive marker without reading further.
func (x *extractor) extract(ctx context.Context, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		if err := x.budget.charge(tarBlockSize); err != nil {
			return err
		}
		if err := x.entry(hdr, tr); err != nil {
			return err
		}
	}
	return x.finish()
}

// entry restores one tar entry.
func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink,
		'V': // GNU volume label
		return nil // metadata, nothing to restore
	case tar.TypeChar:
		return unsafeEntry(hdr.Name, "is a character device; devices are not restored")
	case tar.TypeBlock:
		return unsafeEntry(hdr.Name, "is a block device; devices are not restored")
	case tar.TypeFifo:
		return unsafeEntry(hdr.Name, "is a fifo; fifos are not restored")
	}
	name, err := cleanArchiveName(hdr.Name)
	if err != nil {
		return unsafeEntry(hdr.Name, "%v", err)
	}
	rel, ok := x.rel(name)
	if !ok {
		return unsafeEntry(hdr.Name, "is outside %q, the directory this layer restores", x.expectedPrefix())
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.dir(hdr, rel)
	case tar.TypeReg, '\x00', tar.TypeCont, tar.TypeGNUSparse: // '\x00' is the old TypeRegA
		return x.file(hdr, rel, r)
	case tar.TypeSymlink:
		return x.symlink(hdr, rel)
	case tar.TypeLink:
		return x.hardlink(hdr, rel)
	}
	return unsafeEntry(hdr.Name, "has unsupported type %q", hdr.Typeflag)
}

// rel maps a cleaned archive name to a path in the layer root. The first
// entry that matches a candidate prefix fixes the prefix for the layer.
func (x *extractor) rel(name string) (string, bool) {
	if x.prefix != "" {
		return relToPrefix(name, x.prefix)
	}
	for _, p := range x.prefixes {
		if rel, ok := relToPrefix(name, p); ok {
			x.prefix = p
			return rel, true
		}
	}
	return "", false
}

// expectedPrefix names the prefix entries must have, for messages.
func (x *extractor) expectedPrefix() string {
	if x.prefix != "" {
		return x.prefix + "/"
	}
	return path.Base(x.title) + "/"
}

// perm returns the permission bits of a header; setuid, setgid and sticky
// bits are dropped.
func perm(hdr *tar.Header) fs.FileMode { return fs.FileMode(hdr.Mode) & fs.ModePerm }

// mkParents makes sure every parent directory of rel is a directory this
// archive made (or the root), creating missing ones. It refuses to go
// through a symlink of the archive.
func (x *extractor) mkParents(name, rel string) error {
	for _, p := range parentDirs(rel) {
		k := foldKey(p)
		switch x.kinds[k] {
		case kindDir:
			continue
		case kindSymlink:
			return unsafeEntry(name, "its parent %q is a symlink in the archive; ocipack does not write through symlinks", p)
		case kindFile:
			return entryError(name, "its parent %q is a regular file in the archive", p)
		}
		if err := x.root.Mkdir(p, 0o700); err != nil {
			return entryError(name, "create parent directory: %w", err)
		}
		x.kinds[k] = kindDir
		x.dirs[k] = &dirMeta{rel: p, mode: 0o755}
	}
	return nil
}

// clear makes room at rel for a new entry that is not a directory,
// following tar semantics (a later entry replaces an earlier one) except
// that a directory is never replaced.
func (x *extractor) clear(name, rel string) error {
	k := foldKey(rel)
	switch x.kinds[k] {
	case kindDir:
		return entryError(name, "an earlier entry made %q a directory, which a later entry cannot replace", rel)
	case kindFile:
		if err := x.root.Remove(rel); err != nil {
			return entryError(name, "replace earlier entry: %w", err)
		}
	case kindSymlink:
		delete(x.links, k) // not created yet: forget it
		delete(x.targets, k)
	}
	delete(x.kinds, k)
	return nil
}

// dir restores a directory entry. Its mode and times are set in finish.
func (x *extractor) dir(hdr *tar.Header, rel string) error {
	meta := dirMeta{rel: rel, mode: perm(hdr), atime: hdr.AccessTime, mtime: hdr.ModTime}
	if rel == "." {
		x.rootMeta = meta
		return nil
	}
	if err := x.mkParents(hdr.Name, rel); err != nil {
		return err
	}
	k := foldKey(rel)
	switch x.kinds[k] {
	case kindDir:
		meta.rel = x.dirs[k].rel // keep the spelling the directory was made with
		*x.dirs[k] = meta
		return nil
	case kindFile, kindSymlink:
		if err := x.clear(hdr.Name, rel); err != nil {
			return err
		}
	}
	if err := x.root.Mkdir(rel, 0o700); err != nil {
		return entryError(hdr.Name, "create directory: %w", err)
	}
	x.kinds[k] = kindDir
	x.dirs[k] = &meta
	return nil
}

// file restores a regular file entry, reading its content from r.
func (x *extractor) file(hdr *tar.Header, rel string, r io.Reader) error {
	if rel == "." {
		return unsafeEntry(hdr.Name, "is a regular file where the layer's directory should be")
	}
	if err := x.mkParents(hdr.Name, rel); err != nil {
		return err
	}
	if err := x.clear(hdr.Name, rel); err != nil {
		return err
	}
	// O_EXCL: never open an existing file, nor follow a symlink.
	f, err := x.root.OpenFile(rel, osCreateExcl, 0o600)
	if err != nil {
		return entryError(hdr.Name, "create file: %w", err)
	}
	x.kinds[foldKey(rel)] = kindFile
	_, err = copyBuffer(f, &budgetReader{r: r, b: x.budget}, x.buf)
	if err == nil {
		err = f.Chmod(perm(hdr))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return err
		}
		return entryError(hdr.Name, "write file: %w", err)
	}
	if err := x.root.Chtimes(rel, hdr.AccessTime, hdr.ModTime); err != nil {
		return entryError(hdr.Name, "set times: %w", err)
	}
	return nil
}

// symlink records a symlink entry, to be created in finish. Its target is
// checked now against the links seen so far, for an early and clear error,
// and again in finish against all of them.
func (x *extractor) symlink(hdr *tar.Header, rel string) error {
	if rel == "." {
		return unsafeEntry(hdr.Name, "is a symlink where the layer's directory should be")
	}
	if err := checkLinkTarget(hdr.Linkname); err != nil {
		return unsafeEntry(hdr.Name, "symlink to %q: %v", hdr.Linkname, err)
	}
	if err := resolveLink(x.targets, rel, hdr.Linkname); err != nil {
		return unsafeEntry(hdr.Name, "symlink to %q: %v", hdr.Linkname, err)
	}
	if err := x.mkParents(hdr.Name, rel); err != nil {
		return err
	}
	if err := x.clear(hdr.Name, rel); err != nil {
		return err
	}
	l := &pendingLink{rel: rel, target: hdr.Linkname, name: hdr.Name}
	k := foldKey(rel)
	x.links[k] = l
	x.targets[k] = l.target
	x.linkList = append(x.linkList, l)
	x.kinds[k] = kindSymlink
	return nil
}

// hardlink restores a hard link entry. Its Linkname is an archive name, like
// entry names, and must be an earlier regular file of this layer.
func (x *extractor) hardlink(hdr *tar.Header, rel string) error {
	if rel == "." {
		return unsafeEntry(hdr.Name, "is a hard link where the layer's directory should be")
	}
	tname, err := cleanArchiveName(hdr.Linkname)
	if err != nil {
		return unsafeEntry(hdr.Name, "hard link to %q: %v", hdr.Linkname, err)
	}
	trel, ok := x.rel(tname)
	if !ok {
		return unsafeEntry(hdr.Name, "hard link to %q, which is outside %q", hdr.Linkname, x.expectedPrefix())
	}
	if x.kinds[foldKey(trel)] != kindFile {
		return unsafeEntry(hdr.Name, "hard link to %q, which is not an earlier regular file of this layer", hdr.Linkname)
	}
	if foldKey(trel) == foldKey(rel) {
		return entryError(hdr.Name, "is a hard link to itself")
	}
	// Belt and braces: the kernel's view must agree with ours.
	if fi, err := x.root.Lstat(trel); err != nil || !fi.Mode().IsRegular() {
		return unsafeEntry(hdr.Name, "hard link to %q, which is not a regular file", hdr.Linkname)
	}
	if err := x.mkParents(hdr.Name, rel); err != nil {
		return err
	}
	if err := x.clear(hdr.Name, rel); err != nil {
		return err
	}
	if err := x.root.Link(trel, rel); err != nil {
		return entryError(hdr.Name, "create hard link: %w", err)
	}
	x.kinds[foldKey(rel)] = kindFile
	return nil
}

// finish creates the symlinks, checks where each really resolves, and sets
// directory modes and times, deepest first. The layer root's own metadata
// is left to the caller (x.rootMeta), to be set once it is in place.
func (x *extractor) finish() error {
	var links []*pendingLink
	for _, l := range x.linkList {
		if x.links[foldKey(l.rel)] == l { // not replaced by a later entry
			links = append(links, l)
		}
	}
	for _, l := range links {
		if err := resolveLink(x.targets, l.rel, l.target); err != nil {
			return unsafeEntry(l.name, "symlink to %q: %v", l.target, err)
		}
	}
	for _, l := range links {
		if err := x.root.Symlink(l.target, l.rel); err != nil {
			return entryError(l.name, "create symlink: %w", err)
		}
	}
	// The kernel's view: following each link inside the root must not
	// leave it (os.Root refuses that), which also covers what the lexical
	// check cannot see (case folding, Unicode normalisation). A dangling
	// link is fine: its target was checked lexically.
	for _, l := range links {
		_, err := x.root.Stat(l.rel)
		if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return unsafeEntry(l.name, "symlink to %q does not resolve inside the layer's directory: %v", l.target, err)
		}
	}
	dirs := make([]*dirMeta, 0, len(x.dirs))
	for _, d := range x.dirs {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool {
		di, dj := strings.Count(dirs[i].rel, "/"), strings.Count(dirs[j].rel, "/")
		if di != dj {
			return di > dj
		}
		return dirs[i].rel < dirs[j].rel
	})
	for _, d := range dirs {
		if err := setDirMeta(x.root, d); err != nil {
			return err
		}
	}
	return nil
}

// setDirMeta sets a directory's times, then its mode (last, as it may make
// the directory read-only).
func setDirMeta(root *os.Root, d *dirMeta) error {
	if !d.atime.IsZero() || !d.mtime.IsZero() {
		if err := root.Chtimes(d.rel, d.atime, d.mtime); err != nil {
			return fmt.Errorf("set times of directory %q: %w", d.rel, err)
		}
	}
	if err := root.Chmod(d.rel, d.mode); err != nil {
		return fmt.Errorf("set mode of directory %q: %w", d.rel, err)
	}
	return nil
}
