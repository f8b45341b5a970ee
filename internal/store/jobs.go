package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

const jobCols = `id, kind, key, tenant_id, payload, state, attempts, max_attempts, run_after, lease_owner,
	lease_until, last_error, created_at, updated_at`

func scanJob(row scanner) (*Job, error) {
	var j Job
	var payload, state string
	var runAfter, leaseUntil, created, updated int64
	err := row.Scan(&j.ID, &j.Kind, &j.Key, &j.Tenant, &payload, &state, &j.Attempt, &j.MaxAttempts, &runAfter,
		&j.LeaseOwner, &leaseUntil, &j.LastError, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	j.Payload, j.State = json.RawMessage(payload), JobState(state)
	j.RunAfter, j.LeaseUntil = fromNanos(runAfter), fromNanos(leaseUntil)
	j.CreatedAt, j.UpdatedAt = fromNanos(created), fromNanos(updated)
	return &j, nil
}

// Enqueue implements Queue.
func (d *db) Enqueue(ctx context.Context, spec JobSpec) (*Job, bool, error) {
	if spec.Kind == "" || spec.Key == "" {
		return nil, false, errors.New("store: a job needs a kind and a key")
	}
	if len(spec.Payload) == 0 {
		spec.Payload = json.RawMessage("{}")
	}
	if !json.Valid(spec.Payload) {
		return nil, false, errors.New("store: job payload is not JSON")
	}
	if spec.MaxAttempts <= 0 {
		spec.MaxAttempts = DefaultMaxAttempts
	}
	now := d.now()
	runAfter := spec.RunAfter
	if runAfter.IsZero() {
		runAfter = now
	}
	var job *Job
	created := false
	err := d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, d.q(`INSERT INTO jobs (kind, key, tenant_id, payload, state, max_attempts,
			run_after, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`),
			spec.Kind, clean(spec.Key), spec.Tenant, string(spec.Payload), string(JobQueued), spec.MaxAttempts,
			nanos(runAfter), nanos(now), nanos(now))
		if err != nil {
			return fmt.Errorf("store: enqueue: %w", err)
		}
		n, _ := res.RowsAffected()
		created = n == 1
		job, err = scanJob(tx.QueryRowContext(ctx, d.q(`SELECT `+jobCols+` FROM jobs WHERE key = ?`), clean(spec.Key)))
		return err
	})
	if err != nil {
		return nil, false, err
	}
	if created {
		select {
		case d.notify <- struct{}{}:
		default:
		}
	}
	return job, created, nil
}

// forUpdate locks a row read in a write transaction on PostgreSQL; a
// SQLite write transaction already excludes every other writer.
func (d *db) forUpdate() string {
	if d.kind == "postgres" {
		return " FOR UPDATE"
	}
	return ""
}

// Notify implements Queue.
func (d *db) Notify() <-chan struct{} { return d.notify }

