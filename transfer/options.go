package transfer

import (
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/ocipack/ocipack/signing"
)

// Options says how a Push, Pull, PushTags or PullTags runs, grouped by
// concern: how to reach the registry (Connection), how much runs at once
// (Concurrency), how a failed copy is tried again (Retry), and how large
// blobs are sent and received so that a cut costs only the rest (Resume).
// The zero value works: HTTPS with the system's certificates and no
// credentials, 4 blobs and 4 tags at once, 4 attempts.
type Options struct {
	// Connection says how to reach the registry.
	Connection ConnectionOptions
	// Concurrency says how many blobs and tags are copied at once.
	Concurrency ConcurrencyOptions
	// Retry says how often, and after what wait, a copy that failed for a
	// transient reason is run again.
	Retry RetryOptions
	// Resume says how large blobs are transferred so that an interrupted
	// transfer continues where it stopped.
	Resume ResumeOptions
	// Referrers carries along the manifests that refer to the artifact or
	// to any manifest below it (SBOMs, signatures), and theirs.
	Referrers bool
	// Platforms, when not empty, limits the copy of an image index to the
	// children of these platforms (matched as docker and containerd
	// match them, see graph.MatchPlatform): the destination gets a new
	// index listing exactly those, in the source's order, annotated with
	// the source index's digest and reference (see graph.SelectPlatforms),
	// or the source index unchanged when every child matches. A single
	// image of another platform, or an index without a match, fails with
	// ErrNoPlatform before anything is copied or tagged. Empty: every
	// platform.
	Platforms []ocispec.Platform
	// Policy, when not nil, requires a valid signature (see
	// signing.Verify) of what is copied. Push, PushTags and PushMirror
	// check the source's entries before anything is sent; Pull and
	// PullTags fetch the referrers too (as with Referrers) and check the
	// artifact once it is stored and before it is tagged (refused, it is
	// left untagged, for gc). Either fails with a *signing.FailedError
	// naming the entry. Copy and CopyRegistry do not check.
	Policy *signing.Policy
	// OnEvent, when set, is told about each blob as it is copied. It may be
	// called from several goroutines at once.
	OnEvent func(Event)
}

// ConnectionOptions says how to reach a registry. The zero value uses
// HTTPS with the system's certificate pool and no credentials.
type ConnectionOptions struct {
	// PlainHTTP talks plain HTTP instead of HTTPS.
	PlainHTTP bool
	// Insecure skips TLS certificate verification.
	Insecure bool
	// CAFile is a PEM file of certificate authorities to trust besides the
	// system's.
	CAFile string
	// CertFile and KeyFile are a client certificate and key for mutual TLS.
	CertFile, KeyFile string
	// Username and Password, when Username is set, are used for the
	// registry instead of any stored credential.
	Username, Password string
	// Credentials, when set, looks up stored credentials (docker's
	// config.json and credential helpers; see DockerCredentials).
	Credentials credentials.Store
	// UserAgent is sent to the registry; "" means "ocipack".
	UserAgent string
	// IdleTimeout fails a request that makes no progress for this long:
	// no response headers, or no byte of a body moving either way. Such a
	// failure is transient, so it is retried. 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
}

// ConcurrencyOptions says how much of a copy runs at once.
type ConcurrencyOptions struct {
	// Blobs is the number of blobs one copy transfers at once; 0 means 4.
	Blobs int
	// Tags is the number of tags PushTags and PullTags copy at once (each
	// transferring up to Blobs blobs at once); 0 means 4.
	Tags int
}

// RetryOptions says how a copy that failed for a transient reason (a reset
// connection, a 429 or 5xx answer, content cut short) is run again. The
// blobs that arrived are skipped then, so each retry sends only the rest.
type RetryOptions struct {
	// Attempts is the number of times a copy is tried in all before a
	// transient failure is reported; 0 means 4.
	Attempts int
	// Wait is the wait before the first retry, doubled each time; 0 means
	// one second.
	Wait time.Duration
}

// ResumeOptions says how large blobs travel so that a transfer cut off, in
// this process or an earlier one, continues where it stopped.
type ResumeOptions struct {
	// ChunkSize, when > 0, pushes every blob larger than this in chunks of
	// this many bytes (PATCH requests of one upload session), for
	// registries and proxies that cap the size of a request. The session is
	// saved after each chunk (see StateDir), so a push that was cut off and
	// is run again continues where the registry's copy ends. 0 sends each
	// blob in one request, and in chunks of 64 MiB only when the registry
	// refuses it as too large (413).
	ChunkSize int64
	// ParallelRanges, when > 1, pulls each blob of 8 MiB or more in this
	// many HTTP ranges at once, joined and verified before it is stored.
	// Registries that ignore Range get the blob in one piece.
	ParallelRanges int
	// StateDir is where the upload sessions of chunked pushes are saved
	// between runs. "" means the source's own directory for such state
	// when it has one (see StateKeeper: a layout's .ocipack/tmp), and
	// memory only (this process's retries) otherwise.
	StateDir string
}

func (c ConcurrencyOptions) blobs() int {
	if c.Blobs <= 0 {
		return 4
	}
	return c.Blobs
}

func (c ConcurrencyOptions) tags() int {
	if c.Tags <= 0 {
		return 4
	}
	return c.Tags
}

func (r RetryOptions) attempts() int {
	if r.Attempts <= 0 {
		return 4
	}
	return r.Attempts
}

func (r RetryOptions) wait() time.Duration {
	if r.Wait <= 0 {
		return time.Second
	}
	return r.Wait
}
