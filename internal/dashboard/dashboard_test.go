package dashboard_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"modelgate/internal/dashboard"
	"modelgate/internal/finding"
	"modelgate/internal/gate"
	"modelgate/internal/gate/gatetest"
	"modelgate/internal/server"
	"modelgate/internal/store"
	"modelgate/internal/store/storetest"
)

type site struct {
	url            string
	g              *gate.Gate
	acme, beta     string // tokens
	admin          string
	acmeID, betaID int64 // a flagged scan of each
}

// newSite serves the API and the dashboard with two tenants, each with a
// malicious and a benign upload (acme's malicious one has a hostile name).
func newSite(t testing.TB, kind string) *site {
	t.Helper()
	b := storetest.Open(t, kind, store.Options{})
	admin, _ := gate.NewAdminToken()
	g := gate.New(gate.Options{Store: b, TempDir: t.TempDir(), AdminTokenSHA256: gate.HashToken(admin)})
	srv := server.New(server.Options{Gate: g, Dashboard: dashboard.New(dashboard.Options{Gate: g})})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	s := &site{url: ts.URL, g: g, admin: admin}
	ctx := context.Background()
	for _, id := range []string{"acme", "beta"} {
		if _, err := g.CreateTenant(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
	}
	s.acme, _, _ = g.IssueToken(ctx, "acme", "dashboard")
	s.beta, _, _ = g.IssueToken(ctx, "beta", "dashboard")
	up := func(tenant, name string, data []byte, repo string) int64 {
		out, err := g.ScanUpload(ctx, gate.Upload{Tenant: tenant, Name: name, Body: bytes.NewReader(data), Repo: repo, Revision: strings.Repeat("ab", 20)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Verdict.ID
	}
	s.acmeID = up("acme", `evil<script>alert("x")</script>.bin`, gatetest.Malicious(), "org/evil")
	up("acme", "weights.pkl", gatetest.Benign(), "org/fine")
	s.betaID = up("beta", "beta-secret-model.bin", append(gatetest.Malicious(), 0), "")
	// A watcher's alerts for each tenant.
	for _, tenant := range []string{"acme", "beta"} {
		pol, _ := g.TenantPolicy(ctx, tenant)
		if _, err := b.OpenWatch(ctx, store.Watch{ID: tenant + "-watch", Tenant: tenant, Hub: "https://hub.test"}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.RaiseAlerts(ctx, store.AlertRule{Watch: tenant + "-watch", Tenant: tenant, MinSeverity: finding.High, Versions: pol.Versions,
			Since: time.Now().Add(-time.Hour), Checked: time.Now(), Status: store.AlertLogged}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func TestLoginCookieAndRedirects(t *testing.T) {
	s := newSite(t, "sqlite")
	c := &http.Client{CheckRedirect: noRedirect}
	resp, err := c.Get(s.url + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/login" {
		t.Fatalf("unauthenticated: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	for token, want := range map[string]int{"nonsense": 401, s.admin: 401, s.acme: 303} {
		resp, err := c.PostForm(s.url+"/ui/login", url.Values{"token": {token}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("login with %.8s…: %d, want %d", token, resp.StatusCode, want)
		}
		if want != 303 {
			continue
		}
		var ck *http.Cookie
		for _, k := range resp.Cookies() {
			if k.Name == dashboard.CookieName {
				ck = k
			}
		}
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/ui/" {
			t.Errorf("session cookie: %+v", ck)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
			t.Errorf("CSP: %q", csp)
		}
	}
}

func TestCrossOriginPostsRefused(t *testing.T) {
	s := newSite(t, "sqlite")
	for _, h := range []map[string]string{{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}} {
		for _, path := range []string{"/ui/login", "/ui/logout"} {
			req, _ := http.NewRequest("POST", s.url+path, strings.NewReader("token="+url.QueryEscape(s.acme)))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range h {
				req.Header.Set(k, v)
			}
			resp, err := (&http.Client{CheckRedirect: noRedirect}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
				t.Errorf("%s with %v: %d, cookies %v", path, h, resp.StatusCode, resp.Cookies())
			}
		}
	}
}

// The pages show only the signed-in tenant's scans, and escape what the
// scanned files control.
func TestPagesTenantScopedAndEscaped(t *testing.T) {
	s := newSite(t, "sqlite")
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	if resp, err := c.PostForm(s.url+"/ui/login", url.Values{"token": {s.acme}}); err != nil || resp.StatusCode != 200 {
		t.Fatalf("login: %v %v", err, resp)
	}
	get := func(path string) (int, string) {
		resp, err := c.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/ui/")
	if code != 200 || !strings.Contains(body, "weights.pkl") || !strings.Contains(body, "org/evil") {
		t.Fatalf("overview: %d", code)
	}
	if strings.Contains(body, "beta-secret-model") {
		t.Error("acme's overview shows beta's scan or alert")
	}
	if alerts := body[strings.Index(body, `id="alerts"`):strings.Index(body, `id="recent"`)]; !strings.Contains(alerts, "org/evil/evil&lt;script&gt;") ||
		!strings.Contains(alerts, "logged") || !strings.Contains(alerts, fmt.Sprintf(`/ui/scans/%d`, s.acmeID)) {
		t.Errorf("alerts section: %s", alerts)
	}
	if strings.Contains(body, `<script>alert("x")</script>`) || !strings.Contains(body, "&lt;script&gt;") {
		t.Error("file name not escaped")
	}
	code, body = get(fmt.Sprintf("/ui/scans/%d", s.acmeID))
	if code != 200 || !strings.Contains(body, "PICKLE-DANGEROUS-GLOBAL") || !strings.Contains(body, "posix.system(&#39;echo pwned&#39;)") {
		t.Errorf("scan page: %d", code)
	}
	if code, _ = get(fmt.Sprintf("/ui/scans/%d", s.betaID)); code != 404 {
		t.Errorf("beta's scan from acme's session: %d", code)
	}
	if code, _ = get("/ui/scans/x"); code != 404 {
		t.Errorf("bad ID: %d", code)
	}
	if code, _ = get("/ui/?cursor=bogus"); code != 400 {
		t.Errorf("bad cursor: %d", code)
	}
	if code, body = get("/ui/static/style.css"); code != 200 || !strings.Contains(body, ".sev-critical") {
		t.Errorf("stylesheet: %d", code)
	}
	// Revoking the token ends the session.
	p, _ := s.g.Authenticate(context.Background(), s.acme)
	s.g.RevokeToken(context.Background(), p.TokenID)
	if code, body = get("/ui/"); !strings.Contains(body, `id="token"`) {
		t.Errorf("revoked session still shows scans: %d", code)
	}
}
