package transfer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// rawRepo speaks the two parts of the distribution protocol that oras-go
// has no API for: a blob GET from an offset (oras-go's Fetch always starts
// at byte 0; its Seek issues a second request after the first one started)
// and an upload in PATCH chunks (oras-go uploads a blob in one PUT). It
// goes through the repository's client, so auth, credentials, TLS, the
// idle timeout and oras-go's retry transport apply as for every other
// request.
type rawRepo struct {
	repo *remote.Repository
}

func (r rawRepo) client() remote.Client {
	if r.repo.Client == nil {
		return auth.DefaultClient
	}
	return r.repo.Client
}

// base is the URL of the repository's /v2/NAME endpoint.
func (r rawRepo) base() string {
	scheme := "https"
	if r.repo.PlainHTTP {
		scheme = "http"
	}
	return scheme + "://" + r.repo.Reference.Host() + "/v2/" + r.repo.Reference.Repository
}

func (r rawRepo) blobURL(d digest.Digest) string { return r.base() + "/blobs/" + d.String() }

func (r rawRepo) do(req *http.Request) (*http.Response, error) { return r.client().Do(req) }

// errorFrom turns an unexpected answer into oras-go's error type, which
// transient and explain understand, and closes its body.
func errorFrom(resp *http.Response) error {
	defer resp.Body.Close()
	var body struct {
		Errors errcode.Errors `json:"errors"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = json.Unmarshal(b, &body)
	return &errcode.ErrorResponse{Method: resp.Request.Method, URL: redact(resp.Request.URL), StatusCode: resp.StatusCode, Errors: body.Errors}
}

// redact drops the query of an upload URL (Distribution keeps a signed
// state token there) from what errors show.
func redact(u *url.URL) *url.URL {
	c := *u
	c.RawQuery = ""
	return &c
}

// statusIs reports whether err is a registry answer with this status.
func statusIs(err error, code int) bool {
	var resp *errcode.ErrorResponse
	return errors.As(err, &resp) && resp.StatusCode == code
}

// location resolves an answer's Location header against the request URL.
func location(resp *http.Response) (string, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", fmt.Errorf("%s %s: the registry answered %d without a Location", resp.Request.Method, redact(resp.Request.URL), resp.StatusCode)
	}
	u, err := resp.Request.URL.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("%s %s: bad Location %q: %w", resp.Request.Method, redact(resp.Request.URL), loc, err)
	}
	return u.String(), nil
}

// uploadOffset reads the Range header of an upload's status ("0-N": N+1
// bytes received). Distribution answers "0-0" for an empty upload too.
func uploadOffset(resp *http.Response) (int64, error) {
	rg := resp.Header.Get("Range")
	if rg == "" {
		return 0, nil
	}
	rg = strings.TrimPrefix(rg, "bytes=")
	var start, end int64
	if _, err := fmt.Sscanf(rg, "%d-%d", &start, &end); err != nil || start != 0 || end < 0 {
		return 0, fmt.Errorf("%s %s: cannot read the upload's Range %q", resp.Request.Method, redact(resp.Request.URL), resp.Header.Get("Range"))
	}
	if end == 0 {
		return 0, nil
	}
	return end + 1, nil
}
