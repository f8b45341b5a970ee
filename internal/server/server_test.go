package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"modelgate/internal/gate"
	"modelgate/internal/gate/gatetest"
	"modelgate/internal/hub"
	"modelgate/internal/proxy"
	"modelgate/internal/server"
	"modelgate/internal/store"
	"modelgate/internal/store/storetest"
)

type env struct {
	c     *client
	admin string
	hub   *gatetest.Hub
	scan  *gatetest.Scanner
	srv   *server.Server
	g     *gate.Gate
}

func newEnv(t *testing.T, b store.Backend, spec *apiSpec) *env {
	t.Helper()
	admin, _ := gate.NewAdminToken()
	reg := prometheus.NewRegistry()
	e := &env{admin: admin, hub: gatetest.NewHub(), scan: gatetest.NewScanner()}
	e.g = gate.New(gate.Options{Store: b, Queue: b, Hub: e.hub, Scanner: e.scan, AdminTokenSHA256: gate.HashToken(admin),
		TempDir: t.TempDir(), MaxUpload: 64 << 10, Metrics: gate.NewMetrics(reg)})
	e.srv = server.New(server.Options{Gate: e.g, Registry: reg})
	ts := httptest.NewServer(e.srv)
	t.Cleanup(ts.Close)
	e.c = &client{t: t, base: ts.URL, spec: spec}
	return e
}

// tenant creates a tenant through the admin API and returns a token.
func (e *env) tenant(t *testing.T, id string) string {
	t.Helper()
	r := e.c.do("POST", "/v1/admin/tenants", "/v1/admin/tenants", e.admin, map[string]string{"id": id, "name": strings.ToUpper(id)})
	if r.status != 201 {
		t.Fatalf("create tenant: %d %s", r.status, r.body)
	}
	r = e.c.do("POST", "/v1/admin/tenants/{tenant}/tokens", "/v1/admin/tenants/"+id+"/tokens", e.admin, map[string]string{"name": "test"})
	if r.status != 201 {
		t.Fatalf("create token: %d %s", r.status, r.body)
	}
	var tok server.TokenInfo
	r.decode(t, &tok)
	return tok.Token
}

