package cli

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
	"oras.land/oras-go/v2/registry"

	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/progress"
	"github.com/ocipack/ocipack/signing"
	"github.com/ocipack/ocipack/transfer"
)

func pushCommand() command {
	return command{
		name:    "push",
		args:    "LAYOUT[:TAG|@DIGEST] REGISTRY/REPO[:TAG] [flags]\n  ocipack push --all-tags LAYOUT REGISTRY/REPO [flags]\n  ocipack push --mirror LAYOUT REGISTRY[/PREFIX] [flags]",
		nargs:   exactly(2, "need a LAYOUT[:TAG|@DIGEST] and a REGISTRY/REPO[:TAG]"),
		summary: "Push an artifact (or every tag) of a layout to a registry",
		examples: `  ocipack push ./bundle:v1.2.0 registry.internal:5000/apps/bundle
  ocipack push ./bundle:v1.2.0 registry.internal:5000/apps/bundle:stable
  ocipack push --all-tags ./bundle registry.internal:5000/apps/bundle
  echo "$TOKEN" | ocipack push ./bundle:v1 harbor.example/apps/bundle -u robot --password-stdin
  ocipack push ./charts:0.1.0 registry.internal/charts/hello --ca-file /etc/pki/internal-ca.pem
  ocipack push --mirror ./bundle registry.internal:5000
  ocipack push --mirror ./bundle registry.internal:5000/mirror --platform linux/amd64

Blobs the registry has already are skipped; running an interrupted push
again sends only what is missing.

--mirror pushes every entry named by a full name (as pull without LAYOUT:TAG,
pull --all-tags and import of docker save / ctr export archives name them)
to REGISTRY/PREFIX/PATH:TAG: the source host is dropped, the path kept, so
docker.io/library/nginx:1.27 goes to REGISTRY/PREFIX/library/nginx:1.27, and
an entry named by digest only is pushed by digest. A cluster's containerd
can then use the registry as the mirror of the registries the images came
from. It prints one line an entry: name -> destination, digest, what moved.
Entries with plain tags are skipped, with a note on stderr (push them with
--all-tags). A blob several entries share is sent once, and mounted into
the other repositories. --referrers and --platform apply to every entry.
` + fmt.Sprintf(policyHelp, "sent (every entry pushed is checked)"),
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			rf := addRegistryFlags(fs, true)
			allTags := fs.Bool("all-tags", false, "push every tag of the layout")
			mirror := fs.Bool("mirror", false, "push every entry with a full name to REGISTRY[/PREFIX] under its source repository path and tag")
			pf := addPolicyFlags(fs)
			return func(ctx context.Context, e *env, args []string) error {
				pol, err := pf.enforcement()
				if err != nil {
					return err
				}
				if *mirror {
					return refused(e, pushMirror(ctx, e, rf, args, *allTags, pol), "nothing was pushed")
				}
				l, src, err := openSource(ctx, args[0])
				if err != nil {
					return err
				}
				defer l.Close()
				dst, err := transfer.ParseReference(args[1])
				if err != nil {
					return usagef("%v", err)
				}
				opts, err := rf.options(e)
				if err != nil {
					return err
				}
				opts.Policy = pol
				onEvent, finish := e.transferReporter("pushed")
				opts.OnEvent = onEvent

				repoName := dst.Registry + "/" + dst.Repository
				if *allTags {
					if src.Ref() != "" || dst.Reference != "" {
						return usagef("--all-tags takes a LAYOUT and a REGISTRY/REPO without tags")
					}
					tags, err := l.Tags(ctx)
					if err != nil {
						return err
					}
					if len(tags) == 0 {
						return fmt.Errorf("%s has no tags: nothing to push", l.Path())
					}
					// One client for every tag; several tags at once.
					err = transfer.PushTags(ctx, l, dst, tags, opts, func(tag string, res *transfer.Result) {
						finish() // end the progress line before the summary
						fmt.Fprintf(e.stdout, "%s -> %s:%s\n", summary("pushed", res), repoName, tag)
					})
					finish() // end the progress line before an error is printed too
					return refused(e, err, "nothing was pushed")
				}
				r, err := chooseRef(ctx, l, src)
				if err != nil {
					return err
				}
				dstTag := dst.Reference
				if dstTag == "" && src.Digest == "" {
					dstTag = layout.NameTag(r) // a full name's tag; "" (by digest) for a digest-only name
				}
				if _, err := dst.Digest(); err == nil {
					return usagef("the destination %s names a digest: give a tag or none", args[1])
				}
				res, err := transfer.Push(ctx, l, r, dst, dstTag, opts)
				finish() // end the progress line before an error is printed too
				if err != nil {
					return refused(e, err, "nothing was pushed")
				}
				target := repoName
				if dstTag != "" {
					target += ":" + dstTag
				} else {
					target += "@" + res.Manifest.Digest.String()
				}
				fmt.Fprintf(e.stdout, "%s -> %s\n", summary("pushed", res), target)
				return nil
			}
		},
	}
}

// pushMirror is push --mirror LAYOUT REGISTRY[/PREFIX].
func pushMirror(ctx context.Context, e *env, rf *registryFlags, args []string, allTags bool, pol *signing.Policy) error {
	if allTags {
		return usagef("--mirror pushes every entry with a full name; leave out --all-tags")
	}
	l, src, err := openSource(ctx, args[0])
	if err != nil {
		return err
	}
	defer l.Close()
	if src.Ref() != "" {
		return usagef("--mirror takes a LAYOUT without a tag or digest: it pushes every entry with a full name")
	}
	dst, err := transfer.ParseMirrorReference(args[1])
	if err != nil {
		return usagef("%v", err)
	}
	opts, err := rf.options(e)
	if err != nil {
		return err
	}
	opts.Policy = pol
	names, err := l.Tags(ctx)
	if err != nil {
		return err
	}
	onEvent, finish := e.transferReporter("pushed")
	opts.OnEvent = onEvent
	var total transfer.Result
	n := 0
	err = transfer.PushMirror(ctx, l, names, dst, opts, func(m transfer.MirrorResult) {
		finish() // end the progress line before the line of the entry
		if m.Skipped {
			fmt.Fprintf(e.stderr, "skipped %s: a plain tag names no source repository (push it with push %s:%s REGISTRY/REPO)\n", m.Name, l.Path(), m.Name)
			return
		}
		res := m.Result
		fmt.Fprintf(e.stdout, "%s -> %s %s: %s sent, %d blob(s) copied%s, %d skipped (already there), %d manifest(s)\n",
			m.Name, m.Destination, res.Manifest.Digest, progress.Bytes(res.Bytes), res.Copied, mountedNote(res), res.Skipped, res.Manifests)
		n++
		total.Add(res)
	})
	finish() // end the progress line before an error is printed too
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "mirrored %d entr%s of %s: %s sent, %d blob(s) copied%s, %d skipped (already there), %d manifest(s) -> %s\n",
		n, map[bool]string{true: "y", false: "ies"}[n == 1], l.Path(), progress.Bytes(total.Bytes), total.Copied, mountedNote(&total), total.Skipped, total.Manifests, mirrorName(dst))
	return nil
}

// mirrorName is REGISTRY[/PREFIX].
func mirrorName(dst registry.Reference) string {
	if dst.Repository == "" {
		return dst.Registry
	}
	return dst.Registry + "/" + dst.Repository
}
