package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"modelgate/internal/fakehub"
	"modelgate/internal/finding"
	"modelgate/internal/gate"
	"modelgate/internal/gate/gatetest"
	"modelgate/internal/gatehub"
	"modelgate/internal/hub"
	"modelgate/internal/proxy"
	"modelgate/internal/server"
	"modelgate/internal/store"
	"modelgate/internal/store/storetest"
)

const fakehubToken = "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"

// proxyEnv is a gate with the hub proxy in front of a fake hub.
type proxyEnv struct {
	*env
	hub  *fakehub.Server
	base string
}

func newProxyEnv(t *testing.T, b store.Backend, spec *apiSpec) *proxyEnv {
	t.Helper()
	h, err := fakehub.New(fakehub.Options{Dir: t.TempDir(), Tokens: []string{fakehubToken}, Rescan: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	fh, err := fakehub.Start(h, "", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fh.Close() })
	c, err := hub.New(hub.Config{Endpoint: fh.URL, Token: fakehubToken, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	admin, _ := gate.NewAdminToken()
	reg := prometheus.NewRegistry()
	e := &env{admin: admin, scan: gatetest.NewScanner()}
	e.g = gate.New(gate.Options{Store: b, Queue: b, Hub: gatehub.New(c), Scanner: e.scan, AdminTokenSHA256: gate.HashToken(admin),
		TempDir: t.TempDir(), Metrics: gate.NewMetrics(reg)})
	p, err := proxy.New(proxy.Options{Gate: e.g, Client: c, Token: fakehubToken, TempDir: t.TempDir(), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = server.New(server.Options{Gate: e.g, Registry: reg, Proxy: p})
	ts := httptest.NewServer(e.srv)
	t.Cleanup(ts.Close)
	e.c = &client{t: t, base: ts.URL, spec: spec}
	return &proxyEnv{env: e, hub: fh, base: ts.URL}
}

// raw sends a request without the spec check (HEAD, undocumented paths).
func raw(t *testing.T, method, url, token string, hdr ...string) response {
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
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

type proxyErr struct {
	Error    string          `json:"error"`
	Code     string          `json:"code"`
	SHA256   string          `json:"sha256"`
	ScanID   int64           `json:"scan_id"`
	Revision string          `json:"revision"`
	Reasons  []gate.Reason   `json:"reasons"`
	Decision store.Decision  `json:"decision"`
	Extra    json.RawMessage `json:"-"`
}

// exerciseProxy drives every proxy and alert route through the spec
// check, on both backends: downloads allowed byte-exact (whole, HEAD,
// ranges; LFS and regular files; models, datasets and spaces), a
// malicious file refused with 403 and its reasons, scanned once per
// tenant, tenants kept apart, metadata forwarded, and alerts listed per
// tenant.
func exerciseProxy(t *testing.T, spec *apiSpec) {
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		e := newProxyEnv(t, b, spec)
		c := e.c
		acme, beta := e.tenant(t, "acme"), e.tenant(t, "beta")
		bad, good := gatetest.Malicious(), gatetest.Benign()
		big := bytes.Repeat([]byte("modelgate streams and verifies. "), 40_000) // 1.25 MB, several chunks
		config := []byte(`{"model_type": "bert"}`)
		evilPickle := append([]byte(nil), bad...) // a regular (non-LFS) file: read in full and hashed
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(e.hub.Hub.Upload("models", "org/clean", map[string][]byte{"model.pkl": good, "big.bin": big, "sub/config.json": config}))
		must(e.hub.Hub.Upload("models", "org/evil", map[string][]byte{"pytorch_model.bin": bad, "notes.txt": evilPickle}))
		must(e.hub.Hub.Upload("datasets", "org/data", map[string][]byte{"train.pkl": good}))
		must(e.hub.Hub.Upload("spaces", "org/app", map[string][]byte{"app.txt": []byte("hello")}))
		clean := e.hub.Hub.Commit("models", "org/clean")
		const tmpl = "/{org}/{name}/resolve/{revision}/{path}"

		// Authentication.
		if r := c.do("GET", tmpl, "/org/clean/resolve/main/model.pkl", "", nil); r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("no token: %d %s", r.status, r.body)
		}
		if r := c.do("GET", tmpl, "/org/clean/resolve/main/model.pkl", e.admin, nil); r.status != 403 {
			t.Errorf("admin token: %d %s", r.status, r.body)
		}

		// Allowed files, byte-exact, with truthful headers.
		r := c.do("GET", tmpl, "/org/clean/resolve/main/model.pkl", acme, nil)
		if r.status != 200 || !bytes.Equal(r.body, good) || r.header.Get("X-Repo-Commit") != clean ||
			r.header.Get("X-Linked-Etag") != `"`+gatetest.SHA256(good)+`"` || r.header.Get("X-Linked-Size") != fmt.Sprint(len(good)) ||
			r.header.Get("X-Modelgate-Decision") != "allow" || r.header.Get("ETag") != `"`+gatetest.SHA256(good)+`"` {
			t.Errorf("benign LFS file: %d %v %d bytes", r.status, r.header, len(r.body))
		}
		r = c.do("GET", tmpl, "/org/clean/resolve/"+clean+"/big.bin", acme, nil)
		if r.status != 200 || !bytes.Equal(r.body, big) {
			t.Errorf("big file: %d, %d bytes", r.status, len(r.body))
		}
		h := raw(t, "HEAD", e.base+"/org/clean/resolve/main/big.bin", acme)
		if h.status != 200 || h.header.Get("Content-Length") != fmt.Sprint(len(big)) || len(h.body) != 0 || h.header.Get("X-Repo-Commit") != clean {
			t.Errorf("HEAD: %d %v", h.status, h.header)
		}
		for rng, want := range map[string][]byte{"bytes=2-5": big[2:6], "bytes=1000000-": big[1000000:], "bytes=-7": big[len(big)-7:],
			"bytes=0-0": big[:1], fmt.Sprintf("bytes=10-%d", len(big)+100): big[10:]} {
			r := raw(t, "GET", e.base+"/org/clean/resolve/main/big.bin", acme, "Range", rng)
			if r.status != 206 || !bytes.Equal(r.body, want) || !strings.HasSuffix(r.header.Get("Content-Range"), fmt.Sprintf("/%d", len(big))) {
				t.Errorf("%s: %d %q, %d bytes", rng, r.status, r.header.Get("Content-Range"), len(r.body))
			}
		}
		if r := raw(t, "GET", e.base+"/org/clean/resolve/main/big.bin", acme, "Range", "bytes=99999999-"); r.status != 416 ||
			r.header.Get("Content-Range") != fmt.Sprintf("bytes */%d", len(big)) || r.header.Get("X-Modelgate-Decision") != "" {
			t.Errorf("unsatisfiable range: %d %v", r.status, r.header)
		}
		// A regular (non-LFS) file: read in full, hashed, judged, served.
		r = c.do("GET", tmpl, "/org/clean/resolve/main/sub/config.json", acme, nil)
		if r.status != 200 || !bytes.Equal(r.body, config) || r.header.Get("X-Linked-Etag") != "" || len(strings.Trim(r.header.Get("ETag"), `"`)) != 40 ||
			r.header.Get("X-Modelgate-Sha256") != gatetest.SHA256(config) {
			t.Errorf("regular file: %d %v %q", r.status, r.header, r.body)
		}
		if r := raw(t, "GET", e.base+"/org/clean/resolve/main/sub/config.json", acme, "Range", "bytes=1-4"); r.status != 206 || string(r.body) != string(config[1:5]) {
			t.Errorf("regular file range: %d %q", r.status, r.body)
		}
		r = c.do("GET", "/datasets/{org}/{name}/resolve/{revision}/{path}", "/datasets/org/data/resolve/main/train.pkl", acme, nil)
		if r.status != 200 || !bytes.Equal(r.body, good) {
			t.Errorf("dataset file: %d", r.status)
		}
		r = c.do("GET", "/spaces/{org}/{name}/resolve/{revision}/{path}", "/spaces/org/app/resolve/main/app.txt", acme, nil)
		if r.status != 200 || string(r.body) != "hello" {
			t.Errorf("space file: %d %q", r.status, r.body)
		}

		// The malicious files: 403 with a stable code and the reasons.
		for _, p := range []string{"pytorch_model.bin", "notes.txt"} {
			for range 2 {
				r = c.do("GET", tmpl, "/org/evil/resolve/main/"+p, acme, nil)
				var pe proxyErr
				r.decode(t, &pe)
				if r.status != 403 || pe.Code != "artifact_blocked" || r.header.Get("X-Error-Code") != "ArtifactBlocked" ||
					pe.SHA256 != gatetest.SHA256(bad) || len(pe.Reasons) == 0 || pe.Reasons[0].Rule != "PICKLE-DANGEROUS-GLOBAL" ||
					pe.Revision != e.hub.Hub.Commit("models", "org/evil") || !strings.Contains(r.header.Get("X-Error-Message"), "PICKLE-DANGEROUS-GLOBAL") {
					t.Errorf("%s: %d %v %s", p, r.status, r.header, r.body)
				}
			}
			if h := raw(t, "HEAD", e.base+"/org/evil/resolve/main/"+p, acme); h.status != 403 || h.header.Get("X-Error-Code") != "ArtifactBlocked" {
				t.Errorf("HEAD %s: %d", p, h.status)
			}
		}
		// The same content is scanned once for acme, whichever file and
		// however often it was asked for, and once more for beta, whose
		// verdicts are its own.
		if n := e.scan.Count(gatetest.SHA256(bad)); n != 1 {
			t.Errorf("malicious content scanned %d times for one tenant", n)
		}
		if r := c.do("GET", tmpl, "/org/evil/resolve/main/pytorch_model.bin", beta, nil); r.status != 403 {
			t.Errorf("beta: %d", r.status)
		}
		if n := e.scan.Count(gatetest.SHA256(bad)); n != 2 {
			t.Errorf("malicious content scanned %d times for two tenants", n)
		}

		// Where acme downloaded things is acme's alone.
		var sc server.Scan
		r = c.do("GET", "/v1/verdicts/{sha256}", "/v1/verdicts/"+gatetest.SHA256(bad), acme, nil)
		r.decode(t, &sc)
		r = c.do("GET", "/v1/scans/{id}", fmt.Sprintf("/v1/scans/%d", sc.ID), acme, nil)
		r.decode(t, &sc)
		proxied := 0
		for _, o := range sc.Observations {
			if o.Source == store.SourceProxy && o.Repo == "org/evil" && o.Hub == e.hub.URL {
				proxied++
			}
		}
		if proxied != 2 {
			t.Errorf("proxy observations: %+v", sc.Observations)
		}
		if r := c.do("GET", "/v1/scans/{id}", fmt.Sprintf("/v1/scans/%d", sc.ID), beta, nil); r.status != 404 {
			t.Errorf("beta reads acme's scan: %d", r.status)
		}
		if r := c.do("GET", "/v1/verdicts/{sha256}", "/v1/verdicts/"+gatetest.SHA256(big), beta, nil); r.status != 404 {
			t.Errorf("beta learns acme downloaded a file: %d", r.status)
		}

		// The upstream's errors, relayed with their codes.
		for path, code := range map[string]string{"/org/clean/resolve/main/nope.bin": "EntryNotFound", "/org/none/resolve/main/x.bin": "RepoNotFound",
			"/org/clean/resolve/v9/model.pkl": "RevisionNotFound"} {
			if r := c.do("GET", tmpl, path, acme, nil); r.status != 404 || r.header.Get("X-Error-Code") != code {
				t.Errorf("%s: %d %q %s", path, r.status, r.header.Get("X-Error-Code"), r.body)
			}
		}

		// Metadata, forwarded.
		r = c.do("GET", "/api/{repo_type}", "/api/models?author=org&limit=1&expand=sha", acme, nil)
		next := r.header.Get("Link")
		if r.status != 200 || !strings.HasPrefix(next, "<"+e.base+"/api/models?") {
			t.Fatalf("listing: %d %q %s", r.status, next, r.body)
		}
		url := strings.TrimPrefix(next[:strings.Index(next, ">")], "<"+e.base)
		if r = c.do("GET", "/api/{repo_type}", url, acme, nil); r.status != 200 || !strings.Contains(string(r.body), `"id":"org/`) {
			t.Errorf("next page: %d %s", r.status, r.body)
		}
		for _, op := range []struct{ tmpl, path, want string }{
			{"/api/{repo_type}/{org}/{name}", "/api/models/org/clean", `"sha":"` + clean},
			{"/api/{repo_type}/{org}/{name}/revision/{revision}", "/api/models/org/clean/revision/main", `"sha":"` + clean},
			{"/api/{repo_type}/{org}/{name}/tree/{revision}", "/api/models/org/clean/tree/main?recursive=true", `"path":"sub/config.json"`},
			{"/api/{repo_type}/{org}/{name}/tree/{revision}/{path}", "/api/models/org/clean/tree/main/sub", `"path":"sub/config.json"`},
			{"/api/{repo_type}/{org}/{name}/refs", "/api/models/org/clean/refs", clean},
			{"/api/{repo_type}/{org}/{name}/commits/{revision}", "/api/models/org/clean/commits/main", clean},
			{"/api/{repo_type}/{org}/{name}", "/api/models/org/none", `Repository not found`},
		} {
			if r := c.do("GET", op.tmpl, op.path, acme, nil); !strings.Contains(string(r.body), op.want) {
				t.Errorf("%s: %d %s", op.path, r.status, r.body)
			}
		}
		r = c.do("POST", "/api/{repo_type}/{org}/{name}/paths-info/{revision}", "/api/models/org/clean/paths-info/main", acme,
			map[string]any{"paths": []string{"big.bin"}})
		if r.status != 200 || !strings.Contains(string(r.body), gatetest.SHA256(big)) {
			t.Errorf("paths-info: %d %s", r.status, r.body)
		}
		if r := c.do("GET", "/api/{repo_type}", "/api/models", "", nil); r.status != 401 {
			t.Errorf("listing without a token: %d", r.status)
		}
		if r := c.do("GET", "/api/{repo_type}/{org}/{name}", "/api/models/org/clean/xet-read-token/main", acme, nil); r.status != 403 {
			t.Errorf("xet-read-token: %d", r.status)
		}

		// Alerts: raised from acme's verdicts, listed for acme only.
		ctx := context.Background()
		pol, _ := e.g.TenantPolicy(ctx, "acme")
		if _, err := b.OpenWatch(ctx, store.Watch{ID: "acme-watch", Tenant: "acme", Hub: e.hub.URL, AlertsChecked: time.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		raised, err := b.RaiseAlerts(ctx, store.AlertRule{Watch: "acme-watch", Tenant: "acme", MinSeverity: finding.High, Versions: pol.Versions,
			Since: time.Now().Add(-time.Hour), Checked: time.Now(), Status: store.AlertLogged})
		if err != nil || len(raised) != 2 {
			t.Fatalf("raise: %+v %v", raised, err)
		}
		var al struct {
			Alerts []server.Alert `json:"alerts"`
			Next   string         `json:"next_cursor"`
		}
		r = c.do("GET", "/v1/alerts", "/v1/alerts?limit=1&status=logged", acme, nil)
		r.decode(t, &al)
		if r.status != 200 || len(al.Alerts) != 1 || al.Next == "" || al.Alerts[0].Repo != "org/evil" || al.Alerts[0].Severity != "critical" {
			t.Errorf("alerts: %d %s", r.status, r.body)
		}
		if r = c.do("GET", "/v1/alerts/{id}", fmt.Sprintf("/v1/alerts/%d", raised[0].ID), acme, nil); r.status != 200 {
			t.Errorf("alert: %d %s", r.status, r.body)
		}
		if r = c.do("GET", "/v1/alerts/{id}", fmt.Sprintf("/v1/alerts/%d", raised[0].ID), beta, nil); r.status != 404 {
			t.Errorf("beta reads acme's alert: %d", r.status)
		}
		if r = c.do("GET", "/v1/alerts", "/v1/alerts", beta, nil); r.status != 200 || strings.Contains(string(r.body), "org/evil") {
			t.Errorf("beta lists acme's alerts: %s", r.body)
		}
		if r = c.do("GET", "/v1/alerts", "/v1/alerts?status=lost", acme, nil); r.status != 400 {
			t.Errorf("bad status: %d", r.status)
		}
		if r = c.do("GET", "/v1/alerts/{id}", "/v1/alerts/x", acme, nil); r.status != 404 {
			t.Errorf("bad id: %d", r.status)
		}

		// The gate's own routes keep precedence over the proxy's.
		if r := raw(t, "GET", e.base+"/v1/scans/resolve/main/x", acme); r.status != 404 {
			t.Errorf("a /v1 path reached the proxy: %d %s", r.status, r.body)
		}
		if r = c.do("GET", "/metrics", "/metrics", "", nil); !strings.Contains(string(r.body), `modelgate_proxy_downloads_total{decision="deny",method="GET"}`) ||
			!strings.Contains(string(r.body), `route="/{org}/{name}/resolve/{revision}/{path}"`) {
			t.Errorf("proxy metrics missing")
		}
	})
}
