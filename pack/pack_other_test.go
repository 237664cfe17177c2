//go:build !unix

package pack_test

// hardLinksKept: without inode numbers, pack stores each name of a file as
// a copy.
const hardLinksKept = false

var platformRefusals []ptRefusal
