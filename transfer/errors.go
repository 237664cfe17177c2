package transfer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// Errors in the user's words.
//
// oras-go reports a failed copy as an *oras.CopyError, whose text is
// `failed to perform "Exists" on destination: Head "https://…": dial tcp:
// lookup c on …: no such host`: Go's and oras-go's words, naming neither the
// manifest or blob at stake nor the side in terms a person at a terminal
// knows. oras-go has no hook for its messages, so explain rewords them here,
// on top of its error types: the CopyError's text is replaced by a sentence
// that says what was being done, to which manifest or blob, on which side,
// and what went wrong, and the causes a user can act on (an unknown host,
// nothing listening, HTTPS spoken to --plain-http) get a hint. The errors
// are kept underneath (errors.Is and errors.As see them), so transient and
// the sentinels work as before.

// errSpeaksHTTPS means a request sent in plain HTTP was answered by an
// HTTPS server.
var errSpeaksHTTPS = errors.New("the server speaks HTTPS")

// tlsOnPlainHTTP is what Go's HTTPS server (and so Distribution, and most
// registries written in Go) answers, with 400, to plain HTTP.
const tlsOnPlainHTTP = "Client sent an HTTP request to an HTTPS server"

// reworded is err with a message in our words.
type reworded struct {
	msg string
	err error
}

func (r *reworded) Error() string { return r.msg }
func (r *reworded) Unwrap() error { return r.err }

// descError names the manifest or blob an operation of oras.Copy failed
// on; oras-go's CopyError does not.
type descError struct {
	desc ocispec.Descriptor
	err  error
}

func (e *descError) Error() string { return describe(e.desc) + ": " + e.err.Error() }
func (e *descError) Unwrap() error { return e.err }

// describe says "manifest sha256:…" or "blob sha256:… (N bytes)".
func describe(d ocispec.Descriptor) string {
	if isManifest(d) {
		return "manifest " + d.Digest.String()
	}
	return fmt.Sprintf("blob %s (%d bytes)", d.Digest, d.Size)
}

// explainRef is explain for a copy to or from the repository ref (with its
// tag or digest, as the user wrote it). A registry host that does not
// resolve and looks like no host at all (c in c/bundle:v1: no dot, no
// port, not localhost) is most likely a repository path given without its
// registry; the error says so.
func explainRef(err error, ref registry.Reference) error {
	var dnsErr *net.DNSError
	if err != nil && errors.As(err, &dnsErr) && bareHost(ref.Registry) {
		repo := ref.Repository
		switch {
		case strings.Contains(ref.Reference, ":"): // a digest
			repo += "@" + ref.Reference
		case ref.Reference != "":
			repo += ":" + ref.Reference
		}
		typed := ref.Registry + "/" + repo
		return &reworded{
			msg: fmt.Sprintf("the first part of a registry reference is the registry host (e.g. registry.example.com/%s or localhost:5000/%s); '%s' did not resolve",
				typed, typed, ref.Registry),
			err: err,
		}
	}
	return explain(err, ref.Registry)
}

// bareHost reports whether host has no dot, no port and is not localhost.
func bareHost(host string) bool {
	return !strings.ContainsAny(host, ".:[") && host != "localhost"
}

// reword replaces the Go and oras-go wording in err's message (an
// oras.CopyError's, or an HTTP request's) with ours; err is returned as it
// is when there is nothing to reword.
func reword(err error, host string) error {
	full := err.Error()
	msg := full
	var ce *oras.CopyError
	var ue *url.Error
	switch {
	case errors.As(err, &ce):
		msg = strings.Replace(full, ce.Error(), copyWords(ce, host), 1)
	case errors.As(err, &ue):
		if c, ok := cause(ue, host); ok {
			msg = strings.Replace(full, ue.Error(), c, 1)
		}
	}
	if msg == full {
		return err
	}
	return &reworded{msg: msg, err: err}
}

