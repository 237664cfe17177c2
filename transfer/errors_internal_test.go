package transfer

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/registry"
)

// TestRewordCopyError: oras-go's CopyError texts are replaced by ours,
// naming the manifest or blob, the side and the cause, while errors.Is
// still sees the cause underneath.
func TestRewordCopyError(t *testing.T) {
	blob := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromString("abc"), Size: 3}
	manifest := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("m"), Size: 1}
	refused := &url.Error{Op: "Put", URL: "http://h:5000/v2/x/blobs/uploads/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	notFound := &url.Error{Op: "Head", URL: "https://c/v2/x/manifests/v1", Err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "c", IsNotFound: true}}}
	for _, tc := range []struct {
		err        error
		host, want string
	}{
		{&oras.CopyError{Op: "Push", Origin: oras.CopyErrorOriginDestination, Err: &descError{blob, refused}}, "h:5000",
			"could not copy blob " + blob.Digest.String() + " (3 bytes) to registry h:5000: nothing answers at h:5000 (connection refused)"},
		{&oras.CopyError{Op: "Exists", Origin: oras.CopyErrorOriginDestination, Err: &descError{manifest, notFound}}, "c",
			"could not check whether registry c has manifest " + manifest.Digest.String() + ": the registry host c could not be found; the first part"},
		{&oras.CopyError{Op: "Fetch", Origin: oras.CopyErrorOriginSource, Err: errors.New("blob sha256:x: damaged")}, "h",
			"could not read from the source: blob sha256:x: damaged"},
		{fmt.Errorf("%w (gave up after 4 attempts)", &oras.CopyError{Op: "Tag", Origin: oras.CopyErrorOriginDestination, Err: refused}), "h:5000",
			"could not tag at registry h:5000: nothing answers at h:5000 (connection refused); is the registry running there, and are the host and port right? (gave up after 4 attempts)"},
	} {
		got := explain(tc.err, tc.host)
		assertWording(t, fmt.Sprintf("explain(%q)", tc.err), got, tc.want, "failed to perform", "dial tcp", `Put "http`, `Head "https`)
		var ce *oras.CopyError
		if !errors.As(got, &ce) {
			t.Errorf("explain(%q): the CopyError is no longer underneath", tc.err)
		}
		if errors.Is(tc.err, syscall.ECONNREFUSED) && (!errors.Is(got, syscall.ECONNREFUSED) || !transient(got)) {
			t.Errorf("explain(%q): connection refused is no longer seen underneath, or no longer transient", tc.err)
		}
	}
}

// assertWording checks that the error got (of what) holds want and none
// of lacks, the wording of Go or oras-go it replaces.
func assertWording(t *testing.T, what string, got error, want string, lacks ...string) {
	t.Helper()
	if !strings.Contains(got.Error(), want) {
		t.Errorf("%s = %q\nwant it to hold %q", what, got, want)
	}
	for _, w := range lacks {
		if strings.Contains(got.Error(), w) {
			t.Errorf("%s = %q: still says %q", what, got, w)
		}
	}
}

// TestExplainBareHost: a registry reference whose first element is no host
// (c in c/bundle:v1) and does not resolve says that the first element must
// be the registry host; any other host that does not resolve is named. The
// DNS errors are made here: a test looks up no name.
func TestExplainBareHost(t *testing.T) {
	lookup := func(host string) error {
		return &url.Error{Op: "Head", URL: "https://" + host + "/v2/", Err: &net.OpError{Op: "dial", Net: "tcp",
			Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}}
	}
	for _, tc := range []struct {
		ref, want string
	}{
		{"c/bundle:v1", "the first part of a registry reference is the registry host (e.g. registry.example.com/c/bundle:v1 or localhost:5000/c/bundle:v1); 'c' did not resolve"},
		{"c/bundle@sha256:" + strings.Repeat("a", 64), "(e.g. registry.example.com/c/bundle@sha256:" + strings.Repeat("a", 64)},
		{"nohost.invalid/bundle:v1", "the registry host nohost.invalid could not be found"},
	} {
		ref, err := registry.ParseReference(tc.ref)
		if err != nil {
			t.Fatal(err)
		}
		got := explainRef(lookup(ref.Registry), ref)
		assertWording(t, tc.ref, got, tc.want, "dial tcp", "lookup ", `Head "https`)
		var dnsErr *net.DNSError
		if !errors.As(got, &dnsErr) {
			t.Errorf("%s: the DNS error is no longer underneath", tc.ref)
		}
	}
}
