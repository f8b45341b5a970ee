package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"modelgate/internal/gate"
	"modelgate/internal/store"
)

// Error codes in {"error": {"code": …}}; stable, documented in
// docs/openapi.yaml.
const (
	codeUnauthorized = "unauthorized"
	codeForbidden    = "forbidden"
	codeNotFound     = "not_found"
	codeInvalid      = "invalid_request"
	codeTooLarge     = "too_large"
	codeConflict     = "conflict"
	codeRepoNotFound = "repo_not_found"
	codeNoHub        = "hub_not_configured"
	codeUnavailable  = "unavailable"
	codeInternal     = "internal"
)

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, codeInternal, "encoding the response failed")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte{'\n'})
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="modelgate"`)
	}
	b, _ := json.Marshal(errorBody{errorDetail{code, msg}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte{'\n'})
}

// fail maps an error from the gate or store to a response. Internal
// errors are logged, not shown.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, gate.ErrUnauthorized):
		writeError(w, http.StatusUnauthorized, codeUnauthorized, "a valid bearer token is required")
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, codeNotFound, "not found")
	case errors.Is(err, gate.ErrNotOnHub):
		writeError(w, http.StatusNotFound, codeRepoNotFound, err.Error())
	case errors.Is(err, gate.ErrInvalid), errors.Is(err, store.ErrBadCursor):
		writeError(w, http.StatusBadRequest, codeInvalid, err.Error())
	case errors.Is(err, gate.ErrTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge, err.Error())
	case errors.Is(err, store.ErrExists):
		writeError(w, http.StatusConflict, codeConflict, err.Error())
	case errors.Is(err, gate.ErrNoHub):
		writeError(w, http.StatusNotImplemented, codeNoHub, "this gate has no hub configured")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		w.WriteHeader(499)
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeError(w, http.StatusInternalServerError, codeInternal, "internal error")
	}
}

// bearer extracts the token of an Authorization: Bearer header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

type principalKey struct{}

// PrincipalFrom returns the principal an authenticated request acts for.
func PrincipalFrom(ctx context.Context) (gate.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(gate.Principal)
	return p, ok
}

// tenantOnly admits requests with a valid tenant token; the API's tenant
// comes from the token, never from the request.
func (s *Server) tenantOnly(h func(w http.ResponseWriter, r *http.Request, tenant string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.g.Authenticate(r.Context(), bearer(r))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if p.Admin {
			writeError(w, http.StatusForbidden, codeForbidden, "the admin token manages tenants; use a tenant's token")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)), p.Tenant)
	})
}

// adminOnly admits requests with the admin token.
func (s *Server) adminOnly(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.g.Authenticate(r.Context(), bearer(r))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !p.Admin {
			writeError(w, http.StatusForbidden, codeForbidden, "this needs the admin token")
			return
		}
		h(w, r)
	})
}

// decodeJSON reads a small JSON request body strictly.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20+4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.Join(gate.ErrInvalid, err)
	}
	return nil
}
