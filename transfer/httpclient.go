package transfer

import "net/http"

// HTTPClient returns an HTTP client that reaches servers as a registry is
// reached with o: its TLS settings (CAFile, CertFile/KeyFile, Insecure),
// the idle timeout, the environment's proxy, and retries of requests that
// failed on a connection error, 408, 429 or 5xx. Credentials are not
// used. ocipack sync downloads bundle files' URLs with it.
func (o ConnectionOptions) HTTPClient() (*http.Client, error) { return o.httpClient() }
