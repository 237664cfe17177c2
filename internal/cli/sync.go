package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/bundle"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
	"github.com/ocipack/ocipack/progress"
)

func syncCommand() command {
	return command{
		name:    "sync",
		args:    "-f BUNDLE.yaml LAYOUT [flags]",
		nargs:   exactly(1, "need a LAYOUT (and the bundle file with -f)"),
		summary: "Fill a layout from a declarative bundle file, with a lock file",
		examples: `  ocipack sync -f bundle.yaml ./bundle
  ocipack sync -f bundle.yaml ./bundle --locked
  ocipack sync -f bundle.yaml ./bundle --prune --json

A bundle file lists images, charts and files:

  images:
    - ref: registry.example/library/nginx:1.27   # a tag or @sha256:…
      platforms: [linux/amd64, linux/arm64]      # optional; default all
  charts:
    - ref: oci://registry.example/charts/podinfo # a chart in an OCI registry
      version: 6.7.0
    - repo: https://charts.example/stable        # a chart repository (index.yaml)
      name: podinfo
      version: ^6.7.0                            # exact, or a semver range
      images: true                               # and the images it lists
    - path: ./mychart-1.0.0.tgz                  # a packaged local chart
    - path: ./charts/mychart                     # a chart directory
  files:
    - path: ./install.sh                         # a file or directory
      name: tools/install:1.0
    - url: https://downloads.example/tool-1.0.tar.gz
      sha256: 9f86d081…
      name: tools/tool:1.0

Images and OCI charts are named by their full names (registry.example/
charts/podinfo:6.7.0); a chart of a repository is HOST/PATH/NAME:VERSION
after the repository URL (charts.example/stable/podinfo:6.8.1, the
version a range picked); a local chart or chart directory is
bundle.local/charts/NAME:VERSION, a file named REPO:TAG is
bundle.local/REPO:TAG. Unknown keys, an image without tag or digest, a
URL without sha256, a path that does not exist, and a chart version no
repository has fail before anything is fetched, naming the file and line.
images: true adds the images the chart lists in its Chart.yaml's
artifacthub.io/images annotation. A chart directory is packaged as
helm package does (.helmignore applies), reproducibly.

sync writes BUNDLE.lock beside the file: each entry's resolved digest.
A second run asks registries only for the tags (HEAD) and transfers
nothing for entries that did not change. --locked fetches exactly what the
lock names and fails before fetching when file and lock disagree. --prune
untags the entries an earlier sync added that the file no longer lists.
An entry is tagged only when all of it is stored: a failure leaves the
entries the layout had as they were.

With --key (repeatable: any one of the keys) or --trusted-root with
--certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp], as
'ocipack verify' takes them, each image and OCI chart (what comes from a
registry) is pulled with its signatures (as --referrers) and must carry a
valid one before it is tagged, also when it did not change since the last
sync. The first entry refused stops the sync, named with its digest and the
reason; it stays untagged (what it brought is left for 'ocipack gc'), and
the layout keeps what it had under that name. Files and charts packed here
(paths, URLs, chart repositories) carry no upstream signature and are not
checked. An image synced with platforms: gets a new index, which nobody
signed: it is refused.
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			rf := addRegistryFlags(fs, true)
			file := fs.StringP("file", "f", "", "the bundle `FILE` (YAML)")
			locked := fs.Bool("locked", false, "fetch exactly what the lock file names; fail if it disagrees with the bundle file")
			prune := fs.Bool("prune", false, "untag the entries an earlier sync added that the bundle file no longer lists")
			asJSON := fs.Bool("json", false, "print the result as JSON")
			pf := addPolicyFlags(fs)
			return func(ctx context.Context, e *env, args []string) error {
				pol, err := pf.enforcement()
				if err != nil {
					return err
				}
				if *file == "" {
					return usagef("give the bundle file with -f BUNDLE.yaml")
				}
				dst, err := layout.ParseReference(args[0])
				if err != nil {
					return usagef("%v", err)
				}
				if dst.Tag != "" || dst.Digest != "" {
					return usagef("%s: give a LAYOUT without a tag: the bundle file names the entries", args[0])
				}
				f, err := bundle.Load(*file)
				if err != nil {
					return err
				}
				topts, err := rf.options(e)
				if err != nil {
					return err
				}
				sde, err := pack.SourceDateEpochFromEnv()
				if err != nil {
					return usagef("%v", err)
				}
				topts.Policy = pol
				opts := bundle.Options{Transfer: topts, Locked: *locked, Prune: *prune, SourceDateEpoch: sde}
				if !e.quiet {
					opts.OnEntry = func(r bundle.EntryResult) {
						if r.Status == "" {
							fmt.Fprintf(e.stderr, "%s %s (line %d) ...\n", r.Kind, r.Name, r.Line)
							return
						}
						fmt.Fprintf(e.stderr, "%s %s: %s %s, %s received\n", r.Kind, r.Name, r.Status, r.Digest, progress.Bytes(r.Bytes))
					}
				}
				l, err := layout.OpenOrCreate(ctx, dst.Path)
				if err != nil {
					return err
				}
				defer l.Close()
				res, err := bundle.Sync(ctx, f, l, opts)
				if res != nil && len(res.Entries) > 0 {
					if *asJSON {
						enc := json.NewEncoder(e.stdout)
						enc.SetIndent("", "  ")
						if jerr := enc.Encode(map[string]any{"layout": dst.Path, "lock": bundle.LockPath(*file), "entries": res.Entries}); jerr != nil && err == nil {
							err = jerr
						}
					} else {
						tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
						fmt.Fprintln(tw, "ENTRY\tKIND\tDIGEST\tSIZE\tSTATUS")
						for _, r := range res.Entries {
							fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Kind, r.Digest, progress.Bytes(r.Size), r.Status)
						}
						tw.Flush()
					}
				}
				return refused(e, err, "that entry was not tagged")
			}
		},
	}
}
