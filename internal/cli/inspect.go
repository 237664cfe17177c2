package cli

import (
	"context"
	"fmt"
	"slices"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/inspect"
	"github.com/ocipack/ocipack/progress"
)

func inspectCommand() command {
	return command{
		name:    "inspect",
		args:    "LAYOUT:TAG|LAYOUT@DIGEST|REGISTRY/REPO:TAG [--json]",
		nargs:   exactly(1, "need exactly one LAYOUT:TAG"),
		summary: "Show an artifact: type, created, annotations and every file",
		examples: `  ocipack inspect ./bundle:v1.2.0
  ocipack inspect ./bundle@sha256:0123…cdef --json
  ocipack inspect bundle.tar.zst:v1.2.0     # an archive, read in place
  ocipack inspect registry.example/app:v1   # a registry's manifest or index (no blobs fetched)

An image index is shown with its platforms: one line a child (platform,
digest, size). An argument is a registry reference when no such local path
exists and it starts with a host (a dot or a port in it, or localhost).
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			asJSON := fs.Bool("json", false, "print JSON")
			rf := addRegistryFlags(fs, false)
			return func(ctx context.Context, e *env, args []string) error {
				var in *inspect.Inspection
				if remoteRef(args[0]) {
					var err error
					if in, err = describeRemote(ctx, e, rf, args[0]); err != nil {
						return err
					}
				} else {
					l, ref, err := openSource(ctx, args[0])
					if err != nil {
						return err
					}
					defer l.Close()
					if ref.Ref() == "" {
						return usagef("%q names no tag or digest: write LAYOUT:TAG", args[0])
					}
					if in, err = inspect.Describe(ctx, l, ref.Ref()); err != nil {
						return err
					}
				}
				if *asJSON {
					return writeJSON(e.stdout, in)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintf(tw, "Reference:\t%s\n", args[0])
				fmt.Fprintf(tw, "Digest:\t%s\n", in.Digest)
				fmt.Fprintf(tw, "Media type:\t%s\n", in.MediaType)
				fmt.Fprintf(tw, "Artifact type:\t%s\n", in.ArtifactType)
				fmt.Fprintf(tw, "Created:\t%s\n", in.Created)
				fmt.Fprintf(tw, "Size:\t%s\n", progress.Bytes(in.Size))
				if in.Subject != nil {
					fmt.Fprintf(tw, "Subject:\t%s\n", in.Subject.Digest)
				}
				keys := make([]string, 0, len(in.Annotations))
				for k := range in.Annotations {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				for _, k := range keys {
					fmt.Fprintf(tw, "Annotation:\t%s=%s\n", k, in.Annotations[k])
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				fmt.Fprintln(e.stdout)
				if in.Platforms != nil {
					return printPlatforms(e.stdout, in.Platforms)
				}
				tw = tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "TITLE\tKIND\tMODE\tSIZE\tMEDIA TYPE\tDIGEST")
				for _, f := range in.Files {
					kind := "file"
					if f.Dir {
						kind = "dir"
					}
					title := f.Title
					if title == "" {
						title = "(untitled)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", title, kind, f.Mode, progress.Bytes(f.Size), f.MediaType, f.Digest)
				}
				return tw.Flush()
			}
		},
	}
}
