package server

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"modelgate/internal/finding"
	"modelgate/internal/gate"
	"modelgate/internal/store"
)

func (s *Server) routesAPI() {
	s.handle("POST /v1/scans", s.tenantOnly(s.postScan))
	s.handle("GET /v1/scans", s.tenantOnly(s.listScans))
	s.handle("GET /v1/scans/{id}", s.tenantOnly(s.getScan))
	s.handle("GET /v1/verdicts/{sha256}", s.tenantOnly(s.getVerdict))
	s.handle("GET /v1/findings", s.tenantOnly(s.listFindings))
	s.handle("POST /v1/admit", s.tenantOnly(s.postAdmit))
	s.handle("GET /v1/policy", s.tenantOnly(s.getPolicy))
	s.handle("PUT /v1/policy", s.tenantOnly(s.putPolicy))
	s.handle("DELETE /v1/policy", s.tenantOnly(s.deletePolicy))
	s.handle("GET /v1/whoami", s.tenantOnly(s.whoami))
	s.routesAlerts()
	s.routesAdmin()
}

// ScanSummary is a verdict in listings.
type ScanSummary struct {
	ID          int64          `json:"id"`
	SHA256      string         `json:"sha256"`
	Path        string         `json:"path"`
	Format      string         `json:"format"`
	Status      string         `json:"status"`
	Decision    store.Decision `json:"decision"`
	MaxSeverity string         `json:"max_severity"`
	Findings    int            `json:"findings"`
	Size        int64          `json:"size"`
	store.Versions
	CreatedAt time.Time `json:"created_at"`
}

// Scan is a verdict with its full result.
type Scan struct {
	ScanSummary
	// Freshness is set on lookups by sha256: "current" when made under
	// the tenant's current scanner and policy, else "stale".
	Freshness store.Freshness `json:"freshness,omitempty"`
	// Cached is set on uploads answered from an earlier verdict.
	Cached       *bool           `json:"cached,omitempty"`
	Result       json.RawMessage `json:"result"`
	Listings     json.RawMessage `json:"listings,omitempty"`
	Observations []Observation   `json:"observations,omitempty"`
}

// Observation is where a tenant saw content.
type Observation struct {
	Source    store.Source `json:"source"`
	Hub       string       `json:"hub,omitempty"`
	Repo      string       `json:"repo,omitempty"`
	Revision  string       `json:"revision,omitempty"`
	Path      string       `json:"path,omitempty"`
	FirstSeen time.Time    `json:"first_seen"`
	LastSeen  time.Time    `json:"last_seen"`
	Count     int          `json:"count"`
}

func severityName(v *store.Verdict) string {
	if s, ok := v.Severity(); ok {
		return s.String()
	}
	return "none"
}

func summary(v *store.Verdict) ScanSummary {
	return ScanSummary{ID: v.ID, SHA256: v.SHA256, Path: v.Path, Format: v.Format, Status: string(v.Status),
		Decision: v.Decision, MaxSeverity: severityName(v), Findings: v.Findings, Size: v.Size, Versions: v.Versions,
		CreatedAt: v.CreatedAt}
}

func full(v *store.Verdict) *Scan {
	return &Scan{ScanSummary: summary(v), Result: v.Result, Listings: v.Listings}
}

func observations(os []store.Observation) []Observation {
	out := make([]Observation, 0, len(os))
	for _, o := range os {
		out = append(out, Observation{Source: o.Source, Hub: o.Hub, Repo: o.Repo, Revision: o.Revision, Path: o.Path,
			FirstSeen: o.FirstSeen, LastSeen: o.LastSeen, Count: o.Count})
	}
	return out
}

func (s *Server) postScan(w http.ResponseWriter, r *http.Request, tenant string) {
	// The file is the raw body. A form upload (curl -F) would wrap it in a
	// multipart envelope, and scanning the envelope instead of the file
	// would pass whatever it carries: refuse it and say how to send it.
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); strings.HasPrefix(ct, "multipart/") || ct == "application/x-www-form-urlencoded" {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"send the file itself as the request body (Content-Type: application/octet-stream), e.g. curl --data-binary @model.bin")
		return
	}
	q := r.URL.Query()
	out, err := s.g.ScanUpload(r.Context(), gate.Upload{Tenant: tenant, Name: q.Get("name"), Body: r.Body,
		Hub: q.Get("hub"), Repo: q.Get("repo"), Revision: q.Get("revision"), Path: q.Get("path")})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sc := full(out.Verdict)
	sc.Cached = &out.Cached
	status := http.StatusCreated
	if out.Cached {
		status = http.StatusOK
	}
	writeJSON(w, status, sc)
}

func (s *Server) getVerdict(w http.ResponseWriter, r *http.Request, tenant string) {
	v, fr, err := s.g.Lookup(r.Context(), tenant, r.PathValue("sha256"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sc := full(v)
	sc.Freshness = fr
	writeJSON(w, http.StatusOK, sc)
}

func (s *Server) getScan(w http.ResponseWriter, r *http.Request, tenant string) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.fail(w, r, store.ErrNotFound)
		return
	}
	v, err := s.g.Store().Verdict(r.Context(), tenant, id, r.URL.Query().Get("listings") == "true")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	os, err := s.g.Store().Observations(r.Context(), tenant, v.SHA256, 100)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sc := full(v)
	sc.Observations = observations(os)
	writeJSON(w, http.StatusOK, sc)
}

