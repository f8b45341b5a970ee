// Package dashboard is the gate's web page: recent scans, flagged files
// and repositories with the worst finding first, and a file view with its
// findings, imports and decompiled pickles. It is server-rendered with
// html/template (which escapes the attacker-controlled text scans report),
// loads nothing from elsewhere, runs no script, and is scoped to one tenant
// like the API.
//
// Login takes a tenant's API token and keeps it in a cookie that scripts
// cannot read (HttpOnly), that browsers send only with same-site requests
// (SameSite=Strict) and only to /ui/. State-changing requests (login,
// logout) are also refused when the browser says they come from another
// origin (net/http's CrossOriginProtection, which reads Sec-Fetch-Site and
// Origin), so no page elsewhere can log a user in or out.
package dashboard

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"modelgate/internal/gate"
	"modelgate/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// CookieName is the session cookie.
const CookieName = "modelgate_session"

// Options configure the dashboard.
type Options struct {
	Gate *gate.Gate
	// Secure marks the cookie Secure; set it when the gate is reached over
	// HTTPS (directly or through a TLS-terminating proxy).
	Secure bool
	Logger *slog.Logger
}

type dashboard struct {
	g      *gate.Gate
	opts   Options
	log    *slog.Logger
	pages  map[string]*template.Template
	static http.Handler
}

// New returns the dashboard's handler, to be mounted at /ui/.
func New(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	d := &dashboard{g: o.Gate, opts: o, log: o.Logger, pages: map[string]*template.Template{}}
	for _, page := range []string{"login", "overview", "scan", "error"} {
		d.pages[page] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+page+".html"))
	}
	sub, _ := fs.Sub(staticFS, "static")
	d.static = http.StripPrefix("/ui/static/", http.FileServerFS(sub))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ui/login", d.loginForm)
	mux.HandleFunc("POST /ui/login", d.login)
	mux.HandleFunc("POST /ui/logout", d.logout)
	mux.HandleFunc("GET /ui/{$}", d.tenant(d.overview))
	mux.HandleFunc("GET /ui/scans/{id}", d.tenant(d.scan))
	mux.Handle("GET /ui/static/", d.static)
	mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		d.errorPage(w, http.StatusNotFound, "No such page.")
	})
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.errorPage(w, http.StatusForbidden, "Cross-origin request refused.")
	}))
	return headers(csrf.Handler(mux))
}

// headers sets a strict content security policy: the pages load only the
// gate's own stylesheet, run no script, and cannot be framed.
func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

func (d *dashboard) render(w http.ResponseWriter, status int, page string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := d.pages[page].Execute(w, data); err != nil {
		d.log.Error("dashboard template", slog.String("page", page), slog.Any("error", err))
	}
}

func (d *dashboard) errorPage(w http.ResponseWriter, status int, msg string) {
	d.render(w, status, "error", map[string]any{"Title": http.StatusText(status), "Status": status, "Message": msg})
}

// tenant resolves the session cookie to a tenant, or sends to the login.
func (d *dashboard) tenant(h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(CookieName)
		if err != nil {
			http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
			return
		}
		p, err := d.g.Authenticate(r.Context(), c.Value)
		if err != nil || p.Admin {
			if err != nil && !errors.Is(err, gate.ErrUnauthorized) {
				d.log.Error("dashboard auth", slog.Any("error", err))
				d.errorPage(w, http.StatusInternalServerError, "Internal error.")
				return
			}
			d.clearCookie(w)
			http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
			return
		}
		h(w, r, p.Tenant)
	}
}

func (d *dashboard) setCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: token, Path: "/ui/", HttpOnly: true, Secure: d.opts.Secure,
		SameSite: http.SameSiteStrictMode, MaxAge: int((12 * time.Hour).Seconds())})
}

func (d *dashboard) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/ui/", HttpOnly: true, Secure: d.opts.Secure,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

func (d *dashboard) loginForm(w http.ResponseWriter, r *http.Request) {
	d.render(w, http.StatusOK, "login", map[string]any{"Title": "Sign in"})
}

