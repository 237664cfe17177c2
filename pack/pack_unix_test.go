//go:build unix

package pack_test

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ocipack/ocipack/pack"
)

// hardLinksKept: on unix, pack stores the second name of a file as a tar
// hard link, and unpack links it again.
const hardLinksKept = true

var platformRefusals = []ptRefusal{
	{
		name: "fifo in a directory",
		setup: func(t *testing.T, src string) ([]pack.Input, string) {
			tree := ptTree(t, src, "tree")
			fifo := filepath.Join(tree, "a", "pipe")
			if err := syscall.Mkfifo(fifo, 0o644); err != nil {
				t.Fatal(err)
			}
			return []pack.Input{{Path: tree}}, fifo
		},
		want: pack.ErrUnsupportedFile,
	},
	{
		name: "fifo as an input",
		setup: func(t *testing.T, src string) ([]pack.Input, string) {
			fifo := filepath.Join(src, "pipe")
			if err := syscall.Mkfifo(fifo, 0o644); err != nil {
				t.Fatal(err)
			}
			return []pack.Input{{Path: fifo}}, fifo
		},
		want: pack.ErrUnsupportedFile,
	},
}
