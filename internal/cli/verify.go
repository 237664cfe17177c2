package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/archive"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/progress"
	"github.com/ocipack/ocipack/signing"
	"github.com/ocipack/ocipack/source"
)

// errProblems is returned by verify when it found problems: they were
// printed already, so main prints only this summary line.
var errProblems = errors.New("problems found")

func verifyCommand() command {
	return command{
		name:    "verify",
		args:    "LAYOUT[:TAG|@DIGEST] [--fast] [--json] [--key NAME.pub]... [--trusted-root FILE --certificate-identity ID --certificate-oidc-issuer URL]",
		nargs:   exactly(1, "need exactly one LAYOUT"),
		summary: "Check a layout: index, every manifest, every blob's size and digest; and signatures",
		examples: `  ocipack verify ./bundle
  ocipack verify ./bundle --json | jq '.problems[]'
  ocipack verify bundle.tar.003        # one volume of a split archive, on its own
  ocipack verify ./bundle:v1.2.0 --key cosign.pub
  ocipack verify ./images --trusted-root trusted_root.json \
      --certificate-identity-regexp '^https://github.com/example/' \
      --certificate-oidc-issuer https://token.actions.githubusercontent.com

Exit status 0 when the layout is sound (warnings, such as blobs no tag
reaches, which 'ocipack gc' removes, do not count), 1 when anything is
missing or damaged, with every problem listed.

With --key or --trusted-root, each entry named (every tagged entry when
LAYOUT names none) must also carry a valid signature: by one of the keys
(cosign's bundle format or an older sha256-<hex>.sig signature; no
transparency log needed), or keyless, by a certificate the trusted root's
Fulcio issued to the identity and its Rekor logged. Nothing is fetched from
the network. Every entry unsigned or badly signed is listed, and the exit
status is 1.
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			fast := fs.Bool("fast", false, "check sizes but do not hash blobs (manifests are always hashed)")
			asJSON := fs.Bool("json", false, "print the report as JSON")
			pf := addPolicyFlags(fs)
			return func(ctx context.Context, e *env, args []string) error {
				// Without signature flags args[0] is a path, as it always was.
				path, entry := args[0], ""
				var pol *signing.Policy
				if pf.given() {
					ref, err := layout.ParseReference(args[0])
					if err != nil {
						return usagef("%v", err)
					}
					path, entry = ref.Path, ref.Ref()
					p, err := pf.policy()
					if err != nil {
						return err
					}
					pol = p
				}
				bar := progress.New(e.stderr, "verifying", e.progress, progress.Final("verified"))
				vr, err := source.Verify(ctx, path, source.VerifyOptions{SkipHash: *fast, Progress: bar.Update})
				bar.Finish()
				if err != nil {
					return err
				}
				if pol != nil {
					if vr.Volume != nil {
						return usagef("%s is one volume of a split archive: verify signatures on the whole archive (its base name)", path)
					}
					return verifySignatures(ctx, e, path, entry, vr, pol, *asJSON)
				}
				switch {
				case vr.Volume != nil:
					v := vr.Volume
					if *asJSON {
						return writeJSON(e.stdout, v)
					}
					fmt.Fprintf(e.stdout, "volume %d of %d of archive %s: %s, digest %s: ok\n", v.Number, v.Count, v.Archive, progress.Bytes(v.Size), v.Digest)
					return nil
				case vr.Archive != nil:
					return printArchiveCheck(e, args[0], vr.Archive, *asJSON)
				}
				rep := vr.Layout
				if *asJSON {
					if err := writeJSON(e.stdout, rep); err != nil {
						return err
					}
				} else {
					printLayoutCheck(e.stdout, rep)
				}
				if !rep.OK() {
					return fmt.Errorf("%w: %d in layout %s (listed above); re-import or re-pull what is damaged", errProblems, len(rep.Problems), args[0])
				}
				return nil
			}
		},
	}
}

// verifySignatures prints the integrity report vr of path and checks the
// signatures of entry (every tagged entry when ""), and fails when either
// found a problem.
func verifySignatures(ctx context.Context, e *env, path, entry string, vr *source.VerifyReport, pol *signing.Policy, asJSON bool) error {
	src, err := source.Open(ctx, path)
	if err != nil {
		return err
	}
	defer src.Close()
	names := []string{entry}
	if entry == "" {
		tags, err := src.Tags(ctx)
		if err != nil {
			return err
		}
		names = names[:0]
		for _, t := range tags {
			if !signing.IsSignatureTag(t) {
				names = append(names, t)
			}
		}
	}
	var results []*signing.Result
	for _, n := range names {
		d, err := src.Resolve(ctx, n)
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		r, err := signing.Verify(ctx, src, d, n, pol)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	problems := 0
	if vr.Layout != nil {
		problems = len(vr.Layout.Problems)
	}
	bad := 0
	for _, r := range results {
		if !r.OK() {
			bad++
		}
	}
	if asJSON {
		out := struct {
			Layout     *layout.CheckReport  `json:"layout,omitempty"`
			Archive    *archive.CheckReport `json:"archive,omitempty"`
			Signatures []*signing.Result    `json:"signatures"`
		}{vr.Layout, vr.Archive, results}
		if err := writeJSON(e.stdout, out); err != nil {
			return err
		}
	} else {
		if vr.Archive != nil {
			if err := printArchiveCheck(e, path, vr.Archive, false); err != nil {
				return err
			}
		}
		if rep := vr.Layout; rep != nil {
			printLayoutCheck(e.stdout, rep)
		}
		for _, r := range results {
			if r.OK() {
				fmt.Fprintf(e.stdout, "signed: %s (%s) by %s\n", r.Name, r.Digest, strings.Join(r.SignedBy, ", "))
			} else {
				fmt.Fprintf(e.stdout, "problem: %s\n", r.Err)
			}
		}
		fmt.Fprintf(e.stdout, "%d entr%s checked for signatures: %d without a valid one\n", len(results), map[bool]string{true: "y", false: "ies"}[len(results) == 1], bad)
	}
	if problems > 0 || bad > 0 {
		return fmt.Errorf("%w in %s (listed above): %d integrity problem(s), %d entr%s without a valid signature", errProblems, path, problems, bad, map[bool]string{true: "y", false: "ies"}[bad == 1])
	}
	return nil
}

// printArchiveCheck prints what verify found in a whole archive.
func printArchiveCheck(e *env, path string, rep *archive.CheckReport, asJSON bool) error {
	if asJSON {
		return writeJSON(e.stdout, rep)
	}
	fmt.Fprintf(e.stdout, "archive %s: %d tag(s), %d blob(s), %s verified", path, len(rep.Tags), rep.Blobs, progress.Bytes(rep.Bytes))
	if len(rep.Required) > 0 {
		fmt.Fprintf(e.stdout, "; a delta: the layout it is imported into must hold %d more blob(s)", len(rep.Required))
	}
	fmt.Fprintln(e.stdout)
	return nil
}

// printLayoutCheck prints a layout check's problems, warnings and counts.
func printLayoutCheck(w io.Writer, rep *layout.CheckReport) {
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "problem: %s\n", p)
	}
	for _, x := range rep.Warnings {
		fmt.Fprintf(w, "warning: %s\n", x)
	}
	fmt.Fprintf(w, "%d tag(s), %d manifest(s), %d blob(s), %s checked: %d problem(s), %d warning(s)\n",
		rep.Tags, rep.Manifests, rep.Blobs, progress.Bytes(rep.Bytes), len(rep.Problems), len(rep.Warnings))
}
