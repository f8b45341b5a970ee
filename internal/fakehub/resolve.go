package fakehub

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// countingWriter counts response body bytes.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// API returns the hub's handler: /api/…, /{repo}/resolve/…, and /cdn/…
// when no separate CDN server is set.
func (h *Hub) API() http.Handler { return http.HandlerFunc(h.serve) }

// CDN returns the handler LFS downloads redirect to.
func (h *Hub) CDN() http.Handler { return http.HandlerFunc(h.serveCDN) }

// SetCDNBase sets the base URL (http://127.0.0.1:PORT) the CDN handler is
// served at; until set, redirects go to /cdn/ on the API handler.
func (h *Hub) SetCDNBase(base string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cdnBase = strings.TrimRight(base, "/")
}

// segments splits an escaped URL path and unescapes each segment, so an
// escaped slash (refs%2Fpr%2F1) stays inside its segment.
func segments(escaped string) ([]string, bool) {
	parts := strings.Split(strings.Trim(escaped, "/"), "/")
	for i, p := range parts {
		u, err := pathUnescape(p)
		if err != nil {
			return nil, false
		}
		parts[i] = u
	}
	return parts, true
}

func (h *Hub) serve(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	h.opts.Logger.Debug("fakehub", "method", r.Method, "path", r.URL.Path, "range", r.Header.Get("Range"))
	segs, ok := segments(r.URL.EscapedPath())
	if !ok {
		hubError(w, http.StatusBadRequest, "", "bad path")
		return
	}
	if len(segs) > 0 && segs[0] == "cdn" {
		h.serveCDN(w, r)
		return
	}
	h.maybeRescan()
	bucket, counter := "resolvers", &h.resolveBytes
	if len(segs) > 0 && segs[0] == "api" {
		bucket, counter = "api", &h.apiBytes
	}
	cw := &countingWriter{ResponseWriter: w, n: counter}
	if !h.admit(cw, bucket) {
		return
	}
	tok := ""
	if a := r.Header.Get("Authorization"); a != "" {
		t, found := strings.CutPrefix(a, "Bearer ")
		if !found || !h.validToken(t) {
			hubError(cw, http.StatusUnauthorized, "", "Invalid credentials in Authorization header")
			return
		}
		tok = t
	}
	if bucket == "api" {
		h.serveAPIPath(cw, r, segs[1:], tok)
		return
	}
	if len(segs) == 2 && segs[0] == "_fakehub" && segs[1] == "stats" {
		writeJSON(cw, h.Stats())
		return
	}
	typ := "models"
	if len(segs) > 0 && (segs[0] == "datasets" || segs[0] == "spaces") {
		typ, segs = segs[0], segs[1:]
	}
	if len(segs) < 5 || (segs[2] != "resolve" && segs[2] != "raw") {
		hubError(cw, http.StatusNotFound, "", "Sorry, we can't find the page you are looking for.")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hubError(cw, http.StatusMethodNotAllowed, "", "method not allowed")
		return
	}
	v, found := h.viewOf(typ + "/" + segs[0] + "/" + segs[1])
	if !h.access(cw, v, found, tok, true) {
		return
	}
	snap := v.revision(segs[3])
	if snap == nil {
		hubError(cw, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+segs[3])
		return
	}
	p := strings.Join(segs[4:], "/")
	b, ok := snap.byPath[p]
	if !ok {
		hubError(cw, http.StatusNotFound, "EntryNotFound", "Entry not found")
		return
	}
	cw.Header().Set("X-Repo-Commit", snap.sha)
	if b.lfs && segs[2] == "resolve" {
		cw.Header().Set("ETag", `"`+b.sha256+`"`)
		cw.Header().Set("X-Linked-Etag", `"`+b.sha256+`"`)
		cw.Header().Set("X-Linked-Size", strconv.FormatInt(b.size, 10))
		cw.Header().Set("Location", h.cdnURL(b.sha256))
		cw.WriteHeader(http.StatusFound)
		return
	}
	cw.Header().Set("ETag", `"`+b.gitOID+`"`)
	h.serveBlob(cw, r, b)
}

func (h *Hub) validToken(t string) bool {
	for _, ok := range h.opts.Tokens {
		if hmac.Equal([]byte(ok), []byte(t)) {
			return true
		}
	}
	return false
}

// cdnURL is a signed, expiring download URL for an LFS object.
func (h *Hub) cdnURL(sha string) string {
	h.mu.Lock()
	base := h.cdnBase
	h.mu.Unlock()
	exp := strconv.FormatInt(h.opts.Now().Add(time.Hour).Unix(), 10)
	return base + "/cdn/" + sha + "?expires=" + exp + "&sig=" + h.sign(sha, exp)
}

func (h *Hub) sign(sha, exp string) string {
	m := hmac.New(sha256.New, h.signKey)
	m.Write([]byte(sha + "\x00" + exp))
	return hex.EncodeToString(m.Sum(nil))
}

func (h *Hub) serveCDN(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	if r.Header.Get("Authorization") != "" {
		h.cdnAuthSeen.Add(1)
	}
	cw := &countingWriter{ResponseWriter: w, n: &h.cdnBytes}
	sha := strings.TrimPrefix(r.URL.Path, "/cdn/")
	q := r.URL.Query()
	exp, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil || !hmac.Equal([]byte(h.sign(sha, q.Get("expires"))), []byte(q.Get("sig"))) {
		http.Error(cw, "AccessDenied: bad signature", http.StatusForbidden)
		return
	}
	if h.opts.Now().Unix() > exp {
		http.Error(cw, "AccessDenied: request has expired", http.StatusForbidden)
		return
	}
	h.mu.Lock()
	b := h.blobs[sha]
	h.mu.Unlock()
	if b == nil {
		http.Error(cw, "NoSuchKey", http.StatusNotFound)
		return
	}
	cw.Header().Set("ETag", `"`+b.sha256+`"`)
	h.serveBlob(cw, r, b)
}

// serveBlob serves a file's content with Range support, if the file on
// disk still holds what was hashed.
func (h *Hub) serveBlob(w http.ResponseWriter, r *http.Request, b *blob) {
	f, err := os.Open(b.src)
	if err != nil || !b.fresh() {
		if f != nil {
			f.Close()
		}
		hubError(w, http.StatusNotFound, "EntryNotFound", "fakehub: this content is no longer on disk")
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", b.modTime, f)
}
