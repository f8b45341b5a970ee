package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"modelgate/internal/finding"
	"modelgate/internal/report"
)

const verdictCols = `id, tenant_id, sha256, scanner_version, policy_version, decision, format, status,
	max_severity, findings, size, path, result, created_at`

// lookupSQL prefers the verdict under the asked versions, else the newest.
const lookupSQL = `SELECT ` + verdictCols + ` FROM verdicts WHERE tenant_id = ? AND sha256 = ?
	ORDER BY CASE WHEN scanner_version = ? AND policy_version = ? THEN 0 ELSE 1 END, id DESC LIMIT 1`

// maxFindingRows bounds the findings indexed per verdict for listings; the
// verdict's result always holds all of them.
const maxFindingRows = 1000

type scanner interface{ Scan(...any) error }

func scanVerdict(row scanner, extra ...any) (*Verdict, error) {
	var v Verdict
	var decision, status, result string
	var created int64
	dest := []any{&v.ID, &v.Tenant, &v.SHA256, &v.Scanner, &v.Policy, &decision, &v.Format, &status,
		&v.MaxSeverity, &v.Findings, &v.Size, &v.Path, &result, &created}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("store: %w", err)
	}
	v.Decision, v.Status, v.Result, v.CreatedAt = Decision(decision), report.Status(status), json.RawMessage(result), fromNanos(created)
	return &v, nil
}

// RecordVerdict implements VerdictStore.
func (d *db) RecordVerdict(ctx context.Context, v *Verdict, obs ...Observation) (*Verdict, bool, error) {
	if v.Tenant == "" || v.SHA256 == "" || v.Scanner == "" || v.Policy == "" {
		return nil, false, errors.New("store: a verdict needs a tenant, sha256, scanner and policy version")
	}
	var f report.File
	if err := json.Unmarshal(v.Result, &f); err != nil {
		return nil, false, fmt.Errorf("store: verdict result: %w", err)
	}
	now := d.now()
	var stored *Verdict
	created := false
	err := d.tx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, d.q(`INSERT INTO verdicts (tenant_id, sha256, scanner_version, policy_version,
			decision, format, status, max_severity, findings, size, path, result, listings, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, sha256, scanner_version, policy_version) DO NOTHING RETURNING id`),
			v.Tenant, v.SHA256, v.Scanner, v.Policy, string(v.Decision), clean(v.Format), string(v.Status),
			v.MaxSeverity, v.Findings, v.Size, clean(v.Path), string(v.Result), string(v.Listings), nanos(now)).Scan(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			// Recorded before: keep the first verdict, it is immutable.
		case err != nil:
			return fmt.Errorf("store: insert verdict: %w", err)
		default:
			created = true
			if err := d.insertFindings(ctx, tx, id, v, &f); err != nil {
				return err
			}
		}
		if err := d.observe(ctx, tx, now, obs); err != nil {
			return err
		}
		stored, err = scanVerdict(tx.QueryRowContext(ctx, d.q(`SELECT `+verdictCols+` FROM verdicts
			WHERE tenant_id = ? AND sha256 = ? AND scanner_version = ? AND policy_version = ?`),
			v.Tenant, v.SHA256, v.Scanner, v.Policy))
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return stored, created, nil
}

func (d *db) insertFindings(ctx context.Context, tx *sql.Tx, id int64, v *Verdict, f *report.File) error {
	stmt, err := tx.PrepareContext(ctx, d.q(`INSERT INTO findings (verdict_id, ord, tenant_id, sha256, path, rule,
		severity, member, byte_offset, message, evidence, analyzer, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`))
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer stmt.Close()
	for i, x := range f.Findings {
		if i >= maxFindingRows {
			break
		}
		_, err := stmt.ExecContext(ctx, id, i, v.Tenant, v.SHA256, clean(v.Path), clean(x.Rule), int(x.Severity),
			clean(x.Member), x.Offset, clean(x.Message), clean(x.Evidence), clean(x.Analyzer), x.Count)
		if err != nil {
			return fmt.Errorf("store: insert finding: %w", err)
		}
	}
	return nil
}

// LookupVerdict implements VerdictStore.
func (d *db) LookupVerdict(ctx context.Context, tenant, sha256 string, cur Versions) (*Verdict, Freshness, error) {
	v, err := scanVerdict(d.lookupStmt.QueryRowContext(ctx, tenant, sha256, cur.Scanner, cur.Policy))
	if err != nil {
		return nil, "", err
	}
	if v.Versions == cur {
		return v, Current, nil
	}
	return v, Stale, nil
}

