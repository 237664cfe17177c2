package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/graph"
	"github.com/ocipack/ocipack/progress"
	"github.com/ocipack/ocipack/transfer"
)

type registryFlags struct {
	plainHTTP, insecure   bool
	caFile, certFile, key string
	username              string
	passwordStdin         bool
	concurrency           int
	referrers             bool
	chunkSize             string // push only
	parallelRanges        int    // pull only
	platforms             *[]string
}

func addRegistryFlags(fs *pflag.FlagSet, transferFlags bool) *registryFlags {
	f := &registryFlags{}
	fs.StringVarP(&f.username, "username", "u", "", "registry user name (the password is read from stdin with --password-stdin)")
	fs.BoolVar(&f.passwordStdin, "password-stdin", false, "read the registry password or token from stdin")
	fs.StringVar(&f.caFile, "ca-file", "", "trust the certificate authorities in this PEM `FILE` too")
	fs.StringVar(&f.certFile, "cert-file", "", "client certificate PEM `FILE` for mutual TLS")
	fs.StringVar(&f.key, "key-file", "", "client key PEM `FILE` for mutual TLS")
	fs.BoolVar(&f.insecure, "insecure", false, "do not verify the registry's TLS certificate")
	fs.BoolVar(&f.plainHTTP, "plain-http", false, "talk plain HTTP to the registry, not HTTPS")
	if transferFlags {
		fs.IntVar(&f.concurrency, "concurrency", 4, "blobs transferred at once")
		fs.BoolVar(&f.referrers, "referrers", false, "carry the artifact's referrers (SBOMs, signatures) along")
		f.platforms = addPlatformFlag(fs)
		switch fs.Name() {
		case "ocipack push":
			fs.StringVar(&f.chunkSize, "chunk-size", "", "send blobs larger than `SIZE` (e.g. 64M) in chunks of that size, resumable after a cut (default: whole, chunks of 64M only if the registry refuses a blob as too large)")
		case "ocipack pull":
			fs.IntVar(&f.parallelRanges, "parallel-ranges", 1, "download each blob of 8 MiB or more in `N` HTTP ranges at once")
		}
	}
	return f
}

// options turns the flags into transfer options, reading the password from
// stdin when asked. The password never comes from an argument, so it never
// shows in the process list.
func (f *registryFlags) options(e *env) (transfer.Options, error) {
	o := transfer.Options{
		Connection: transfer.ConnectionOptions{
			PlainHTTP: f.plainHTTP, Insecure: f.insecure,
			CAFile: f.caFile, CertFile: f.certFile, KeyFile: f.key,
			UserAgent: "ocipack/" + version,
		},
		// --concurrency bounds both: blobs of one tag, and tags at once.
		Concurrency: transfer.ConcurrencyOptions{Blobs: f.concurrency, Tags: f.concurrency},
		Resume:      transfer.ResumeOptions{ParallelRanges: f.parallelRanges},
		Referrers:   f.referrers,
	}
	if f.platforms != nil {
		ps, err := parsePlatforms(*f.platforms)
		if err != nil {
			return o, err
		}
		o.Platforms = ps
	}
	if f.chunkSize != "" {
		n, err := parseSize(f.chunkSize)
		if err != nil || n < 1<<20 {
			return o, usagef("--chunk-size %q: give a size of at least 1M, such as 16M or 1G", f.chunkSize)
		}
		o.Resume.ChunkSize = n
	}
	if f.parallelRanges < 0 || f.parallelRanges > 64 {
		return o, usagef("--parallel-ranges %d: give a number from 1 to 64", f.parallelRanges)
	}
	if f.passwordStdin && f.username == "" {
		return o, usagef("--password-stdin needs -u/--username")
	}
	if f.username != "" {
		if !f.passwordStdin {
			return o, usagef("-u/--username needs --password-stdin (a password is never taken as an argument)")
		}
		b, err := io.ReadAll(io.LimitReader(e.stdin, 64<<10))
		if err != nil {
			return o, fmt.Errorf("read password from stdin: %w", err)
		}
		o.Connection.Username, o.Connection.Password = f.username, strings.TrimRight(string(b), "\r\n")
		if o.Connection.Password == "" {
			return o, usagef("--password-stdin: stdin was empty")
		}
		return o, nil
	}
	store, err := transfer.DockerCredentials()
	if err != nil {
		return o, err
	}
	o.Connection.Credentials = store
	return o, nil
}

// parseSize reads a size such as 4G, 700M, 1.5GiB or 4096 (bytes); the
// units are powers of 1024.
func parseSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		if i := strings.IndexByte("KMGT", t[n-1]); i >= 0 {
			mult = int64(1) << (10 * (i + 1))
			t = t[:n-1]
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f <= 0 || f*float64(mult) > float64(1<<62) {
		return 0, fmt.Errorf("%q is not a size: write a number with K, M, G or T, for example 4G", s)
	}
	return int64(f * float64(mult)), nil
}

// transferReporter shows a transfer's progress on stderr: a progress line
// on a terminal, one plain line a blob otherwise, nothing with --quiet.
// verb is "pushed" or "pulled".
func (e *env) transferReporter(verb string) (func(transfer.Event), func()) {
	if e.quiet {
		return nil, func() {}
	}
	return transfer.NewReporter(e.stderr, verb, e.progress)
}

// summary is the line that tells what a push or pull moved.
func summary(verb string, res *transfer.Result) string {
	moved := map[string]string{"pushed": "sent", "pulled": "received"}[verb]
	return fmt.Sprintf("%s %s: %s %s, %d blob(s) copied, %d skipped (already there), %d manifest(s)",
		verb, res.Manifest.Digest, progress.Bytes(res.Bytes), moved, res.Copied, res.Skipped, res.Manifests)
}

// addPlatformFlag adds --platform (repeatable, comma-separated), the one
// definition that pull, push, copy and export share.
func addPlatformFlag(fs *pflag.FlagSet) *[]string {
	return fs.StringSlice("platform", nil, "carry only these platforms of an image index: `OS/ARCH[/VARIANT]`, repeatable or comma-separated (default: all); linux/arm64 selects linux/arm64/v8, linux/arm selects linux/arm/v7")
}

// parsePlatforms parses the values of --platform (nil when none).
func parsePlatforms(values []string) ([]ocispec.Platform, error) {
	if len(values) == 0 {
		return nil, nil
	}
	ps, err := graph.ParsePlatforms(values)
	if err != nil {
		return nil, usagef("--platform: %v", err)
	}
	return ps, nil
}
