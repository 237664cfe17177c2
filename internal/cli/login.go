package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/ocipack/ocipack/transfer"
)

func loginCommand() command {
	return command{
		name:    "login",
		args:    "REGISTRY [-u USER] [--password-stdin]",
		nargs:   exactly(1, "need exactly one REGISTRY (HOST[:PORT])"),
		summary: "Log in to a registry and store the credential as docker does",
		examples: `  echo "$TOKEN" | ocipack login registry.internal:5000 -u robot --password-stdin
  ocipack login harbor.example -u admin      # asks for the password on the terminal
  echo "$TOKEN" | ocipack login charts.example -u ci --password-stdin --no-verify   # a chart repository

The credential is checked against the registry first; --no-verify stores it
unchecked, for a chart repository or download server that 'sync' reads
(which is no registry to check it against).

The credential goes to docker's credential helper when config.json names one
(credsStore, credHelpers), else into config.json under $DOCKER_CONFIG or
~/.docker, where docker, oras and helm find it too.
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			rf := addRegistryFlags(fs, false)
			noVerify := fs.Bool("no-verify", false, "store the credential without checking it (for a chart repository or download server)")
			return func(ctx context.Context, e *env, args []string) error {
				host := args[0]
				if rf.username == "" {
					return usagef("give -u/--username")
				}
				var password string
				if rf.passwordStdin {
					b, err := io.ReadAll(io.LimitReader(e.stdin, 64<<10))
					if err != nil {
						return fmt.Errorf("read password from stdin: %w", err)
					}
					password = strings.TrimRight(string(b), "\r\n")
				} else if f, ok := e.stdin.(*os.File); ok && isTerminal(f) {
					fmt.Fprint(e.stderr, "Password: ")
					b, err := readPassword(f)
					fmt.Fprintln(e.stderr)
					if err != nil {
						return fmt.Errorf("read password: %w", err)
					}
					password = string(b)
				} else {
					return usagef("no terminal to ask for the password on: pipe it in with --password-stdin")
				}
				if password == "" {
					return usagef("the password is empty")
				}
				user := rf.username
				rf.username, rf.passwordStdin = "", false // the credential is checked as given, not looked up
				opts, err := rf.options(e)
				if err != nil {
					return err
				}
				cred := auth.Credential{Username: user, Password: password}
				if *noVerify {
					if err := transfer.StoreCredential(ctx, opts.Connection.Credentials, host, cred); err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "credential stored (not checked): %s\n", host)
					return nil
				}
				if err := transfer.Login(ctx, opts.Connection.Credentials, host, cred, opts.Connection); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "login succeeded: %s\n", host)
				return nil
			}
		},
	}
}
