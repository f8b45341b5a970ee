package proxy

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"
)

// apiOp is a read-only repository endpoint the proxy forwards:
// /api/{type}/{org}/{name}/{op}/{rest…}.
type apiOp struct {
	op string
	// doc is the documented path after the repository.
	doc string
	// rest bounds the segments after op; max -1 means any number.
	min, max int
}

// apiOps lists the metadata endpoints the official clients use to find
// and list what they download. Nothing else is forwarded: the gate's own
// hub token goes with each forwarded request, so every tenant could use
// any endpoint the gate passes on with the gate's account, and some serve
// content past the gate (resolve-cache, xet-read-token, which hands out
// a token for reading files straight from storage).
var apiOps = []apiOp{
	{"", "", 0, 0},
	{"revision", "/revision/{revision}", 1, 1},
	{"tree", "/tree/{revision}", 1, 1},
	{"tree", "/tree/{revision}/{path}", 2, -1},
	{"refs", "/refs", 0, 0},
	{"commits", "/commits/{revision}", 1, 1},
}

// forwardedHeaders are the request headers passed upstream; everything
// else, the client's Authorization and cookies first, stays at the gate.
var forwardedHeaders = []string{"Accept", "Accept-Encoding", "Content-Type", "If-None-Match", "If-Modified-Since", "User-Agent"}

type publicKey struct{}

func (p *Proxy) newAPIProxy() http.Handler {
	tr := p.opts.Transport
	if tr == nil {
		tr = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   15 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   16,
		}
	}
	return &httputil.ReverseProxy{
		Transport: tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(p.upstream)
			h := http.Header{}
			for _, k := range forwardedHeaders {
				if v := pr.In.Header.Values(k); len(v) > 0 {
					h[k] = v
				}
			}
			if p.opts.Token != "" {
				h.Set("Authorization", "Bearer "+p.opts.Token)
			}
			pr.Out.Header = h
			pr.Out = pr.Out.WithContext(context.WithValue(pr.Out.Context(), publicKey{}, p.publicBase(pr.In)))
		},
		ModifyResponse: func(resp *http.Response) error {
			h := resp.Header
			h.Del("Set-Cookie")
			for k := range h {
				if strings.HasPrefix(http.CanonicalHeaderKey(k), "X-Xet-") {
					h.Del(k)
				}
			}
			// Pagination links and redirects name the upstream; clients
			// must come back through the gate (their token is the gate's).
			base, _ := resp.Request.Context().Value(publicKey{}).(string)
			up := strings.TrimRight(p.upstream.String(), "/")
			if links := h.Values("Link"); len(links) > 0 {
				h.Del("Link")
				for _, l := range links {
					h.Add("Link", strings.ReplaceAll(l, "<"+up+"/", "<"+base+"/"))
				}
			}
			if loc := h.Get("Location"); strings.HasPrefix(loc, up+"/") {
				h.Set("Location", base+strings.TrimPrefix(loc, up))
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return
			}
			p.log.Warn("proxy: upstream request failed", "path", r.URL.Path, "error", err)
			hubError(w, r, http.StatusBadGateway, codeUnavailable, "", "the upstream hub could not be reached", nil)
		},
	}
}

// publicBase is the gate's base URL as the client reached it.
func (p *Proxy) publicBase(r *http.Request) string {
	if p.public != nil {
		return p.public.String()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// serveAPI forwards an allowed metadata request (segments after "api").
func (p *Proxy) serveAPI(w http.ResponseWriter, r *http.Request, segs []string) {
	tenant, ok := p.authenticate(w, r)
	if !ok {
		return
	}
	post, known := apiRoute(segs)
	if !known {
		hubError(w, r, http.StatusForbidden, codeNotForwarded, "",
			"the gate forwards only read-only metadata endpoints (listings, repository info, trees, paths-info, refs, commits)", nil)
		return
	}
	switch {
	case post && r.Method == http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	case !post && (r.Method == http.MethodGet || r.Method == http.MethodHead):
	default:
		allow := "GET, HEAD"
		if post {
			allow = "POST"
		}
		w.Header().Set("Allow", allow)
		hubError(w, r, http.StatusMethodNotAllowed, codeMethod, "", "the gate forwards reads only", nil)
		return
	}
	p.log.Debug("proxy: forwarding", "tenant", tenant, "method", r.Method, "path", r.URL.Path)
	p.api.ServeHTTP(w, r)
}

// apiRoute reports whether segments after /api name a forwarded endpoint,
// and whether it is paths-info (the one POST).
func apiRoute(segs []string) (post, ok bool) {
	if len(segs) == 0 || (segs[0] != "models" && segs[0] != "datasets" && segs[0] != "spaces") {
		return false, false
	}
	if len(segs) == 1 {
		return false, true
	}
	if len(segs) < 3 || !validName(segs[1]) || !validName(segs[2]) {
		return false, false
	}
	rest := segs[3:]
	if len(rest) == 2 && rest[0] == "paths-info" && rest[1] != "" {
		return true, true
	}
	op, args := "", rest
	if len(rest) > 0 {
		op, args = rest[0], rest[1:]
	}
	for _, a := range args {
		if a == "" || a == "." || a == ".." {
			return false, false
		}
	}
	for _, o := range apiOps {
		if o.op == op && len(args) >= o.min && (o.max < 0 || len(args) <= o.max) {
			return false, true
		}
	}
	return false, false
}
