// Package proxy is the gate's hub-compatible download proxy: point
// HF_ENDPOINT at the gate and the official clients and inference servers
// download through it. Downloads (/{repo}/resolve/{rev}/{path}) are served
// only when the tenant's current verdict allows the file, scanning it on
// first request, and every byte served is checked against the content's
// sha256. A read-only allowlist of metadata endpoints (/api/…) is passed
// through to the upstream hub.
//
// Credentials: a client authenticates to the gate with its tenant token
// (HF_TOKEN=mgt_…). That token is never forwarded; requests upstream
// carry the gate's own hub token, if it has one. See docs/gate.md.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"modelgate/internal/gate"
	"modelgate/internal/hub"
)

// Options configure a Proxy.
type Options struct {
	Gate *gate.Gate
	// Client reaches the upstream hub; it must be the client behind the
	// gate's Hub, so verdicts and observations name the same hub.
	Client *hub.Client
	// Token is the gate's own upstream hub token (the client's), sent
	// with /api pass-through requests; "" for none.
	Token string
	// Transport carries /api pass-through requests; default a transport
	// with timeouts.
	Transport http.RoundTripper
	// PublicURL is the gate's base URL as clients reach it, used to
	// rewrite pagination links; default the request's own scheme and Host.
	PublicURL string
	// TempDir holds files without a listed sha256 while they are judged
	// and served; default os.TempDir().
	TempDir string
	// MaxSpool bounds such files (default DefaultMaxSpool); the hub keeps
	// files over 10 MB in LFS, which lists a sha256.
	MaxSpool int64
	// IdleTimeout bounds a wait for upstream bytes (default 60s).
	IdleTimeout time.Duration
	// JudgeTimeout bounds a first-request scan (default 10 minutes). The
	// scan goes on if the client hangs up, so its retry finds the verdict.
	JudgeTimeout time.Duration
	// BlobDir and BlobMaxBytes set up a cache of files read in full and
	// verified, by sha256: later downloads and Range requests of an
	// allowed file are then served from it. Off when either is unset.
	BlobDir      string
	BlobMaxBytes int64
	Logger       *slog.Logger
	// Registerer, if set, gets the proxy's metrics.
	Registerer prometheus.Registerer
}

// Defaults.
const (
	DefaultMaxSpool     = 64 << 20
	DefaultIdleTimeout  = 60 * time.Second
	DefaultJudgeTimeout = 10 * time.Minute
)

// Proxy serves the hub-compatible routes. It is safe for concurrent use.
type Proxy struct {
	opts     Options
	g        *gate.Gate
	c        *hub.Client
	upstream *url.URL
	public   *url.URL
	api      http.Handler
	log      *slog.Logger
	met      *metrics
	blobs    *blobCache
}

