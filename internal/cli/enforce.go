package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ocipack/ocipack/signing"
)

// policyHelp is the help text of the commands that refuse unsigned
// entries with --key / --trusted-root.
const policyHelp = `
With --key (repeatable: any one of the keys) or --trusted-root with
--certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp], as
'ocipack verify' takes them, each entry must carry a valid signature (see
'ocipack verify --help'); an entry without one is refused, named with its
digest and the reason, before anything is %s.
Nothing is fetched from the network to verify.
`

// enforcement returns the policy of the signature flags, nil when none was
// given.
func (f *policyFlags) enforcement() (*signing.Policy, error) {
	if !f.given() {
		return nil, nil
	}
	return f.policy()
}

// refused prints one line per entry a *signing.FailedError in err names
// ("refused: ENTRY (DIGEST): why (what to do)") and returns a summary that
// says nothing was done; other errors are returned as they are.
func refused(e *env, err error, nothing string) error {
	var fe *signing.FailedError
	if !errors.As(err, &fe) {
		return err
	}
	for _, r := range fe.Failed {
		fmt.Fprintf(e.stderr, "refused: %s\n", oneLine(r.Err.Error()))
	}
	// What the command said about where it was (sync's FILE:LINE), if
	// anything, stays in front.
	where := strings.TrimSuffix(err.Error(), fe.Error())
	n := len(fe.Failed)
	return fmt.Errorf("%s%w: %d entr%s without a valid signature (listed above); %s", where, errProblems, n, map[bool]string{true: "y", false: "ies"}[n == 1], nothing)
}