// Verdict implements VerdictStore.
func (d *db) Verdict(ctx context.Context, tenant string, id int64, withListings bool) (*Verdict, error) {
	var listings string
	v, err := scanVerdict(d.r.QueryRowContext(ctx, d.q(`SELECT `+verdictCols+`, listings FROM verdicts
		WHERE tenant_id = ? AND id = ?`), tenant, id), &listings)
	if err != nil {
		return nil, err
	}
	if withListings && listings != "" {
		v.Listings = json.RawMessage(listings)
	}
	return v, nil
}

// ListVerdicts implements VerdictStore.
func (d *db) ListVerdicts(ctx context.Context, tenant string, q VerdictQuery) ([]*Verdict, string, error) {
	limit := limitOf(q.Limit)
	where := []string{"tenant_id = ?"}
	args := []any{tenant}
	if q.Decision != "" {
		where, args = append(where, "decision = ?"), append(args, string(q.Decision))
	}
	if q.MinSeverity != nil {
		where, args = append(where, "max_severity >= ?"), append(args, int(*q.MinSeverity))
	}
	if q.SHA256 != "" {
		where, args = append(where, "sha256 = ?"), append(args, q.SHA256)
	}
	order := "id DESC"
	tag := "vn"
	if q.Order == Worst {
		order, tag = "max_severity DESC, id DESC", "vw"
	}
	if q.Cursor != "" {
		if q.Order == Worst {
			c, err := parseCursor(q.Cursor, tag, 2)
			if err != nil {
				return nil, "", err
			}
			where = append(where, "(max_severity < ? OR (max_severity = ? AND id < ?))")
			args = append(args, c[0], c[0], c[1])
		} else {
			c, err := parseCursor(q.Cursor, tag, 1)
			if err != nil {
				return nil, "", err
			}
			where, args = append(where, "id < ?"), append(args, c[0])
		}
	}
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT `+verdictCols+` FROM verdicts WHERE `+
		strings.Join(where, " AND ")+` ORDER BY `+order+` LIMIT ?`), append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []*Verdict
	for rows.Next() {
		v, err := scanVerdict(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		if q.Order == Worst {
			next = makeCursor(tag, int64(last.MaxSeverity), last.ID)
		} else {
			next = makeCursor(tag, last.ID)
		}
	}
	return out, next, nil
}

// ListFindings implements VerdictStore.
func (d *db) ListFindings(ctx context.Context, tenant string, q FindingQuery) ([]FindingRow, string, error) {
	limit := limitOf(q.Limit)
	where := []string{"tenant_id = ?"}
	args := []any{tenant}
	if q.MinSeverity != nil {
		where, args = append(where, "severity >= ?"), append(args, int(*q.MinSeverity))
	}
	if q.Rule != "" {
		where, args = append(where, "rule = ?"), append(args, q.Rule)
	}
	if q.VerdictID != 0 {
		where, args = append(where, "verdict_id = ?"), append(args, q.VerdictID)
	}
	if q.Cursor != "" {
		c, err := parseCursor(q.Cursor, "f", 2)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "(verdict_id < ? OR (verdict_id = ? AND ord > ?))")
		args = append(args, c[0], c[0], c[1])
	}
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT verdict_id, ord, sha256, path, rule, severity, member,
		byte_offset, message, evidence, analyzer, count FROM findings WHERE `+strings.Join(where, " AND ")+
		` ORDER BY verdict_id DESC, ord ASC LIMIT ?`), append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []FindingRow
	var ords []int64
	for rows.Next() {
		var r FindingRow
		var ord int64
		var sev int
		if err := rows.Scan(&r.VerdictID, &ord, &r.SHA256, &r.Finding.Path, &r.Rule, &sev, &r.Member, &r.Offset,
			&r.Message, &r.Evidence, &r.Analyzer, &r.Count); err != nil {
			return nil, "", fmt.Errorf("store: %w", err)
		}
		r.Severity = finding.Severity(sev)
		out, ords = append(out, r), append(ords, ord)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = makeCursor("f", out[limit-1].VerdictID, ords[limit-1])
	}
	return out, next, nil
}