// Lease implements Queue.
func (d *db) Lease(ctx context.Context, owner string, kinds []string, ttl time.Duration) (*Job, error) {
	if ttl <= 0 {
		return nil, errors.New("store: a lease needs a positive duration")
	}
	now := nanos(d.now())
	kindSQL := ""
	var kindArgs []any
	if len(kinds) > 0 {
		kindSQL = " AND kind IN (" + placeholders(len(kinds)) + ")"
		for _, k := range kinds {
			kindArgs = append(kindArgs, k)
		}
	}
	// Rows are claimed one at a time. PostgreSQL skips rows other workers
	// hold locked; SQLite has a single writer, so the claim is atomic.
	lock := ""
	if d.kind == "postgres" {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var job *Job
	err := d.tx(ctx, func(tx *sql.Tx) error {
		// A lease that expired after the last attempt: the job killed or
		// hung its worker every time. Fail it rather than retry forever.
		_, err := tx.ExecContext(ctx, d.q(`UPDATE jobs SET state = ?, lease_owner = '', updated_at = ?,
			last_error = 'lease expired after the last attempt (the worker died or hung)'
			WHERE state = ? AND lease_until < ? AND attempts >= max_attempts`+kindSQL),
			append([]any{string(JobFailed), now, string(JobLeased), now}, kindArgs...)...)
		if err != nil {
			return fmt.Errorf("store: lease: %w", err)
		}
		args := []any{string(JobLeased), owner, now + int64(ttl), now, string(JobQueued), now, string(JobLeased), now}
		job, err = scanJob(tx.QueryRowContext(ctx, d.q(`UPDATE jobs SET state = ?, attempts = attempts + 1,
			lease_owner = ?, lease_until = ?, updated_at = ?
			WHERE id = (SELECT id FROM jobs WHERE ((state = ? AND run_after <= ?) OR (state = ? AND lease_until < ?))
				AND attempts < max_attempts`+kindSQL+` ORDER BY id LIMIT 1`+lock+`)
			RETURNING `+jobCols), append(args, kindArgs...)...))
		if errors.Is(err, ErrNotFound) {
			job = nil
			return nil // commit the jobs failed above
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if job == nil {
		return nil, ErrNoJob
	}
	return job, nil
}

// Extend implements Queue.
func (d *db) Extend(ctx context.Context, id int64, attempt int, ttl time.Duration) error {
	now := nanos(d.now())
	return d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, d.q(`UPDATE jobs SET lease_until = ?, updated_at = ?
			WHERE id = ? AND state = ? AND attempts = ?`), now+int64(ttl), now, id, string(JobLeased), attempt)
		if err != nil {
			return fmt.Errorf("store: extend: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrLeaseLost
		}
		return nil
	})
}

// Complete implements Queue.
func (d *db) Complete(ctx context.Context, id int64, attempt int) error {
	now := nanos(d.now())
	return d.tx(ctx, func(tx *sql.Tx) error {
		var state string
		var attempts int
		err := tx.QueryRowContext(ctx, d.q(`SELECT state, attempts FROM jobs WHERE id = ?`+d.forUpdate()), id).Scan(&state, &attempts)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("store: complete: %w", err)
		}
		switch {
		case JobState(state) == JobDone:
			return nil
		case JobState(state) != JobLeased || attempts != attempt:
			return ErrLeaseLost
		}
		_, err = tx.ExecContext(ctx, d.q(`UPDATE jobs SET state = ?, lease_owner = '', lease_until = 0, updated_at = ?
			WHERE id = ?`), string(JobDone), now, id)
		if err != nil {
			return fmt.Errorf("store: complete: %w", err)
		}
		return nil
	})
}

// Fail implements Queue.
func (d *db) Fail(ctx context.Context, id int64, attempt int, reason string, retryAfter time.Duration) error {
	now := nanos(d.now())
	return d.tx(ctx, func(tx *sql.Tx) error {
		var state string
		var attempts, maxAttempts int
		err := tx.QueryRowContext(ctx, d.q(`SELECT state, attempts, max_attempts FROM jobs WHERE id = ?`+d.forUpdate()), id).
			Scan(&state, &attempts, &maxAttempts)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("store: fail: %w", err)
		}
		if JobState(state) != JobLeased || attempts != attempt {
			return ErrLeaseLost
		}
		next, runAfter := JobQueued, now+int64(max(retryAfter, 0))
		if retryAfter < 0 || attempts >= maxAttempts {
			next = JobFailed
		}
		_, err = tx.ExecContext(ctx, d.q(`UPDATE jobs SET state = ?, run_after = ?, lease_owner = '', lease_until = 0,
			last_error = ?, updated_at = ? WHERE id = ?`), string(next), runAfter, clean(reason), now, id)
		if err != nil {
			return fmt.Errorf("store: fail: %w", err)
		}
		return nil
	})
}

// Job implements Queue.
func (d *db) Job(ctx context.Context, id int64) (*Job, error) {
	return scanJob(d.r.QueryRowContext(ctx, d.q(`SELECT `+jobCols+` FROM jobs WHERE id = ?`), id))
}

// QueueStats implements Queue.
func (d *db) QueueStats(ctx context.Context) (map[JobState]int, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT state, COUNT(*) FROM jobs GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	out := map[JobState]int{JobQueued: 0, JobLeased: 0, JobDone: 0, JobFailed: 0}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		out[JobState(s)] = n
	}
	return out, rows.Err()
}

// PurgeJobs implements Queue.
func (d *db) PurgeJobs(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, d.q(`DELETE FROM jobs WHERE state IN (?, ?) AND updated_at < ?`),
			string(JobDone), string(JobFailed), nanos(before))
		if err != nil {
			return fmt.Errorf("store: purge: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}