// New returns a proxy.
func New(o Options) (*Proxy, error) {
	if o.Gate == nil || o.Client == nil {
		return nil, errors.New("proxy: needs a gate and a hub client")
	}
	if o.MaxSpool <= 0 {
		o.MaxSpool = DefaultMaxSpool
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.JudgeTimeout <= 0 {
		o.JudgeTimeout = DefaultJudgeTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	up, err := url.Parse(o.Client.Endpoint())
	if err != nil {
		return nil, err
	}
	p := &Proxy{opts: o, g: o.Gate, c: o.Client, upstream: up, log: o.Logger, met: newMetrics(o.Registerer)}
	if o.PublicURL != "" {
		if p.public, err = url.Parse(strings.TrimRight(o.PublicURL, "/")); err != nil || p.public.Host == "" {
			return nil, errors.New("proxy: the public URL must be absolute (https://gate.example)")
		}
	}
	p.api = p.newAPIProxy()
	if o.BlobDir != "" && o.BlobMaxBytes > 0 {
		if p.blobs, err = newBlobCache(o.BlobDir, o.BlobMaxBytes); err != nil {
			return nil, fmt.Errorf("proxy: blob cache: %w", err)
		}
	}
	return p, nil
}

// Routes are the proxy's operations as documented in docs/openapi.yaml.
// GET routes also answer HEAD.
func (p *Proxy) Routes() []string { return Routes() }

// Routes are the proxy's documented operations.
func Routes() []string {
	out := []string{
		"GET /{org}/{name}/resolve/{revision}/{path}",
		"GET /datasets/{org}/{name}/resolve/{revision}/{path}",
		"GET /spaces/{org}/{name}/resolve/{revision}/{path}",
		"GET /api/{repo_type}",
		"POST /api/{repo_type}/{org}/{name}/paths-info/{revision}",
	}
	for _, op := range apiOps {
		out = append(out, "GET /api/{repo_type}/{org}/{name}"+op.doc)
	}
	return out
}

// Match reports whether the proxy serves a request, and the route that
// names it in metrics and logs.
func (p *Proxy) Match(r *http.Request) (string, bool) {
	segs, ok := segments(r.URL.EscapedPath())
	if !ok || len(segs) == 0 {
		return "", false
	}
	if segs[0] == "api" {
		return "/api/…", true
	}
	if _, _, _, route, ok := parseResolve(segs); ok {
		return route, true
	}
	return "", false
}

// ServeHTTP implements http.Handler for the routes Match accepts.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs, ok := segments(r.URL.EscapedPath())
	if !ok || len(segs) == 0 {
		hubError(w, r, http.StatusNotFound, codeNotFound, "", "no such hub route", nil)
		return
	}
	if segs[0] == "api" {
		p.serveAPI(w, r, segs[1:])
		return
	}
	ref, rev, path, _, ok := parseResolve(segs)
	if !ok {
		hubError(w, r, http.StatusNotFound, codeNotFound, "", "no such hub route", nil)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		hubError(w, r, http.StatusMethodNotAllowed, codeMethod, "", "downloads are GET or HEAD", nil)
		return
	}
	tenant, ok := p.authenticate(w, r)
	if !ok {
		return
	}
	p.resolve(w, r, tenant, ref, rev, path)
}

// authenticate finds the tenant a request acts for, or answers 401/403.
// Clients that insist on tokens starting with "hf_" (the JS client) may
// send the tenant token as hf_mgt_…; the prefix is dropped.
func (p *Proxy) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	tok := bearer(r)
	if rest, ok := strings.CutPrefix(tok, "hf_"); ok && strings.HasPrefix(rest, "mgt_") {
		tok = rest
	}
	pr, err := p.g.Authenticate(r.Context(), tok)
	switch {
	case errors.Is(err, gate.ErrUnauthorized):
		w.Header().Set("WWW-Authenticate", `Bearer realm="modelgate"`)
		hubError(w, r, http.StatusUnauthorized, codeUnauthorized, "",
			"the gate needs a tenant token: set HF_TOKEN to your modelgate token (mgt_…)", nil)
		return "", false
	case err != nil:
		p.internal(w, r, err)
		return "", false
	case pr.Admin:
		hubError(w, r, http.StatusForbidden, codeForbidden, "", "the admin token manages tenants; download with a tenant's token", nil)
		return "", false
	}
	return pr.Tenant, true
}

func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

func (p *Proxy) internal(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away
	}
	p.log.Error("proxy request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	hubError(w, r, http.StatusInternalServerError, codeInternal, "", "internal error", nil)
}

// segments splits an escaped URL path into unescaped segments, so an
// escaped slash (refs%2Fpr%2F1) stays inside its segment.
func segments(escaped string) ([]string, bool) {
	if len(escaped) > 4096 {
		return nil, false
	}
	parts := strings.Split(strings.TrimPrefix(escaped, "/"), "/")
	for i, s := range parts {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, false
		}
		parts[i] = u
	}
	return parts, true
}

// parseResolve reads [datasets|spaces/]ORG/NAME/resolve/REV/PATH….
func parseResolve(segs []string) (ref hub.Ref, rev, path, route string, ok bool) {
	ref.Type, route = hub.Model, "/{org}/{name}/resolve/{revision}/{path}"
	if len(segs) > 0 && (segs[0] == "datasets" || segs[0] == "spaces") {
		ref.Type, route = hub.RepoType(segs[0]), "/"+segs[0]+"/{org}/{name}/resolve/{revision}/{path}"
		segs = segs[1:]
	}
	if len(segs) < 5 || segs[2] != "resolve" || !validName(segs[0]) || !validName(segs[1]) || segs[3] == "" || len(segs[3]) > 256 {
		return hub.Ref{}, "", "", "", false
	}
	for _, s := range segs[4:] {
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\x00") {
			return hub.Ref{}, "", "", "", false
		}
	}
	ref.ID = segs[0] + "/" + segs[1]
	return ref, segs[3], strings.Join(segs[4:], "/"), route, true
}

func validName(s string) bool {
	if s == "" || len(s) > 96 || s == "." || s == ".." {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
