package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/signing"
)

// policyFlags are the flags that say which signatures to accept, named as
// cosign names them: verify takes them (and commands that refuse unsigned
// entries may).
type policyFlags struct {
	keys                     []string
	trustedRoot              string
	identity, identityRegexp string
	issuer, issuerRegexp     string
	ignoreSCT                bool
}

func addPolicyFlags(fs *pflag.FlagSet) *policyFlags {
	f := &policyFlags{}
	fs.StringArrayVar(&f.keys, "key", nil, "require a signature by this public key `FILE` (cosign's NAME.pub); repeatable: any one of them")
	fs.StringVar(&f.trustedRoot, "trusted-root", "", "accept keyless signatures (Fulcio certificate, Rekor entry) that Sigstore's trusted_root.json `FILE` vouches for, offline")
	fs.StringVar(&f.identity, "certificate-identity", "", "keyless: the signer's identity (an e-mail, a workflow URI), exactly")
	fs.StringVar(&f.identityRegexp, "certificate-identity-regexp", "", "keyless: a regular expression the signer's identity matches")
	fs.StringVar(&f.issuer, "certificate-oidc-issuer", "", "keyless: the OIDC issuer of the signer's identity, exactly")
	fs.StringVar(&f.issuerRegexp, "certificate-oidc-issuer-regexp", "", "keyless: a regular expression the OIDC issuer matches")
	fs.BoolVar(&f.ignoreSCT, "insecure-ignore-sct", false, "keyless: accept a certificate without a signed certificate timestamp")
	return f
}

// given reports whether any signature flag was given.
func (f *policyFlags) given() bool {
	return len(f.keys) > 0 || f.trustedRoot != "" || f.identity != "" || f.identityRegexp != "" || f.issuer != "" || f.issuerRegexp != ""
}

// policy loads the keys and trusted root the flags name.
func (f *policyFlags) policy() (*signing.Policy, error) {
	p := &signing.Policy{IgnoreSCT: f.ignoreSCT}
	for _, k := range f.keys {
		pub, err := signing.LoadPublicKeyFile(k)
		if err != nil {
			return nil, fmt.Errorf("--key %s: %w", k, err)
		}
		p.Keys = append(p.Keys, pub)
	}
	keyless := f.identity != "" || f.identityRegexp != "" || f.issuer != "" || f.issuerRegexp != ""
	switch {
	case f.trustedRoot == "" && keyless:
		return nil, usagef("--certificate-identity and --certificate-oidc-issuer need --trusted-root FILE (Sigstore's trusted_root.json)")
	case f.trustedRoot != "" && (f.identity == "" && f.identityRegexp == "" || f.issuer == "" && f.issuerRegexp == ""):
		return nil, usagef("--trusted-root needs --certificate-identity (or -regexp) and --certificate-oidc-issuer (or -regexp): whose signatures to accept")
	case f.identity != "" && f.identityRegexp != "":
		return nil, usagef("give --certificate-identity or --certificate-identity-regexp, not both")
	case f.issuer != "" && f.issuerRegexp != "":
		return nil, usagef("give --certificate-oidc-issuer or --certificate-oidc-issuer-regexp, not both")
	}
	if f.trustedRoot != "" {
		tr, err := signing.LoadTrustedRoot(f.trustedRoot)
		if err != nil {
			return nil, fmt.Errorf("--trusted-root: %w", err)
		}
		p.TrustedRoot = tr
		p.Identities = []signing.Identity{{Subject: f.identity, SubjectRegexp: f.identityRegexp, Issuer: f.issuer, IssuerRegexp: f.issuerRegexp}}
	}
	return p, nil
}

// keyPassword returns the password of a private key as cosign takes it:
// from stdin with --password-stdin (one trailing newline dropped), else
// from COSIGN_PASSWORD when it is set (empty is a valid password), else
// asked on the terminal (twice with confirm).
func keyPassword(e *env, fromStdin, confirm bool) ([]byte, error) {
	if fromStdin {
		b, err := io.ReadAll(io.LimitReader(e.stdin, 64<<10))
		if err != nil {
			return nil, fmt.Errorf("read password from stdin: %w", err)
		}
		return []byte(strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")), nil
	}
	if pw, ok := os.LookupEnv("COSIGN_PASSWORD"); ok {
		return []byte(pw), nil
	}
	f, ok := e.stdin.(*os.File)
	if !ok || !isTerminal(f) {
		return nil, usagef("no password: set COSIGN_PASSWORD (empty for none) or pipe it in with --password-stdin")
	}
	fmt.Fprint(e.stderr, "Enter password for private key: ")
	pw, err := readPassword(f)
	fmt.Fprintln(e.stderr)
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	if confirm {
		fmt.Fprint(e.stderr, "Enter password for private key again: ")
		again, err := readPassword(f)
		fmt.Fprintln(e.stderr)
		if err != nil {
			return nil, fmt.Errorf("read password: %w", err)
		}
		if string(again) != string(pw) {
			return nil, usagef("the passwords do not match")
		}
	}
	return pw, nil
}
