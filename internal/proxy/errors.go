package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"modelgate/internal/hub"
)

// Error codes in the "code" field of the proxy's error bodies; stable,
// documented in docs/openapi.yaml (ProxyError).
const (
	codeBlocked      = "artifact_blocked"
	codeUnauthorized = "unauthorized"
	codeForbidden    = "forbidden"
	codeNotForwarded = "not_forwarded"
	codeNotFound     = "not_found"
	codeMethod       = "method_not_allowed"
	codeUpstream     = "upstream_error"
	codeUnavailable  = "upstream_unavailable"
	codeUnverifiable = "upstream_unverifiable"
	codeInternal     = "internal"
)

// XErrorBlocked is the X-Error-Code header of a blocked download, in the
// hub's style (RepoNotFound, GatedRepo, …).
const XErrorBlocked = "ArtifactBlocked"

// hubError answers in the hub's error shape, which the official clients
// show: {"error": "message"} with X-Error-Code and X-Error-Message
// headers. The gate's /v1 API nests the code ({"error": {"code", …}}),
// but hub clients expect "error" to be a string (the JS client would show
// "[object Object]"), so the proxy puts its stable code beside it, with
// extra fields (a blocked file's reasons) after it.
func hubError(w http.ResponseWriter, r *http.Request, status int, code, xcode, msg string, extra map[string]any) {
	h := w.Header()
	if xcode != "" {
		h.Set("X-Error-Code", xcode)
	}
	h.Set("X-Error-Message", headerSafe(msg))
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	// A failure after an allowed file's headers were set must not carry
	// them: they describe a file this answer does not hold.
	for _, k := range []string{"Content-Length", "ETag", "X-Linked-Etag", "X-Linked-Size", "Accept-Ranges", "X-Repo-Commit",
		"X-Modelgate-Decision", "X-Modelgate-Scan-Id", "X-Modelgate-Sha256"} {
		h.Del(k)
	}
	if status != http.StatusRequestedRangeNotSatisfiable {
		h.Del("Content-Range")
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	body := map[string]any{}
	for k, v := range extra {
		body[k] = v
	}
	body["error"], body["code"] = msg, code
	b, _ := json.Marshal(body)
	w.Write(append(b, '\n'))
}

// headerSafe keeps a message printable ASCII on one line, at most 500
// bytes: it may quote attacker-chosen file names.
func headerSafe(s string) string {
	var b strings.Builder
	for _, c := range s {
		if b.Len() >= 500 {
			b.WriteString("…")
			break
		}
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b.WriteRune(c)
	}
	return b.String()
}

// upstreamError relays a hub error answer (its status and X-Error-Code,
// so clients raise their typed errors: RepositoryNotFoundError,
// GatedRepoError, …), or answers 502 when the hub could not be reached.
func upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	var he *hub.Error
	if errors.As(err, &he) && he.Status >= 400 && he.Status < 600 {
		status := he.Status
		if status >= 500 {
			status = http.StatusBadGateway
		}
		if he.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(he.RetryAfter.Seconds()+0.999)))
		}
		msg := he.Message
		if msg == "" {
			msg = http.StatusText(he.Status)
		}
		hubError(w, r, status, codeUpstream, he.Code, "upstream hub: "+msg, map[string]any{"upstream_status": he.Status})
		return
	}
	hubError(w, r, http.StatusBadGateway, codeUnavailable, "", fmt.Sprintf("the upstream hub could not be reached: %v", err), nil)
}

// metrics are the proxy's counters.
type metrics struct {
	downloads *prometheus.CounterVec
	bytes     prometheus.Counter
	aborted   *prometheus.CounterVec
	blobs     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		downloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "modelgate_proxy_downloads_total",
			Help: "Proxy download requests by decision (allow, deny) and method."}, []string{"decision", "method"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "modelgate_proxy_bytes_total",
			Help: "File bytes the proxy sent to clients."}),
		aborted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "modelgate_proxy_aborted_total",
			Help: "Downloads cut off mid-way, by reason: mismatch (upstream bytes differ from the verdict's sha256) or upstream (the upstream failed)."},
			[]string{"reason"}),
		blobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "modelgate_proxy_blob_cache_total",
			Help: "Allowed downloads by blob cache result: hit (served from the gate's disk), stored (read from the upstream, verified and kept) or miss (read from the upstream, not kept)."},
			[]string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.downloads, m.bytes, m.aborted, m.blobs)
	}
	return m
}
