package server

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"modelgate/internal/gate"
	"modelgate/internal/store"
)

func (s *Server) routesAlerts() {
	s.handle("GET /v1/alerts", s.tenantOnly(s.listAlerts))
	s.handle("GET /v1/alerts/{id}", s.tenantOnly(s.getAlert))
}

// Alert is an alert a watcher raised for the tenant.
type Alert struct {
	ID          int64             `json:"id"`
	Watch       string            `json:"watch"`
	ScanID      int64             `json:"scan_id"`
	SHA256      string            `json:"sha256"`
	Hub         string            `json:"hub,omitempty"`
	Repo        string            `json:"repo,omitempty"`
	Revision    string            `json:"revision,omitempty"`
	Path        string            `json:"path,omitempty"`
	Severity    string            `json:"severity"`
	Status      store.AlertStatus `json:"status"`
	Attempts    int               `json:"attempts"`
	LastError   string            `json:"last_error,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	DeliveredAt *time.Time        `json:"delivered_at,omitempty"`
}

func alertOf(a *store.Alert) Alert {
	out := Alert{ID: a.ID, Watch: a.Watch, ScanID: a.VerdictID, SHA256: a.SHA256, Hub: a.Hub, Repo: a.Repo,
		Revision: a.Revision, Path: a.Path, Severity: a.Severity.String(), Status: a.Status, Attempts: a.Attempts,
		LastError: a.LastError, CreatedAt: a.CreatedAt}
	if !a.DeliveredAt.IsZero() {
		t := a.DeliveredAt
		out.DeliveredAt = &t
	}
	return out
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request, tenant string) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := store.AlertQuery{Limit: limit, Cursor: cursor}
	switch st := store.AlertStatus(r.URL.Query().Get("status")); st {
	case "", store.AlertPending, store.AlertDelivered, store.AlertFailed, store.AlertLogged:
		q.Status = st
	default:
		s.fail(w, r, fmt.Errorf("%w: status must be pending, delivered, failed or logged", gate.ErrInvalid))
		return
	}
	as, next, err := s.g.Store().ListAlerts(r.Context(), tenant, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := struct {
		Alerts []Alert `json:"alerts"`
		Next   string  `json:"next_cursor,omitempty"`
	}{Alerts: make([]Alert, 0, len(as)), Next: next}
	for i := range as {
		out.Alerts = append(out.Alerts, alertOf(&as[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getAlert(w http.ResponseWriter, r *http.Request, tenant string) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.fail(w, r, store.ErrNotFound)
		return
	}
	a, err := s.g.Store().Alert(r.Context(), tenant, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, alertOf(a))
}
