package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/progress"
	"github.com/ocipack/ocipack/unpack"
)

func unpackCommand() command {
	return command{
		name:    "unpack",
		args:    "LAYOUT[:TAG|@DIGEST] [-o DIR] [--overwrite] [--key NAME.pub]...",
		nargs:   exactly(1, "need exactly one LAYOUT[:TAG|@DIGEST]"),
		summary: "Unpack an artifact's files into a directory, verified",
		examples: `  ocipack unpack ./bundle:v1.2.0 -o /srv/deploy
  ocipack unpack ./bundle@sha256:0123…cdef -o out --overwrite

Every byte is checked against its digest before any file appears in DIR;
on any error DIR is left exactly as it was. A layout with a single tag
needs no tag.
` + fmt.Sprintf(policyHelp, "written to DIR"),
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			out := fs.StringP("output", "o", ".", "destination `DIR` (created if missing)")
			overwrite := fs.Bool("overwrite", false, "replace files and directories that already exist in DIR")
			maxSize := fs.Int64("max-size", 0, "refuse to write more than this many `BYTES` in all (0: the default limit)")
			pf := addPolicyFlags(fs)
			return func(ctx context.Context, e *env, args []string) error {
				pol, err := pf.enforcement()
				if err != nil {
					return err
				}
				src, ref, err := openSource(ctx, args[0])
				if err != nil {
					return err
				}
				defer src.Close()
				r, err := chooseRef(ctx, src, ref)
				if err != nil {
					return err
				}
				bar := progress.New(e.stderr, "unpacking", e.progress, progress.Final("unpacked"))
				res, err := unpack.Unpack(ctx, src, r, *out, unpack.Options{Overwrite: *overwrite, MaxSize: *maxSize, Progress: bar.Update, Policy: pol})
				bar.Finish()
				if err != nil {
					return refused(e, err, "nothing was unpacked into "+*out)
				}
				for _, f := range res.Files {
					kind := "file"
					if f.Dir {
						kind = "dir "
					}
					fmt.Fprintf(e.stdout, "%s %s\n", kind, filepath.Join(*out, filepath.FromSlash(f.Title)))
				}
				fmt.Fprintf(e.stdout, "unpacked %s (%s) into %s: %d item(s)\n", ref, res.Manifest.Digest, *out, len(res.Files))
				return nil
			}
		},
	}
}
