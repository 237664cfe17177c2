package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/ocipack/ocipack/inspect"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/progress"
	"github.com/ocipack/ocipack/transfer"
)

// remoteRef reports whether inspect's argument names a registry reference
// (HOST/REPO:TAG or HOST/REPO@DIGEST, HOST with a dot or a port, or
// localhost) rather than a layout or archive: a path that exists locally
// wins.
func remoteRef(arg string) bool {
	if ref, err := layout.ParseReference(arg); err == nil {
		if _, err := os.Stat(ref.Path); err == nil {
			return false
		}
	}
	if _, err := os.Stat(arg); err == nil {
		return false
	}
	ref, err := transfer.ParseReference(arg)
	if err != nil || ref.Reference == "" {
		return false
	}
	host, _, _ := strings.Cut(arg, "/")
	return strings.ContainsAny(host, ".:") || host == "localhost"
}

// describeRemote fetches the manifest (or index) arg names from its
// registry, and no blob.
func describeRemote(ctx context.Context, e *env, rf *registryFlags, arg string) (*inspect.Inspection, error) {
	ref, err := transfer.ParseReference(arg)
	if err != nil {
		return nil, usagef("%v", err)
	}
	opts, err := rf.options(e)
	if err != nil {
		return nil, err
	}
	repo, err := transfer.NewRepository(ref, opts.Connection)
	if err != nil {
		return nil, err
	}
	in, err := inspect.Describe(ctx, repo, ref.Reference)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", arg, err)
	}
	return in, nil
}

// printPlatforms lists an index's children: platform, digest, size.
func printPlatforms(w io.Writer, ps []inspect.PlatformEntry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PLATFORM\tDIGEST\tSIZE")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Platform, p.Digest, progress.Bytes(p.Size))
	}
	return tw.Flush()
}