// pageParams parses limit and cursor.
func pageParams(r *http.Request) (int, string, error) {
	q := r.URL.Query()
	limit := 0
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > store.MaxLimit {
			return 0, "", fmt.Errorf("%w: limit must be 1 to %d", gate.ErrInvalid, store.MaxLimit)
		}
		limit = n
	}
	return limit, q.Get("cursor"), nil
}

func severityParam(r *http.Request) (*finding.Severity, error) {
	v := r.URL.Query().Get("min_severity")
	if v == "" {
		return nil, nil
	}
	s, err := finding.ParseSeverity(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", gate.ErrInvalid, err)
	}
	return &s, nil
}

func (s *Server) listScans(w http.ResponseWriter, r *http.Request, tenant string) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sev, err := severityParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	vq := store.VerdictQuery{Limit: limit, Cursor: cursor, MinSeverity: sev, SHA256: q.Get("sha256")}
	switch d := store.Decision(q.Get("decision")); d {
	case "", store.Allow, store.Deny:
		vq.Decision = d
	default:
		s.fail(w, r, fmt.Errorf("%w: decision must be allow or deny", gate.ErrInvalid))
		return
	}
	switch q.Get("order") {
	case "", "newest":
	case "worst":
		vq.Order = store.Worst
	default:
		s.fail(w, r, fmt.Errorf("%w: order must be newest or worst", gate.ErrInvalid))
		return
	}
	vs, next, err := s.g.Store().ListVerdicts(r.Context(), tenant, vq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := struct {
		Scans []ScanSummary `json:"scans"`
		Next  string        `json:"next_cursor,omitempty"`
	}{Scans: make([]ScanSummary, 0, len(vs)), Next: next}
	for _, v := range vs {
		out.Scans = append(out.Scans, summary(v))
	}
	writeJSON(w, http.StatusOK, out)
}

// FindingItem is a finding in the findings listing.
type FindingItem struct {
	ScanID int64  `json:"scan_id"`
	SHA256 string `json:"sha256"`
	finding.Finding
}

func (s *Server) listFindings(w http.ResponseWriter, r *http.Request, tenant string) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sev, err := severityParam(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	fq := store.FindingQuery{Limit: limit, Cursor: cursor, MinSeverity: sev, Rule: r.URL.Query().Get("rule")}
	if id := r.URL.Query().Get("scan_id"); id != "" {
		if fq.VerdictID, err = strconv.ParseInt(id, 10, 64); err != nil {
			s.fail(w, r, fmt.Errorf("%w: scan_id", gate.ErrInvalid))
			return
		}
	}
	rows, next, err := s.g.Store().ListFindings(r.Context(), tenant, fq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := struct {
		Findings []FindingItem `json:"findings"`
		Next     string        `json:"next_cursor,omitempty"`
	}{Findings: make([]FindingItem, 0, len(rows)), Next: next}
	for _, row := range rows {
		out.Findings = append(out.Findings, FindingItem{ScanID: row.VerdictID, SHA256: row.SHA256, Finding: row.Finding})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) postAdmit(w http.ResponseWriter, r *http.Request, tenant string) {
	var req struct {
		Repo     string `json:"repo"`
		Revision string `json:"revision"`
		Async    bool   `json:"async"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.g.Admit(r.Context(), gate.AdmitRequest{Tenant: tenant, Repo: req.Repo, Revision: req.Revision, Async: req.Async})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if res.Decision == gate.Pending {
		status = http.StatusAccepted
	}
	writeJSON(w, status, res)
}

// PolicyDoc is a tenant's policy as the API shows it.
type PolicyDoc struct {
	// Default: the tenant has no policy of its own.
	Default bool   `json:"default"`
	Text    string `json:"text"`
	Format  string `json:"format,omitempty"`
	Version string `json:"version"`
	FailOn  string `json:"fail_on"`
}

func (s *Server) policyDoc(w http.ResponseWriter, r *http.Request, tenant string) {
	t, err := s.g.Store().Tenant(r.Context(), tenant)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.g.TenantPolicy(r.Context(), tenant)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, PolicyDoc{Default: t.Policy.Text == "", Text: t.Policy.Text, Format: t.Policy.Format,
		Version: p.Versions.Policy, FailOn: p.Threshold.String()})
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request, tenant string) {
	s.policyDoc(w, r, tenant)
}

func (s *Server) putPolicy(w http.ResponseWriter, r *http.Request, tenant string) {
	var req struct {
		Text   string `json:"text"`
		Format string `json:"format"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Text == "" {
		s.fail(w, r, fmt.Errorf("%w: empty policy text (DELETE /v1/policy restores the default)", gate.ErrInvalid))
		return
	}
	if _, err := s.g.SetPolicy(r.Context(), tenant, req.Text, req.Format); err != nil {
		s.fail(w, r, err)
		return
	}
	s.policyDoc(w, r, tenant)
}

func (s *Server) deletePolicy(w http.ResponseWriter, r *http.Request, tenant string) {
	if _, err := s.g.SetPolicy(r.Context(), tenant, "", ""); err != nil {
		s.fail(w, r, err)
		return
	}
	s.policyDoc(w, r, tenant)
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request, tenant string) {
	p, _ := PrincipalFrom(r.Context())
	writeJSON(w, http.StatusOK, map[string]string{"tenant": tenant, "token_id": p.TokenID})
}
