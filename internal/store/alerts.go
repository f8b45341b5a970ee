package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"modelgate/internal/finding"
)

// Watch is a watcher's durable state: how far through the hub's listing
// it has enqueued work, and how far it has looked for alerts.
type Watch struct {
	// ID names the watch; a restarted watcher finds its state by it.
	ID     string
	Tenant string
	Hub    string
	// Mark is the high-water mark: the newest lastModified of the listing
	// up to which every repository revision has been enqueued.
	Mark time.Time
	// AlertsChecked: verdicts recorded and observations first seen before
	// this time have been considered for alerts.
	AlertsChecked time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// AlertStatus is where an alert's delivery stands.
type AlertStatus string

// Alert statuses.
const (
	// AlertPending: to be delivered to the watch's webhook.
	AlertPending AlertStatus = "pending"
	// AlertDelivered: the webhook acknowledged it (2xx).
	AlertDelivered AlertStatus = "delivered"
	// AlertFailed: every delivery attempt failed.
	AlertFailed AlertStatus = "failed"
	// AlertLogged: the watch has no webhook; the alert went to the log.
	AlertLogged AlertStatus = "logged"
)

// Alert says that content at or above a watch's severity threshold was
// judged, or seen at a new place. There is one per (watch, verdict, hub,
// repository, path): the same bad file pushed again in a later commit of
// the same repository raises nothing new, while the same file in another
// repository does.
type Alert struct {
	ID        int64
	Tenant    string
	Watch     string
	VerdictID int64
	SHA256    string
	Hub       string
	Repo      string
	// Revision is the commit the content was first seen at there.
	Revision string
	Path     string
	Severity finding.Severity
	Status   AlertStatus
	// Attempts counts delivery attempts.
	Attempts    int
	LastError   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	DeliveredAt time.Time
}

// AlertRule selects what RaiseAlerts raises.
type AlertRule struct {
	Watch  string
	Tenant string
	// MinSeverity is the alert threshold.
	MinSeverity finding.Severity
	// Versions are the tenant's current scanner and policy versions:
	// verdicts under others are stale and raise nothing.
	Versions Versions
	// Since: verdicts recorded, and observations first seen, at or after
	// it are considered (the caller leaves an overlap for transactions
	// that committed late, or clocks that disagree a little).
	Since time.Time
	// Checked is stored as the watch's AlertsChecked in the same
	// transaction.
	Checked time.Time
	// Status is the status new alerts get (AlertPending or AlertLogged).
	Status AlertStatus
}

// AlertQuery selects a page of a tenant's alerts, newest first.
type AlertQuery struct {
	Limit  int
	Cursor string
	Status AlertStatus
}

// WatchStore keeps watchers' state and their alerts' delivery.
type WatchStore interface {
	// OpenWatch returns the watch with w.ID, creating it from w (with
	// AlertsChecked defaulting to now) if there is none. A watch belongs
	// to one tenant and hub: opening it for another fails with ErrExists.
	OpenWatch(ctx context.Context, w Watch) (*Watch, error)
	// AdvanceWatch raises the watch's mark to t; it never lowers it.
	AdvanceWatch(ctx context.Context, id string, t time.Time) error
	// RaiseAlerts records an alert for each place where content with a
	// current verdict at or above the threshold was judged or seen since
	// r.Since, skipping those already raised, and stores r.Checked, in
	// one transaction. It returns the alerts it created, oldest first.
	RaiseAlerts(ctx context.Context, r AlertRule) ([]Alert, error)
	// Alerts lists a watch's alerts with a status and an ID above
	// afterID, oldest first.
	Alerts(ctx context.Context, watch string, status AlertStatus, afterID int64, limit int) ([]Alert, error)
	// RecordDelivery records a delivery attempt: its outcome (the new
	// status) and error.
	RecordDelivery(ctx context.Context, id int64, status AlertStatus, errMsg string) error
}

// AlertStore shows a tenant its alerts.
type AlertStore interface {
	// Alert returns one of the tenant's alerts.
	Alert(ctx context.Context, tenant string, id int64) (*Alert, error)
	// ListAlerts returns a page of the tenant's alerts and the next cursor.
	ListAlerts(ctx context.Context, tenant string, q AlertQuery) ([]Alert, string, error)
}

const watchCols = `id, tenant_id, hub, mark, alerts_checked, created_at, updated_at`

func scanWatch(row scanner) (*Watch, error) {
	var w Watch
	var mark, checked, created, updated int64
	if err := row.Scan(&w.ID, &w.Tenant, &w.Hub, &mark, &checked, &created, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("store: %w", err)
	}
	w.Mark, w.AlertsChecked, w.CreatedAt, w.UpdatedAt = fromNanos(mark), fromNanos(checked), fromNanos(created), fromNanos(updated)
	return &w, nil
}

// OpenWatch implements WatchStore.
func (d *db) OpenWatch(ctx context.Context, w Watch) (*Watch, error) {
	if w.ID == "" || w.Tenant == "" || w.Hub == "" {
		return nil, errors.New("store: a watch needs an ID, a tenant and a hub")
	}
	now := d.now()
	if w.AlertsChecked.IsZero() {
		w.AlertsChecked = now
	}
	var out *Watch
	err := d.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, d.q(`INSERT INTO watches (id, tenant_id, hub, mark, alerts_checked, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
			clean(w.ID), w.Tenant, clean(w.Hub), nanos(w.Mark), nanos(w.AlertsChecked), nanos(now), nanos(now))
		if err != nil {
			return fmt.Errorf("store: open watch: %w", err)
		}
		out, err = scanWatch(tx.QueryRowContext(ctx, d.q(`SELECT `+watchCols+` FROM watches WHERE id = ?`), clean(w.ID)))
		return err
	})
	if err != nil {
		return nil, err
	}
	if out.Tenant != w.Tenant || out.Hub != clean(w.Hub) {
		return nil, fmt.Errorf("%w: watch %q belongs to tenant %s on %s", ErrExists, w.ID, out.Tenant, out.Hub)
	}
	return out, nil
}

// AdvanceWatch implements WatchStore.
func (d *db) AdvanceWatch(ctx context.Context, id string, t time.Time) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, d.q(`UPDATE watches SET mark = CASE WHEN mark < ? THEN ? ELSE mark END, updated_at = ?
			WHERE id = ?`), nanos(t), nanos(t), nanos(d.now()), clean(id))
		if err != nil {
			return fmt.Errorf("store: advance watch: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

const alertCols = `id, tenant_id, watch_id, verdict_id, sha256, hub, repo, revision, path, severity, status, attempts,
	last_error, created_at, updated_at, delivered_at`

func scanAlert(row scanner) (*Alert, error) {
	var a Alert
	var sev int
	var status string
	var created, updated, delivered int64
	err := row.Scan(&a.ID, &a.Tenant, &a.Watch, &a.VerdictID, &a.SHA256, &a.Hub, &a.Repo, &a.Revision, &a.Path, &sev,
		&status, &a.Attempts, &a.LastError, &created, &updated, &delivered)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	a.Severity, a.Status = finding.Severity(sev), AlertStatus(status)
	a.CreatedAt, a.UpdatedAt, a.DeliveredAt = fromNanos(created), fromNanos(updated), fromNanos(delivered)
	return &a, nil
}

func scanAlerts(rows *sql.Rows) ([]Alert, error) {
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return out, nil
}

// RaiseAlerts implements WatchStore.
func (d *db) RaiseAlerts(ctx context.Context, r AlertRule) ([]Alert, error) {
	if r.Status != AlertPending && r.Status != AlertLogged {
		return nil, fmt.Errorf("store: new alerts are pending or logged, not %q", r.Status)
	}
	now := nanos(d.now())
	since := nanos(r.Since)
	var out []Alert
	err := d.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, d.q(`INSERT INTO alerts (tenant_id, watch_id, verdict_id, sha256, hub, repo,
			revision, path, severity, status, created_at, updated_at)
			SELECT v.tenant_id, ?, v.id, v.sha256, o.hub, o.repo, o.revision, o.path, v.max_severity, ?, ?, ?
			FROM verdicts v JOIN observations o ON o.tenant_id = v.tenant_id AND o.sha256 = v.sha256
			WHERE v.tenant_id = ? AND v.max_severity >= ? AND v.scanner_version = ? AND v.policy_version = ?
				AND (v.created_at >= ? OR o.first_seen >= ?)
			ORDER BY v.id, o.id
			ON CONFLICT (watch_id, verdict_id, hub, repo, path) DO NOTHING
			RETURNING `+alertCols),
			clean(r.Watch), string(r.Status), now, now, r.Tenant, int(r.MinSeverity), r.Versions.Scanner, r.Versions.Policy,
			since, since)
		if err != nil {
			return fmt.Errorf("store: raise alerts: %w", err)
		}
		if out, err = scanAlerts(rows); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, d.q(`UPDATE watches SET alerts_checked = ?, updated_at = ? WHERE id = ? AND tenant_id = ?`),
			nanos(r.Checked), now, clean(r.Watch), r.Tenant)
		if err != nil {
			return fmt.Errorf("store: raise alerts: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: raise alerts: watch %q of tenant %s: %w", r.Watch, r.Tenant, ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Alert) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// Alerts implements WatchStore.
func (d *db) Alerts(ctx context.Context, watch string, status AlertStatus, afterID int64, limit int) ([]Alert, error) {
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT `+alertCols+` FROM alerts WHERE watch_id = ? AND status = ? AND id > ?
		ORDER BY id LIMIT ?`), clean(watch), string(status), afterID, limitOf(limit))
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return scanAlerts(rows)
}

