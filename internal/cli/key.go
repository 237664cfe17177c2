package cli

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/signing"
)

func keyCommand() command {
	return command{
		name:    "key",
		args:    "generate [NAME] [--password-stdin]",
		nargs:   argCount{1, 2, "need 'generate' and at most one NAME"},
		summary: "Make a signing key pair, as cosign generate-key-pair does",
		examples: `  COSIGN_PASSWORD=… ocipack key generate            # cosign.key, cosign.pub
  ocipack key generate release --password-stdin < pw.txt

Writes NAME.key (the ECDSA P-256 private key, encrypted with the password
as cosign encrypts it; mode 0600) and NAME.pub (the public key); NAME is
cosign by default. The password comes from --password-stdin, else from
COSIGN_PASSWORD (set and empty: no password), else from the terminal.
Keys work in cosign and cosign's keys work here. Existing files are never
replaced.
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			pwStdin := fs.Bool("password-stdin", false, "read the key's password from stdin")
			return func(ctx context.Context, e *env, args []string) error {
				if args[0] != "generate" {
					return usagef("unknown subcommand %q: the one subcommand is 'generate'", args[0])
				}
				name := "cosign"
				if len(args) > 1 {
					name = args[1]
				}
				pw, err := keyPassword(e, *pwStdin, true)
				if err != nil {
					return err
				}
				kp, err := signing.GenerateKeyPair(pw)
				if err != nil {
					return err
				}
				if err := kp.WriteFiles(name); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "private key written to %s.key\npublic key written to %s.pub\n", name, name)
				return nil
			}
		},
	}
}