func (d *dashboard) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	token := r.PostFormValue("token")
	p, err := d.g.Authenticate(r.Context(), token)
	if err != nil || p.Admin {
		msg := "That token is not valid."
		if p.Admin {
			msg = "The admin token manages tenants; sign in with a tenant's token."
		}
		d.render(w, http.StatusUnauthorized, "login", map[string]any{"Title": "Sign in", "Error": msg})
		return
	}
	d.setCookie(w, token)
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

func (d *dashboard) logout(w http.ResponseWriter, r *http.Request) {
	d.clearCookie(w)
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

// alertRow is an alert as the overview shows it.
type alertRow struct {
	ScanID                  int64
	Sev                     int
	Hub, Repo, Path, Status string
	When                    time.Time
}

func (d *dashboard) overview(w http.ResponseWriter, r *http.Request, tenant string) {
	ctx := r.Context()
	st := d.g.Store()
	pol, err := d.g.TenantPolicy(ctx, tenant)
	if err != nil {
		d.fail(w, err)
		return
	}
	flagged, _, err := st.ListVerdicts(ctx, tenant, store.VerdictQuery{Limit: 25, Order: store.Worst, Decision: store.Deny})
	if err != nil {
		d.fail(w, err)
		return
	}
	repos, err := st.FlaggedRepos(ctx, tenant, pol.Versions, 25)
	if err != nil {
		d.fail(w, err)
		return
	}
	recent, next, err := st.ListVerdicts(ctx, tenant, store.VerdictQuery{Limit: 30, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		if errors.Is(err, store.ErrBadCursor) {
			d.errorPage(w, http.StatusBadRequest, "Invalid page.")
			return
		}
		d.fail(w, err)
		return
	}
	alerts, _, err := st.ListAlerts(ctx, tenant, store.AlertQuery{Limit: 10})
	if err != nil {
		d.fail(w, err)
		return
	}
	rows := make([]alertRow, 0, len(alerts))
	for _, a := range alerts {
		rows = append(rows, alertRow{ScanID: a.VerdictID, Sev: int(a.Severity), Hub: a.Hub, Repo: a.Repo, Path: a.Path,
			Status: string(a.Status), When: a.CreatedAt})
	}
	d.render(w, http.StatusOK, "overview", map[string]any{
		"Title": "Scans", "Tenant": tenant, "Policy": pol.Versions.Policy, "Scanner": pol.Versions.Scanner,
		"FailOn": pol.Threshold.String(), "Flagged": flagged, "Repos": repos, "Recent": recent, "Next": next,
		"Alerts": rows,
	})
}

func (d *dashboard) scan(w http.ResponseWriter, r *http.Request, tenant string) {
	ctx := r.Context()
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		d.errorPage(w, http.StatusNotFound, "No such scan.")
		return
	}
	v, err := d.g.Store().Verdict(ctx, tenant, id, true)
	if errors.Is(err, store.ErrNotFound) {
		d.errorPage(w, http.StatusNotFound, "No such scan.")
		return
	}
	if err != nil {
		d.fail(w, err)
		return
	}
	f, err := v.File()
	if err != nil {
		d.fail(w, err)
		return
	}
	obs, err := d.g.Store().Observations(ctx, tenant, v.SHA256, 50)
	if err != nil {
		d.fail(w, err)
		return
	}
	pol, err := d.g.TenantPolicy(ctx, tenant)
	if err != nil {
		d.fail(w, err)
		return
	}
	d.render(w, http.StatusOK, "scan", map[string]any{
		"Title": v.Path, "Tenant": tenant, "V": v, "File": f, "Observations": obs,
		"Stale": v.Versions != pol.Versions,
	})
}

func (d *dashboard) fail(w http.ResponseWriter, err error) {
	d.log.Error("dashboard", slog.Any("error", err))
	d.errorPage(w, http.StatusInternalServerError, "Internal error.")
}
