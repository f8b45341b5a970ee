package server

import (
	"net/http"
	"time"

	"modelgate/internal/store"
)

func (s *Server) routesAdmin() {
	s.handle("POST /v1/admin/tenants", s.adminOnly(s.createTenant))
	s.handle("GET /v1/admin/tenants", s.adminOnly(s.listTenants))
	s.handle("POST /v1/admin/tenants/{tenant}/tokens", s.adminOnly(s.createToken))
	s.handle("GET /v1/admin/tenants/{tenant}/tokens", s.adminOnly(s.listTokens))
	s.handle("DELETE /v1/admin/tokens/{id}", s.adminOnly(s.revokeToken))
}

// TenantInfo is a tenant in the admin API.
type TenantInfo struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	CreatedAt     time.Time `json:"created_at"`
	PolicyVersion string    `json:"policy_version,omitempty"`
}

// TokenInfo is a token in the admin API; Token (the secret) is only set
// when the token is created.
type TokenInfo struct {
	ID        string     `json:"id"`
	Tenant    string     `json:"tenant"`
	Name      string     `json:"name"`
	Token     string     `json:"token,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

func tenantInfo(t *store.Tenant) TenantInfo {
	return TenantInfo{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, PolicyVersion: t.Policy.Version}
}

func tokenInfo(t *store.Token) TokenInfo {
	ti := TokenInfo{ID: t.ID, Tenant: t.Tenant, Name: t.Name, CreatedAt: t.CreatedAt}
	if !t.RevokedAt.IsZero() {
		r := t.RevokedAt
		ti.RevokedAt = &r
	}
	return ti
}

func (s *Server) createTenant(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := s.g.CreateTenant(r.Context(), req.ID, req.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, tenantInfo(t))
}

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request) {
	ts, err := s.g.Store().ListTenants(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := struct {
		Tenants []TenantInfo `json:"tenants"`
	}{Tenants: make([]TenantInfo, 0, len(ts))}
	for i := range ts {
		out.Tenants = append(out.Tenants, tenantInfo(&ts[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	secret, tok, err := s.g.IssueToken(r.Context(), r.PathValue("tenant"), req.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	stored, err := s.g.Store().Token(r.Context(), tok.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ti := tokenInfo(stored)
	ti.Token = secret
	writeJSON(w, http.StatusCreated, ti)
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if _, err := s.g.Store().Tenant(r.Context(), tenant); err != nil {
		s.fail(w, r, err)
		return
	}
	ts, err := s.g.Store().ListTokens(r.Context(), tenant)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := struct {
		Tokens []TokenInfo `json:"tokens"`
	}{Tokens: make([]TokenInfo, 0, len(ts))}
	for i := range ts {
		out.Tokens = append(out.Tokens, tokenInfo(&ts[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	if err := s.g.RevokeToken(r.Context(), r.PathValue("id")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
