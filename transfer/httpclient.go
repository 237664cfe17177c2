package transfer

import (
	"net/http"

	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
)

// HTTPClient returns an HTTP client that reaches servers as a registry is
// reached with o: its TLS settings (CAFile, CertFile/KeyFile, Insecure),
// the idle timeout, the environment's proxy, and retries of requests that
// failed on a connection error, 408, 429 or 5xx. ocipack sync downloads
// chart repositories and bundle files' URLs with it.
//
// Credentials: a request to a host carries the credential o.Credentials
// stores for that host (as `ocipack login HOST` or `docker login HOST`
// stored it), as HTTP basic authentication (or a bearer token when only a
// token is stored), and only over HTTPS, or plain HTTP when o.PlainHTTP is
// set. Each host gets its own credential only: a redirect to another host
// is asked for that host's. o.Username and o.Password are not used, since
// one bundle names many hosts; a URL's own user information
// (https://user:token@host/…) is used as it is.
func (o ConnectionOptions) HTTPClient() (*http.Client, error) {
	hc, err := o.httpClient()
	if err != nil {
		return nil, err
	}
	if o.Credentials != nil {
		next := hc.Transport
		if next == nil {
			next = http.DefaultTransport
		}
		hc.Transport = hostCredentials{next: next, store: o.Credentials, plainHTTP: o.PlainHTTP}
	}
	return hc, nil
}

// hostCredentials adds to each request the credential stored for its host.
type hostCredentials struct {
	next      http.RoundTripper
	store     credentials.Store
	plainHTTP bool
}

func (h hostCredentials) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") != "" || req.URL.User != nil ||
		req.URL.Scheme != "https" && !(req.URL.Scheme == "http" && h.plainHTTP) {
		return h.next.RoundTrip(req)
	}
	cred, err := h.store.Get(req.Context(), req.URL.Host)
	if err != nil || cred == auth.EmptyCredential {
		return h.next.RoundTrip(req) // none stored: ask without
	}
	r := req.Clone(req.Context())
	switch {
	case cred.Username != "" || cred.Password != "":
		r.SetBasicAuth(cred.Username, cred.Password)
	case cred.AccessToken != "":
		r.Header.Set("Authorization", "Bearer "+cred.AccessToken)
	default:
		return h.next.RoundTrip(req)
	}
	return h.next.RoundTrip(r)
}
