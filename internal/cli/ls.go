package cli

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/inspect"
	"github.com/ocipack/ocipack/progress"
)

func lsCommand() command {
	return command{
		name:    "ls",
		args:    "LAYOUT|ARCHIVE [--json]",
		nargs:   exactly(1, "need exactly one LAYOUT"),
		summary: "List a layout's tags with digest, artifact type and size",
		examples: `  ocipack ls ./bundle
  ocipack ls bundle.tar.zst            # an archive, read in place
  ocipack ls ./bundle --json | jq -r '.[].tag'

Manifests that index.json lists without a tag (as 'crane pull --format=oci'
writes them) are listed after the tags as <none> (tag "" in --json); address
them as LAYOUT@DIGEST. Referrers (signatures, SBOMs) are not listed.
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			asJSON := fs.Bool("json", false, "print JSON for scripts")
			return func(ctx context.Context, e *env, args []string) error {
				l, _, err := openSource(ctx, args[0])
				if err != nil {
					return err
				}
				defer l.Close()
				entries, err := inspect.Summaries(ctx, l)
				if err != nil {
					return err
				}
				var broken []string
				if *asJSON {
					// The entries carry their errors; the exit status
					// says so too, as it does for the table.
					if err := writeJSON(e.stdout, entries); err != nil {
						return err
					}
					for _, t := range entries {
						if t.Error != "" {
							broken = append(broken, entryName(t))
						}
					}
					if len(broken) > 0 {
						return fmt.Errorf("%d tag(s) point at damaged or missing manifests (%s); run 'ocipack verify %s'", len(broken), strings.Join(broken, ", "), l.Path())
					}
					return nil
				}
				// tabwriter writes cell by cell: buffered, a table of
				// 10,000 tags is a few writes rather than 120,000.
				bw := bufio.NewWriterSize(e.stdout, 64<<10)
				tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "TAG\tDIGEST\tARTIFACT TYPE\tFILES\tSIZE\tCREATED")
				for _, t := range entries {
					at := t.ArtifactType
					if at == "" {
						at = t.MediaType
					}
					tag := t.Tag
					if tag == "" {
						tag = "<none>" // as docker lists an untagged image
					}
					if t.Error != "" {
						broken = append(broken, entryName(t))
						fmt.Fprintf(tw, "%s\t%s\t%s\t?\t?\tERROR: %s\n", tag, t.Digest, at, oneLine(t.Error))
						continue
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", tag, t.Digest, at, t.Files, progress.Bytes(t.Size), t.Created)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				if err := bw.Flush(); err != nil {
					return err
				}
				if len(broken) > 0 {
					return fmt.Errorf("%d tag(s) point at damaged or missing manifests (%s); run 'ocipack verify %s'", len(broken), strings.Join(broken, ", "), l.Path())
				}
				return nil
			}
		},
	}
}

// entryName names a listed entry in a message: its tag, or @DIGEST.
func entryName(s inspect.Summary) string {
	if s.Tag != "" {
		return s.Tag
	}
	return "@" + s.Digest.String()
}
