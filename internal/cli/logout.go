package cli

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/transfer"
)

func logoutCommand() command {
	return command{
		name:     "logout",
		args:     "REGISTRY",
		nargs:    exactly(1, "need exactly one REGISTRY (HOST[:PORT])"),
		summary:  "Remove a registry's stored credential",
		examples: "  ocipack logout registry.internal:5000\n",
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			return func(ctx context.Context, e *env, args []string) error {
				store, err := transfer.DockerCredentials()
				if err != nil {
					return err
				}
				if err := transfer.Logout(ctx, store, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "logged out of %s\n", args[0])
				return nil
			}
		},
	}
}
