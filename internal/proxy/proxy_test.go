package proxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"modelgate/internal/gate"
	"modelgate/internal/gate/gatetest"
	"modelgate/internal/gatehub"
	"modelgate/internal/hub"
	"modelgate/internal/proxy"
	"modelgate/internal/store"
	"modelgate/internal/store/storetest"
)

const upstreamToken = "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"

// gateFor serves a gate with the proxy in front of an upstream hub at url;
// it returns the gate's URL, the gate, a tenant token and the registry.
func gateFor(t testing.TB, url string) (string, *gate.Gate, string, *prometheus.Registry) {
	t.Helper()
	b := storetest.Open(t, "sqlite", store.Options{})
	c, err := hub.New(hub.Config{Endpoint: url, Token: upstreamToken, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	g := gate.New(gate.Options{Store: b, Queue: b, Hub: gatehub.New(c), TempDir: t.TempDir()})
	ctx := context.Background()
	if _, err := g.CreateTenant(ctx, "acme", ""); err != nil {
		t.Fatal(err)
	}
	tok, _, err := g.IssueToken(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	p, err := proxy.New(proxy.Options{Gate: g, Client: c, Token: upstreamToken, TempDir: t.TempDir(), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(p)
	t.Cleanup(ts.Close)
	return ts.URL, g, tok, reg
}

func get(t *testing.T, method, url, token string, hdr ...string) (*http.Response, []byte, error) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// tamperingHub is an upstream that lists one LFS file and serves other
// bytes of the same length when tamper is set.
type tamperingHub struct {
	content []byte
	mu      sync.Mutex
	tamper  bool
	sha     string
}

func (h *tamperingHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/resolve/main/model.pkl") && !strings.HasSuffix(r.URL.Path, "/model.pkl") {
		http.NotFound(w, r)
		return
	}
	h.mu.Lock()
	if h.sha == "" {
		h.sha = gatetest.SHA256(h.content)
	}
	sha := h.sha
	h.mu.Unlock()
	w.Header().Set("X-Repo-Commit", strings.Repeat("ab", 20))
	w.Header().Set("ETag", `"`+sha+`"`)
	w.Header().Set("X-Linked-Etag", `"`+sha+`"`)
	w.Header().Set("X-Linked-Size", strconv.Itoa(len(h.content)))
	if r.Method == http.MethodHead {
		return
	}
	body := h.content
	h.mu.Lock()
	if h.tamper {
		body = bytes.Clone(body)
		body[len(body)/2] ^= 0xff
	}
	h.mu.Unlock()
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// Bytes that differ from the verdict's sha256 never reach the client
// whole: the response is cut off before its last byte.
func TestUpstreamTamperingCutsTheDownload(t *testing.T) {
	content := gatetest.Benign()
	up := &tamperingHub{content: content}
	us := httptest.NewServer(up)
	defer us.Close()
	base, g, tok, reg := gateFor(t, us.URL)
	if _, err := g.ScanUpload(context.Background(), gate.Upload{Tenant: "acme", Name: "model.pkl", Body: bytes.NewReader(content)}); err != nil {
		t.Fatal(err)
	}
	url := base + "/org/m/resolve/main/model.pkl"
	resp, body, err := get(t, "GET", url, tok)
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, content) || resp.Header.Get("X-Linked-Etag") != `"`+gatetest.SHA256(content)+`"` {
		t.Fatalf("honest upstream: %d %v (%d bytes)", resp.StatusCode, err, len(body))
	}
	up.mu.Lock()
	up.tamper = true
	up.mu.Unlock()
	for _, rng := range []string{"", "bytes=0-9", "bytes=5-"} {
		resp, body, err = get(t, "GET", url, tok, "Range", rng)
		if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("range %q: tampered bytes were delivered whole: %d, %d bytes, %v", rng, resp.StatusCode, len(body), err)
		}
		if n, _ := strconv.Atoi(resp.Header.Get("Content-Length")); len(body) != n-1 {
			t.Errorf("range %q: %d of %d bytes arrived; all but the last should", rng, len(body), n)
		}
	}
	if n := counter(t, reg, "modelgate_proxy_aborted_total", "mismatch"); n != 3 {
		t.Errorf("aborted downloads: %v", n)
	}
}

// counter reads a counter by name and label value.
func counter(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// The /api pass-through sends the gate's own token upstream, never the
// client's, nor its cookies; pagination links come back pointing at the
// gate; endpoints outside the read-only allowlist are refused.
func TestAPIForwarding(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	var upURL string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		w.Header().Set("Link", "<"+upURL+"/api/models?cursor=abc&limit=1>; rel=\"next\"")
		w.Header().Set("Set-Cookie", "session=upstream")
		w.Header().Set("X-Xet-Access-Token", "secret")
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode([]map[string]string{{"id": "org/m", "path": r.URL.Path, "query": r.URL.RawQuery}})
	}))
	defer up.Close()
	upURL = up.URL
	base, _, tok, _ := gateFor(t, up.URL)

	resp, body, _ := get(t, "GET", base+"/api/models?author=org&limit=1", tok, "Cookie", "gate=1", "Accept", "application/json")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"query":"author=org\u0026limit=1"`) {
		t.Fatalf("listing: %d %s", resp.StatusCode, body)
	}
	if l := resp.Header.Get("Link"); l != "<"+base+"/api/models?cursor=abc&limit=1>; rel=\"next\"" {
		t.Errorf("Link not rewritten to the gate: %q", l)
	}
	if resp.Header.Get("Set-Cookie") != "" || resp.Header.Get("X-Xet-Access-Token") != "" {
		t.Errorf("upstream cookie or Xet token passed on: %v", resp.Header)
	}
	// The JS client's form: hf_ + the tenant token.
	if resp, _, _ = get(t, "GET", base+"/api/models/org/m/tree/main/sub/dir?recursive=true", "hf_"+tok); resp.StatusCode != 200 {
		t.Errorf("tree with hf_-prefixed token: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("POST", base+"/api/models/org/m/paths-info/main", strings.NewReader("paths=a.bin"))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 200 {
		t.Errorf("paths-info: %v %v", r, err)
	}
	mu.Lock()
	for _, h := range seen {
		if h.Get("Authorization") != "Bearer "+upstreamToken || h.Get("Cookie") != "" {
			t.Errorf("upstream saw Authorization %q, Cookie %q", h.Get("Authorization"), h.Get("Cookie"))
		}
	}
	n := len(seen)
	mu.Unlock()
	if n != 3 {
		t.Errorf("%d requests reached the upstream, want 3", n)
	}

	for _, c := range []struct {
		method, path, token string
		status              int
		code                string
	}{
		{"GET", "/api/models", "", 401, "unauthorized"},
		{"GET", "/api/whoami-v2", tok, 403, "not_forwarded"},
		{"GET", "/api/models/org/m/xet-read-token/main", tok, 403, "not_forwarded"},
		{"GET", "/api/resolve-cache/models/org/m/main/a.bin", tok, 403, "not_forwarded"},
		{"GET", "/api/models/org/m/discussions", tok, 403, "not_forwarded"},
		{"DELETE", "/api/models/org/m", tok, 405, "method_not_allowed"},
		{"POST", "/api/models/org/m/commit/main", tok, 403, "not_forwarded"},
		{"GET", "/api/models/org/m/paths-info/main", tok, 405, "method_not_allowed"},
		{"GET", "/api/models/org/m/tree/main/../x", tok, 403, "not_forwarded"},
		{"PUT", "/org/m/resolve/main/a.bin", tok, 405, "method_not_allowed"},
	} {
		resp, body, _ := get(t, c.method, base+c.path, c.token)
		var e struct{ Error, Code string }
		json.Unmarshal(body, &e)
		if resp.StatusCode != c.status || e.Code != c.code || e.Error == "" || resp.Header.Get("X-Error-Message") == "" {
			t.Errorf("%s %s: %d %s", c.method, c.path, resp.StatusCode, body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != n {
		t.Errorf("a refused request reached the upstream")
	}
}

func TestRoutesMatch(t *testing.T) {
	c, _ := hub.New(hub.Config{Endpoint: "http://127.0.0.1:1"})
	p, err := proxy.New(proxy.Options{Gate: gate.New(gate.Options{}), Client: c})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/org/m/resolve/main/a/b.bin":                     "/{org}/{name}/resolve/{revision}/{path}",
		"/datasets/org/d/resolve/refs%2Fpr%2F1/x.parquet": "/datasets/{org}/{name}/resolve/{revision}/{path}",
		"/spaces/org/s/resolve/main/Dockerfile":           "/spaces/{org}/{name}/resolve/{revision}/{path}",
		"/api/models":                                     "/api/…",
		"/org/m/blob/main/a.bin":                          "",
		"/org/m/resolve/main/../x":                        "",
		"/org/m/resolve/main":                             "",
		"/v1/scans":                                       "",
	} {
		r := httptest.NewRequest("GET", path, nil)
		got, ok := p.Match(r)
		if got != want || ok != (want != "") {
			t.Errorf("%s: %q %v, want %q", path, got, ok, want)
		}
	}
}