func TestAPI(t *testing.T) {
	spec := loadSpec(t)
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b, spec)
		c := e.c
		acme, beta := e.tenant(t, "acme"), e.tenant(t, "beta")
		bad, good := gatetest.Malicious(), gatetest.Benign()
		badSHA := gatetest.SHA256(bad)

		// Authentication and authorization.
		if r := c.do("GET", "/v1/scans", "/v1/scans", "", nil); r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("no token: %d", r.status)
		}
		if r := c.do("GET", "/v1/scans", "/v1/scans", "mgt_0000000000000000_"+strings.Repeat("A", 43), nil); r.status != 401 {
			t.Errorf("unknown token: %d", r.status)
		}
		if r := c.do("GET", "/v1/whoami", "/v1/whoami", e.admin, nil); r.status != 403 {
			t.Errorf("admin token as a tenant: %d", r.status)
		}
		if r := c.do("GET", "/v1/admin/tenants", "/v1/admin/tenants", acme, nil); r.status != 403 {
			t.Errorf("tenant token on admin: %d", r.status)
		}
		if r := c.do("POST", "/v1/admin/tenants", "/v1/admin/tenants", e.admin, map[string]string{"id": "acme"}); r.status != 409 {
			t.Errorf("duplicate tenant: %d", r.status)
		}
		if r := c.do("POST", "/v1/admin/tenants", "/v1/admin/tenants", e.admin, map[string]string{"id": "Not Valid"}); r.status != 400 {
			t.Errorf("invalid tenant: %d", r.status)
		}
		if r := c.do("POST", "/v1/admin/tenants/{tenant}/tokens", "/v1/admin/tenants/nobody/tokens", e.admin, map[string]string{}); r.status != 404 {
			t.Errorf("token for a missing tenant: %d", r.status)
		}
		r := c.do("GET", "/v1/whoami", "/v1/whoami", acme, nil)
		if r.status != 200 || !strings.Contains(string(r.body), `"tenant":"acme"`) {
			t.Errorf("whoami: %d %s", r.status, r.body)
		}

		// Uploads.
		var sc server.Scan
		r = c.do("POST", "/v1/scans", "/v1/scans?name=evil.bin&repo=org/evil&revision=abc", acme, bad)
		if r.status != 201 {
			t.Fatalf("upload: %d %s", r.status, r.body)
		}
		r.decode(t, &sc)
		if sc.Decision != store.Deny || sc.MaxSeverity != "critical" || sc.SHA256 != badSHA || sc.Path != "evil.bin" || *sc.Cached {
			t.Errorf("malicious upload: %+v", sc.ScanSummary)
		}
		badID := sc.ID
		if r = c.do("POST", "/v1/scans", "/v1/scans?name=ok.pkl", acme, good); r.status != 201 || !strings.Contains(string(r.body), `"decision":"allow"`) {
			t.Errorf("benign upload: %d %s", r.status, r.body)
		}
		r = c.do("POST", "/v1/scans", "/v1/scans", acme, bad)
		r.decode(t, &sc)
		if r.status != 200 || !*sc.Cached || sc.ID != badID {
			t.Errorf("re-upload: %d cached=%v", r.status, *sc.Cached)
		}
		form := typedBody{"multipart/form-data; boundary=x", append(append([]byte("--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n"), bad...), "\r\n--x--\r\n"...)}
		if r = c.do("POST", "/v1/scans", "/v1/scans", acme, form); r.status != 415 || r.errorCode() != "unsupported_media_type" {
			t.Errorf("form upload: %d %s", r.status, r.body)
		}
		if r = c.do("POST", "/v1/scans", "/v1/scans", acme, make([]byte, 64<<10+1)); r.status != 413 || r.errorCode() != "too_large" {
			t.Errorf("oversize: %d %s", r.status, r.body)
		}
		c.do("POST", "/v1/scans", "/v1/scans", beta, good)

		// Lookups.
		r = c.do("GET", "/v1/verdicts/{sha256}", "/v1/verdicts/"+badSHA, acme, nil)
		r.decode(t, &sc)
		if r.status != 200 || sc.Freshness != store.Current || sc.ID != badID {
			t.Errorf("lookup: %d %s", r.status, r.body)
		}
		if r = c.do("GET", "/v1/verdicts/{sha256}", "/v1/verdicts/"+badSHA, beta, nil); r.status != 404 || r.errorCode() != "not_found" {
			t.Errorf("beta looks up acme's content: %d", r.status)
		}
		if r = c.do("GET", "/v1/verdicts/{sha256}", "/v1/verdicts/XYZ", acme, nil); r.status != 400 {
			t.Errorf("bad sha: %d", r.status)
		}

		// One scan; another tenant's is 404.
		r = c.do("GET", "/v1/scans/{id}", fmt.Sprintf("/v1/scans/%d?listings=true", badID), acme, nil)
		r.decode(t, &sc)
		if r.status != 200 || len(sc.Listings) == 0 || len(sc.Observations) != 2 || !slices.ContainsFunc(sc.Observations, func(o server.Observation) bool { return o.Repo == "org/evil" && o.Path == "evil.bin" }) {
			t.Errorf("scan: %d %s", r.status, r.body)
		}
		if r = c.do("GET", "/v1/scans/{id}", fmt.Sprintf("/v1/scans/%d", badID), beta, nil); r.status != 404 {
			t.Errorf("beta reads acme's scan: %d", r.status)
		}
		if r = c.do("GET", "/v1/scans/{id}", "/v1/scans/abc", acme, nil); r.status != 404 {
			t.Errorf("non-numeric ID: %d", r.status)
		}

		// Listings with paging.
		var list struct {
			Scans []server.ScanSummary `json:"scans"`
			Next  string               `json:"next_cursor"`
		}
		r = c.do("GET", "/v1/scans", "/v1/scans?limit=1", acme, nil)
		r.decode(t, &list)
		if len(list.Scans) != 1 || list.Next == "" {
			t.Fatalf("page 1: %s", r.body)
		}
		first := list.Scans[0].ID
		r = c.do("GET", "/v1/scans", "/v1/scans?limit=1&cursor="+list.Next, acme, nil)
		list.Next = ""
		r.decode(t, &list)
		if len(list.Scans) != 1 || list.Next != "" || list.Scans[0].ID == first {
			t.Errorf("page 2: %s", r.body)
		}
		r = c.do("GET", "/v1/scans", "/v1/scans?order=worst&decision=deny&min_severity=high", acme, nil)
		r.decode(t, &list)
		if len(list.Scans) != 1 || list.Scans[0].ID != badID {
			t.Errorf("flagged: %s", r.body)
		}
		for _, q := range []string{"limit=0", "limit=x", "order=best", "decision=maybe", "min_severity=huge", "cursor=zzz"} {
			if r = c.do("GET", "/v1/scans", "/v1/scans?"+q, acme, nil); r.status != 400 || r.errorCode() != "invalid_request" {
				t.Errorf("%s: %d", q, r.status)
			}
		}
		var findings struct {
			Findings []server.FindingItem `json:"findings"`
		}
		r = c.do("GET", "/v1/findings", "/v1/findings?min_severity=critical", acme, nil)
		r.decode(t, &findings)
		if len(findings.Findings) != 1 || findings.Findings[0].ScanID != badID || findings.Findings[0].Rule != "PICKLE-DANGEROUS-GLOBAL" {
			t.Errorf("findings: %s", r.body)
		}
		if r = c.do("GET", "/v1/findings", "/v1/findings", beta, nil); strings.Contains(string(r.body), badSHA) {
			t.Errorf("beta sees acme's findings: %s", r.body)
		}
		if r = c.do("GET", "/v1/findings", "/v1/findings?min_severity=nope", beta, nil); r.status != 400 {
			t.Errorf("findings with a bad severity: %d", r.status)
		}

		// Admission.
		e.hub.Commit("org/evil", map[string][]byte{"model.bin": bad, "config.json": []byte("{}")}, "model.bin")
		e.hub.Commit("org/clean", map[string][]byte{"model.pkl": good}, "model.pkl")
		var adm gate.AdmitResult
		r = c.do("POST", "/v1/admit", "/v1/admit", acme, map[string]any{"repo": "org/evil", "revision": "main"})
		r.decode(t, &adm)
		if r.status != 200 || adm.Decision != store.Deny || len(adm.Reasons) == 0 || adm.Reasons[0].Path != "model.bin" || adm.Commit == "" {
			t.Errorf("admit evil: %d %s", r.status, r.body)
		}
		r = c.do("POST", "/v1/admit", "/v1/admit", acme, map[string]any{"repo": "org/clean"})
		r.decode(t, &adm)
		if r.status != 200 || adm.Decision != store.Allow {
			t.Errorf("admit clean: %d %s", r.status, r.body)
		}
		r = c.do("POST", "/v1/admit", "/v1/admit", beta, map[string]any{"repo": "org/evil", "async": true})
		if r.status != 202 || !strings.Contains(string(r.body), `"decision":"pending"`) {
			t.Errorf("admit async: %d %s", r.status, r.body)
		}
		if r = c.do("POST", "/v1/admit", "/v1/admit", acme, map[string]any{"repo": "org/none"}); r.status != 404 || r.errorCode() != "repo_not_found" {
			t.Errorf("admit missing: %d %s", r.status, r.body)
		}
		if r = c.do("POST", "/v1/admit", "/v1/admit", acme, map[string]any{"repo": "org/evil", "extra": 1}); r.status != 400 {
			t.Errorf("admit with an unknown field: %d", r.status)
		}

		// Policy.
		r = c.do("GET", "/v1/policy", "/v1/policy", acme, nil)
		if r.status != 200 || !strings.Contains(string(r.body), `"default":true`) || !strings.Contains(string(r.body), `"fail_on":"high"`) {
			t.Errorf("policy: %s", r.body)
		}
		if r = c.do("PUT", "/v1/policy", "/v1/policy", acme, map[string]string{"text": "fail_on: bogus\n", "format": "yaml"}); r.status != 400 {
			t.Errorf("invalid policy: %d", r.status)
		}
		r = c.do("PUT", "/v1/policy", "/v1/policy", acme, map[string]string{"text": "name: strict\nfail_on: medium\n", "format": "yaml"})
		if r.status != 200 || !strings.Contains(string(r.body), `"fail_on":"medium"`) || !strings.Contains(string(r.body), `"version":"strict@`) {
			t.Errorf("put policy: %d %s", r.status, r.body)
		}
		r = c.do("GET", "/v1/verdicts/{sha256}", "/v1/verdicts/"+badSHA, acme, nil)
		r.decode(t, &sc)
		if sc.Freshness != store.Stale {
			t.Errorf("verdict after a policy change: %s", sc.Freshness)
		}
		if r = c.do("GET", "/v1/policy", "/v1/policy", beta, nil); !strings.Contains(string(r.body), `"default":true`) {
			t.Errorf("beta's policy changed with acme's: %s", r.body)
		}
		if r = c.do("DELETE", "/v1/policy", "/v1/policy", acme, nil); r.status != 200 || !strings.Contains(string(r.body), `"default":true`) {
			t.Errorf("delete policy: %d %s", r.status, r.body)
		}

		// Admin listings and revocation.
		r = c.do("GET", "/v1/admin/tenants", "/v1/admin/tenants", e.admin, nil)
		if !strings.Contains(string(r.body), `"id":"acme"`) || !strings.Contains(string(r.body), `"id":"beta"`) {
			t.Errorf("tenants: %s", r.body)
		}
		var toks struct{ Tokens []server.TokenInfo }
		r = c.do("GET", "/v1/admin/tenants/{tenant}/tokens", "/v1/admin/tenants/beta/tokens", e.admin, nil)
		r.decode(t, &toks)
		if len(toks.Tokens) != 1 || toks.Tokens[0].Token != "" || strings.Contains(string(r.body), beta) {
			t.Fatalf("tokens (secrets must not be listed): %s", r.body)
		}
		if r = c.do("GET", "/v1/admin/tenants/{tenant}/tokens", "/v1/admin/tenants/nobody/tokens", e.admin, nil); r.status != 404 {
			t.Errorf("tokens of a missing tenant: %d", r.status)
		}
		if r = c.do("DELETE", "/v1/admin/tokens/{id}", "/v1/admin/tokens/"+toks.Tokens[0].ID, e.admin, nil); r.status != 204 {
			t.Errorf("revoke: %d", r.status)
		}
		if r = c.do("GET", "/v1/whoami", "/v1/whoami", beta, nil); r.status != 401 {
			t.Errorf("revoked token: %d", r.status)
		}
		if r = c.do("DELETE", "/v1/admin/tokens/{id}", "/v1/admin/tokens/nope", e.admin, nil); r.status != 404 {
			t.Errorf("revoke missing: %d", r.status)
		}

		// Operations.
		if r = c.do("GET", "/healthz", "/healthz", "", nil); r.status != 200 {
			t.Errorf("healthz: %d", r.status)
		}
		if r = c.do("GET", "/readyz", "/readyz", "", nil); r.status != 200 {
			t.Errorf("readyz: %d", r.status)
		}
		r = c.do("GET", "/metrics", "/metrics", "", nil)
		for _, m := range []string{`modelgate_scans_total{decision="deny",format="pickle",source="upload"} 1`,
			`modelgate_http_requests_total{code="401",route="/v1/scans"}`, "modelgate_verdict_lookups_total", "modelgate_admissions_total"} {
			if !strings.Contains(string(r.body), m) {
				t.Errorf("metrics lack %s", m)
			}
		}
	})
	t.Run("proxy", func(t *testing.T) { exerciseProxy(t, spec) })
	// Every documented operation was exercised, and every route is
	// documented.
	for _, op := range spec.operations() {
		if !spec.seen[op] {
			t.Errorf("documented operation %s not exercised", op)
		}
	}
	documented := spec.operations()
	hc, _ := hub.New(hub.Config{Endpoint: "http://127.0.0.1:1"})
	p, err := proxy.New(proxy.Options{Gate: gate.New(gate.Options{}), Client: hc})
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Options{Gate: gate.New(gate.Options{}), Proxy: p})
	for _, r := range srv.Routes() {
		if !slices.Contains(documented, r.Method+" "+r.Path) {
			t.Errorf("route %s %s is not in docs/openapi.yaml", r.Method, r.Path)
		}
	}
}

// Without a hub, admission answers 501 with a stable code.
func TestAdmitWithoutHub(t *testing.T) {
	b := storetest.Open(t, "sqlite", store.Options{})
	g := gate.New(gate.Options{Store: b})
	ctx := context.Background()
	g.CreateTenant(ctx, "acme", "")
	tok, _, _ := g.IssueToken(ctx, "acme", "")
	ts := httptest.NewServer(server.New(server.Options{Gate: g}))
	defer ts.Close()
	c := &client{t: t, base: ts.URL, spec: loadSpec(t)}
	if r := c.do("POST", "/v1/admit", "/v1/admit", tok, map[string]string{"repo": "org/x"}); r.status != http.StatusNotImplemented || r.errorCode() != "hub_not_configured" {
		t.Errorf("%d %s", r.status, r.body)
	}
}
