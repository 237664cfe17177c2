// Command ocipack packs files and directories into an OCI image layout,
// moves the layout across an air gap or into a registry, and unpacks it on
// the target machine.
//
// The command line lives in internal/cli (one file per command); the work
// in the packages layout, pack, unpack, archive, transfer and source.
package main

import (
	"os"

	"github.com/ocipack/ocipack/internal/cli"
)

func main() { os.Exit(cli.Main()) }
