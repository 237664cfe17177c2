//go:build !unix

package pack_test

import (
	"testing"

	"github.com/ocipack/ocipack/pack"
)

// hardLinksKept: without inode numbers, pack stores each name of a file as
// a copy.
const hardLinksKept = false

var platformRefusals []struct {
	name  string
	setup func(t *testing.T, src string) (inputs []pack.Input, culprit string)
	want  error
}
