package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/archive"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
	"github.com/ocipack/ocipack/progress"
)

func packCommand() command {
	return command{
		name:    "pack",
		args:    "LAYOUT:TAG PATH[:MEDIATYPE]... [flags]",
		summary: "Pack files and directories into a layout as one tagged artifact",
		examples: `  # a tarball and a directory of manifests, as v1.2.0
  ocipack pack ./bundle:v1.2.0 app-1.2.0.tar.gz ./k8s

  # a file with a media type of your choosing
  ocipack pack ./bundle:v1 app.tar.gz:application/vnd.example.app.v1.tar+gzip

  # a Helm chart, as 'helm push' stores it (tag = chart version)
  ocipack pack ./charts --helm mychart-1.2.0.tgz

  # reproducible: the same digest on any machine
  SOURCE_DATE_EPOCH=1700000000 ocipack pack ./bundle:v1 ./deploy --compression zstd

  # with an artifact type and annotations
  ocipack pack ./bundle:v1 app.tar --artifact-type application/vnd.example.app.v1 \
      --annotation org.opencontainers.image.source=https://example.com/app
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			artifactType := fs.String("artifact-type", pack.DefaultArtifactType, "the manifest's artifactType")
			annotations := fs.StringArrayP("annotation", "a", nil, "manifest annotation `KEY=VALUE` (repeatable)")
			config := fs.String("config", "", "store `FILE[:MEDIATYPE]` as the manifest's config (default: the empty config)")
			compression := fs.String("compression", "gzip", "compression of directory archives: gzip, zstd or none")
			keepMtime := fs.Bool("keep-mtime", false, "keep files' mtimes in directory archives (no longer reproducible)")
			helm := fs.String("helm", "", "pack this packaged Helm `CHART.tgz` the way 'helm push' does (the tag defaults to the chart version)")
			return func(ctx context.Context, e *env, args []string) error {
				if *helm != "" {
					return packHelm(ctx, e, args, *helm)
				}
				if len(args) < 2 {
					return usagef("need a LAYOUT:TAG and at least one PATH")
				}
				ref, err := layout.ParseReference(args[0])
				if err != nil {
					return usagef("%v", err)
				}
				if ref.Tag == "" {
					return usagef("%q names no tag: write LAYOUT:TAG, for example ./bundle:v1", args[0])
				}
				comp, err := pack.ParseCompression(*compression)
				if err != nil {
					return usagef("--compression: %v", err)
				}
				opts := pack.Options{ArtifactType: *artifactType, Compression: comp, KeepMtime: *keepMtime, Annotations: map[string]string{}}
				for _, a := range *annotations {
					k, v, ok := strings.Cut(a, "=")
					if !ok || k == "" {
						return usagef("--annotation %q: write KEY=VALUE", a)
					}
					opts.Annotations[k] = v
				}
				if *config != "" {
					in := pack.ParseInput(*config)
					opts.Config = &in
				}
				if opts.SourceDateEpoch, err = pack.SourceDateEpochFromEnv(); err != nil {
					return usagef("%v", err)
				}
				var inputs []pack.Input
				for _, a := range args[1:] {
					inputs = append(inputs, pack.ParseInput(a))
				}
				l, err := layout.OpenOrCreate(ctx, ref.Path)
				if err != nil {
					return err
				}
				defer l.Close()
				bar := progress.New(e.stderr, "packing", e.progress, progress.Final("packed"))
				opts.Progress = bar.Update
				opts.CheckSpace = func(need int64) error { return archive.CheckSpace(ref.Path, need) }
				res, err := pack.Pack(ctx, l, ref.Tag, inputs, opts)
				bar.Finish()
				if err != nil {
					return err
				}
				var total int64
				for _, d := range res.Layers {
					total += d.Size
				}
				fmt.Fprintf(e.stdout, "packed %s: %d file(s), %s, manifest %s\n", ref, len(res.Layers), progress.Bytes(total), res.Manifest.Digest)
				return nil
			}
		},
	}
}

// packHelm is `ocipack pack LAYOUT[:TAG] --helm CHART.tgz`.
func packHelm(ctx context.Context, e *env, args []string, chart string) error {
	if len(args) != 1 {
		return usagef("with --helm, give only a LAYOUT[:TAG]: the chart is the --helm file")
	}
	ref, err := layout.ParseReference(args[0])
	if err != nil {
		return usagef("%v", err)
	}
	if ref.Digest != "" {
		return usagef("%q names a digest: write LAYOUT or LAYOUT:TAG", args[0])
	}
	sde, err := pack.SourceDateEpochFromEnv()
	if err != nil {
		return usagef("%v", err)
	}
	l, err := layout.OpenOrCreate(ctx, ref.Path)
	if err != nil {
		return err
	}
	defer l.Close()
	bar := progress.New(e.stderr, "packing", e.progress, progress.Final("packed"))
	res, err := pack.PackHelm(ctx, l, ref.Tag, chart, pack.Options{SourceDateEpoch: sde, Progress: bar.Update})
	bar.Finish()
	if err != nil {
		return err
	}
	tag := ref.Tag
	if tag == "" {
		if meta, err := pack.HelmChartMetadata(chart); err == nil {
			tag = pack.HelmTag(meta.Version)
		}
	}
	fmt.Fprintf(e.stdout, "packed Helm chart %s as %s:%s, manifest %s\n", chart, ref.Path, tag, res.Manifest.Digest)
	return nil
}
