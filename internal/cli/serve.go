package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/serve"
)

func serveCommand() command {
	return command{
		name:    "serve",
		args:    "LAYOUT|ARCHIVE [--addr HOST:PORT] [--tls-cert F --tls-key F] [--htpasswd F] [--writable] [--repo NAME]",
		nargs:   exactly(1, "need exactly one LAYOUT or ARCHIVE"),
		summary: "Serve a layout or an archive as an OCI registry, in place",
		examples: `  ocipack serve ./bundle
  ocipack serve ./bundle.tar.zst --addr 0.0.0.0:5000 --tls-cert cert.pem --tls-key key.pem
  ocipack serve ./bundle --writable --htpasswd ./htpasswd

Entries named HOST/REPO:TAG are served as REPO:TAG (containerd's ns=HOST
picks the registry), plain tags under --repo (default: the layout's base
name). One access-log line a request on stderr; --quiet turns it off.
SIGINT or SIGTERM stops it once the requests in flight are done.

With --key (repeatable: any one of the keys) or --trusted-root with
--certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp], as
'ocipack verify' takes them, every tagged entry must carry a valid
signature when serve starts, or it refuses to start, naming each entry
without one. It is checked at start only: what is pushed to a --writable
server later, or tagged into the layout by another process while it is
served, is not checked.
`,
		setup: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
			addr := fs.String("addr", "127.0.0.1:5000", "address to listen on")
			cert := fs.String("tls-cert", "", "TLS certificate (PEM)")
			key := fs.String("tls-key", "", "TLS key (PEM)")
			htpasswd := fs.String("htpasswd", "", "htpasswd file (bcrypt); every request needs credentials")
			writable := fs.Bool("writable", false, "accept pushes and deletes (a layout directory only)")
			repo := fs.String("repo", "", "repository of the entries named by a plain tag (default: the base name)")
			maxUpload := fs.String("max-upload", "64G", "largest blob accepted")
			pf := addPolicyFlags(fs)
			return func(ctx context.Context, e *env, args []string) error {
				pol, err := pf.enforcement()
				if err != nil {
					return err
				}
				if (*cert == "") != (*key == "") {
					return usagef("--tls-cert and --tls-key go together")
				}
				limit, err := parseSize(*maxUpload)
				if err != nil {
					return usagef("--max-upload: %v", err)
				}
				opts := serve.Options{Path: args[0], Writable: *writable, Repo: *repo, Htpasswd: *htpasswd, MaxUpload: limit, Policy: pol}
				if !e.quiet {
					opts.AccessLog = e.stderr
				}
				srv, err := serve.New(ctx, opts)
				if errors.Is(err, layout.ErrNotLayout) && !opts.Writable {
					return fmt.Errorf("%w; to serve a new, empty registry that pushes fill, add --writable", err)
				}
				if err != nil {
					return refused(e, err, "nothing was served")
				}
				defer srv.Close()
				// SIGTERM stops the server gracefully from the moment it
				// says where it serves (a caller may signal it right away).
				ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
				defer stop()
				ln, err := net.Listen("tcp", *addr)
				if err != nil {
					return err
				}
				scheme := "http"
				if *cert != "" {
					scheme = "https"
				}
				if host, _, _ := net.SplitHostPort(ln.Addr().String()); *cert == "" && !isLoopback(host) {
					fmt.Fprintf(e.stderr, "warning: serving on %s without TLS: credentials and content travel in clear\n", ln.Addr())
				}
				fmt.Fprintf(e.stderr, "serving %s on %s://%s\n", args[0], scheme, ln.Addr())
				hs := serve.NewHTTPServer(srv)
				done := make(chan error, 1)
				go func() {
					if *cert != "" {
						done <- hs.ServeTLS(ln, *cert, *key)
					} else {
						done <- hs.Serve(ln)
					}
				}()
				select {
				case err := <-done:
					return err
				case <-ctx.Done():
				}
				sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				err = hs.Shutdown(sctx)
				if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
					return serr
				}
				if err == nil {
					fmt.Fprintln(e.stderr, "stopped")
				}
				return err
			}
		},
	}
}

// isLoopback reports whether host (an address) is a loopback address.
func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