// copyWords says what the failed step of a copy was doing, to what, on
// which side, and what went wrong.
func copyWords(ce *oras.CopyError, host string) string {
	inner := ce.Err
	// The errors of Exists (see destination.Exists) and of the transfers
	// the copier makes itself name their descriptor with a descError;
	// the others carry it in their text already ("blob sha256:…: …").
	what := ""
	var de *descError
	if errors.As(inner, &de) {
		what, inner = describe(de.desc), de.err
	}
	side := "the " + ce.Origin.String() // "the source", "the destination"
	var ue *url.Error
	var resp *errcode.ErrorResponse
	if errors.As(inner, &ue) || errors.As(inner, &resp) {
		side = "registry " + host // only a registry is spoken to over HTTP
	}
	detail, ok := cause(inner, host)
	if !ok {
		detail = inner.Error()
		if ue != nil {
			// Drop Go's `Head "https://…/manifests/sha256:…": `.
			detail = strings.Replace(detail, ue.Error(), ue.Err.Error(), 1)
		}
	}
	// pick is the step with what named (%[2]s; %[1]s is the side), or
	// without when it is unknown.
	pick := func(with, without string) string {
		if what == "" {
			return fmt.Sprintf(without, side)
		}
		return fmt.Sprintf(with, side, what)
	}
	var step string
	switch ce.Op {
	case "Exists":
		step = pick("could not check whether %s has %s", "could not check what %s has")
	case "Push", "PushReference":
		step = pick("could not copy %[2]s to %[1]s", "could not copy to %s")
	case "Tag":
		step = pick("could not tag %[2]s at %[1]s", "could not tag at %s")
	case "Mount":
		step = pick("could not mount %[2]s at %[1]s", "could not mount a blob at %s")
	case "Fetch", "FetchReference":
		step = pick("could not read %[2]s from %[1]s", "could not read from %s")
	case "Resolve":
		step = pick("could not resolve %[2]s at %[1]s", "could not resolve the reference at %s")
	case "FindSuccessors", "Successors":
		step = pick("could not read what %[2]s references, from %[1]s", "could not read a manifest's references from %s")
	case "FindPredecessors":
		step = pick("could not list the referrers of %[2]s at %[1]s", "could not list referrers at %s")
	default:
		step = pick("could not copy %[2]s (%[1]s)", "could not copy (%s)")
	}
	return step + ": " + detail
}

// cause says in our words what went wrong, for the causes a user can act
// on: a host that does not resolve, nothing listening, an HTTPS registry
// spoken to in plain HTTP.
func cause(err error, host string) (string, bool) {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, errSpeaksHTTPS):
		return fmt.Sprintf("registry %s speaks HTTPS; drop --plain-http (and use --ca-file or --insecure for a private CA)", host), true
	case errors.As(err, &dnsErr):
		msg := fmt.Sprintf("the registry host %s could not be found", dnsErr.Name)
		if !dnsErr.IsNotFound {
			msg += fmt.Sprintf(" (the DNS lookup failed: %s)", dnsErr.Err)
		}
		if bareHost(host) {
			msg += fmt.Sprintf("; the first part of a registry reference is the registry host (e.g. registry.example.com/… or localhost:5000/…), and '%s' did not resolve", host)
		}
		return msg, true
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("nothing answers at %s (connection refused); is the registry running there, and are the host and port right?", host), true
	}
	return "", false
}

// httpsHint is the transport of a --plain-http client: a 400 answer that
// is Go's HTTPS server refusing plain HTTP fails with errSpeaksHTTPS, so
// that the error can say to drop --plain-http.
type httpsHint struct {
	next http.RoundTripper
}

func (h httpsHint) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := h.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusBadRequest || req.URL.Scheme != "http" {
		return resp, err
	}
	if req.Method != http.MethodHead {
		head := make([]byte, 512)
		n, _ := io.ReadFull(resp.Body, head)
		head = head[:n]
		if bytes.Contains(head, []byte(tlsOnPlainHTTP)) {
			resp.Body.Close()
			return nil, errSpeaksHTTPS
		}
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
		return resp, nil
	}
	// A HEAD answer has no body to tell by: ask with a GET of /v2/.
	probe, perr := http.NewRequestWithContext(req.Context(), http.MethodGet, (&url.URL{Scheme: "http", Host: req.URL.Host, Path: "/v2/"}).String(), nil)
	if perr != nil {
		return resp, nil
	}
	presp, perr := h.next.RoundTrip(probe)
	if perr != nil {
		return resp, nil
	}
	defer presp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(presp.Body, 512))
	if presp.StatusCode == http.StatusBadRequest && bytes.Contains(b, []byte(tlsOnPlainHTTP)) {
		resp.Body.Close()
		return nil, errSpeaksHTTPS
	}
	return resp, nil
}