// RecordDelivery implements WatchStore.
func (d *db) RecordDelivery(ctx context.Context, id int64, status AlertStatus, errMsg string) error {
	now := nanos(d.now())
	set, args := "", []any{string(status), clean(errMsg), now}
	if status == AlertDelivered {
		set, args = ", delivered_at = ?", append(args, now)
	}
	return d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, d.q(`UPDATE alerts SET status = ?, attempts = attempts + 1, last_error = ?,
			updated_at = ?`+set+` WHERE id = ?`), append(args, id)...)
		if err != nil {
			return fmt.Errorf("store: record delivery: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// Alert implements AlertStore.
func (d *db) Alert(ctx context.Context, tenant string, id int64) (*Alert, error) {
	return scanAlert(d.r.QueryRowContext(ctx, d.q(`SELECT `+alertCols+` FROM alerts WHERE tenant_id = ? AND id = ?`), tenant, id))
}

// ListAlerts implements AlertStore.
func (d *db) ListAlerts(ctx context.Context, tenant string, q AlertQuery) ([]Alert, string, error) {
	limit := limitOf(q.Limit)
	where := []string{"tenant_id = ?"}
	args := []any{tenant}
	if q.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(q.Status))
	}
	if q.Cursor != "" {
		c, err := parseCursor(q.Cursor, "al", 1)
		if err != nil {
			return nil, "", err
		}
		where, args = append(where, "id < ?"), append(args, c[0])
	}
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT `+alertCols+` FROM alerts WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id DESC LIMIT ?`), append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("store: %w", err)
	}
	out, err := scanAlerts(rows)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = makeCursor("al", out[limit-1].ID)
	}
	return out, next, nil
}
