package cli

import (
	"context"
	"fmt"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/pack"
	"github.com/ocipack/ocipack/signing"
)

func signCommand() command {
	return command{
		name:    "sign",
		args:    "LAYOUT[:TAG|@DIGEST] --key NAME.key [--recursive] | LAYOUT --all-tags --key NAME.key",
		nargs:   exactly(1, "need exactly one LAYOUT[:TAG|@DIGEST]"),
		summary: "Sign an entry with a cosign key; the signature is stored as its referrer",
		examples: `  COSIGN_PASSWORD=… ocipack sign ./bundle:v1.2.0 --key cosign.key
  ocipack sign ./images:multi --key cosign.key --recursive --password-stdin < pw.txt
  ocipack sign ./bundle --all-tags --key cosign.key

The signature is what 'cosign sign --key' (v3) writes with no transparency
log: a Sigstore bundle with a DSSE envelope over an in-toto statement of the
manifest digest, in a referrer manifest of the signed manifest. It travels
with push/pull/copy --referrers, export/import and sync, and verifies with
'ocipack verify --key NAME.pub' and 'cosign verify --key NAME.pub
--insecure-ignore-tlog'. Signing again with the same key adds nothing. The
password comes from --password-stdin, else COSIGN_PASSWORD, else the
terminal.
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			keyFile := fs.String("key", "", "the private key `FILE` (NAME.key, from 'ocipack key generate' or 'cosign generate-key-pair')")
			recursive := fs.Bool("recursive", false, "sign each manifest of an image index too")
			allTags := fs.Bool("all-tags", false, "sign every tagged entry of LAYOUT")
			pwStdin := fs.Bool("password-stdin", false, "read the key's password from stdin")
			asJSON := fs.Bool("json", false, "print what was signed as JSON")
			return func(ctx context.Context, e *env, args []string) error {
				if *keyFile == "" {
					return usagef("give the private key with --key NAME.key")
				}
				l, ref, err := openLayoutRef(ctx, args[0])
				if err != nil {
					return err
				}
				defer l.Close()
				type target struct {
					name string
					desc ocispec.Descriptor
				}
				var targets []target
				if *allTags {
					if ref.Ref() != "" {
						return usagef("--all-tags signs every entry: give LAYOUT without a tag")
					}
					tags, err := l.Tags(ctx)
					if err != nil {
						return err
					}
					for _, t := range tags {
						if !signing.IsSignatureTag(t.Tag) {
							targets = append(targets, target{t.Tag, t.Descriptor})
						}
					}
					if len(targets) == 0 {
						return fmt.Errorf("layout %s has no tagged entries to sign", ref.Path)
					}
				} else {
					r := ref.Ref()
					if r == "" {
						tags, err := l.Tags(ctx)
						if err != nil {
							return err
						}
						if len(tags) != 1 {
							return usagef("layout %s has %d tags: name one as %s:TAG, or give --all-tags", ref.Path, len(tags), ref.Path)
						}
						r = tags[0].Tag
					}
					d, err := l.Resolve(ctx, r)
					if err != nil {
						return err
					}
					targets = append(targets, target{r, d})
				}
				pw, err := keyPassword(e, *pwStdin, false)
				if err != nil {
					return err
				}
				s, err := signing.LoadPrivateKeyFile(*keyFile, pw)
				if err != nil {
					return err
				}
				opts := signing.SignOptions{Recursive: *recursive}
				if t, err := pack.SourceDateEpochFromEnv(); err != nil {
					return err
				} else if t != nil {
					opts.Created = *t
				} else {
					opts.Created = time.Now()
				}
				var all []signing.Signed
				for _, t := range targets {
					res, err := signing.Sign(ctx, l, t.desc, t.name, s, opts)
					all = append(all, res...)
					if err != nil {
						return err
					}
				}
				if *asJSON {
					return writeJSON(e.stdout, all)
				}
				for _, r := range all {
					if r.Existing {
						fmt.Fprintf(e.stdout, "%s (%s): already signed with this key (signature %s); nothing added\n", r.Name, r.Subject.Digest, r.Signature.Digest)
					} else {
						fmt.Fprintf(e.stdout, "signed %s (%s): signature %s\n", r.Name, r.Subject.Digest, r.Signature.Digest)
					}
				}
				return nil
			}
		},
	}
}
