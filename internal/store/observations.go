package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Observe implements VerdictStore.
func (d *db) Observe(ctx context.Context, obs ...Observation) error {
	if len(obs) == 0 {
		return nil
	}
	now := d.now()
	return d.tx(ctx, func(tx *sql.Tx) error { return d.observe(ctx, tx, now, obs) })
}

func (d *db) observe(ctx context.Context, tx *sql.Tx, now time.Time, obs []Observation) error {
	for _, o := range obs {
		if o.Tenant == "" || o.SHA256 == "" || o.Source == "" {
			return errors.New("store: an observation needs a tenant, sha256 and source")
		}
		_, err := tx.ExecContext(ctx, d.q(`INSERT INTO observations (tenant_id, sha256, source, hub, repo, revision,
			path, first_seen, last_seen, seen_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
			ON CONFLICT (tenant_id, sha256, source, hub, repo, revision, path)
			DO UPDATE SET last_seen = excluded.last_seen, seen_count = observations.seen_count + 1`),
			o.Tenant, o.SHA256, string(o.Source), clean(o.Hub), clean(o.Repo), clean(o.Revision), clean(o.Path),
			nanos(now), nanos(now))
		if err != nil {
			return fmt.Errorf("store: observe: %w", err)
		}
	}
	return nil
}

// Observations implements VerdictStore.
func (d *db) Observations(ctx context.Context, tenant, sha256 string, limit int) ([]Observation, error) {
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT id, tenant_id, sha256, source, hub, repo, revision, path,
		first_seen, last_seen, seen_count FROM observations WHERE tenant_id = ? AND sha256 = ?
		ORDER BY last_seen DESC, id DESC LIMIT ?`), tenant, sha256, limitOf(limit))
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []Observation
	for rows.Next() {
		var o Observation
		var src string
		var first, last int64
		if err := rows.Scan(&o.ID, &o.Tenant, &o.SHA256, &src, &o.Hub, &o.Repo, &o.Revision, &o.Path,
			&first, &last, &o.Count); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		o.Source, o.FirstSeen, o.LastSeen = Source(src), fromNanos(first), fromNanos(last)
		out = append(out, o)
	}
	return out, rows.Err()
}

// FlaggedRepos implements VerdictStore.
func (d *db) FlaggedRepos(ctx context.Context, tenant string, cur Versions, limit int) ([]RepoSummary, error) {
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT o.hub, o.repo, MAX(v.max_severity), COUNT(DISTINCT v.sha256),
		MAX(o.last_seen) FROM observations o JOIN verdicts v ON v.tenant_id = o.tenant_id AND v.sha256 = o.sha256
		WHERE o.tenant_id = ? AND o.repo <> '' AND v.decision = ? AND v.scanner_version = ? AND v.policy_version = ?
		GROUP BY o.hub, o.repo ORDER BY 3 DESC, 5 DESC LIMIT ?`),
		tenant, string(Deny), cur.Scanner, cur.Policy, limitOf(limit))
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []RepoSummary
	for rows.Next() {
		var r RepoSummary
		var last int64
		if err := rows.Scan(&r.Hub, &r.Repo, &r.MaxSeverity, &r.Files, &last); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		r.LastSeen = fromNanos(last)
		out = append(out, r)
	}
	return out, rows.Err()
}
