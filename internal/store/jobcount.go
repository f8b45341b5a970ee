package store

import (
	"context"
	"fmt"
	"time"
)

// JobFilter selects jobs to count.
type JobFilter struct {
	// Tenant, if set, keeps that tenant's jobs.
	Tenant string
	// Kinds, if set, keeps jobs of these kinds.
	Kinds []string
	// States, if set, keeps jobs in these states.
	States []JobState
	// DueBy, if set, keeps jobs whose RunAfter is not after it.
	DueBy time.Time
}

// CountJobs implements Queue.
func (d *db) CountJobs(ctx context.Context, f JobFilter) (int, error) {
	where, args := "1 = 1", []any{}
	if f.Tenant != "" {
		where, args = where+" AND tenant_id = ?", append(args, f.Tenant)
	}
	if len(f.Kinds) > 0 {
		where += " AND kind IN (" + placeholders(len(f.Kinds)) + ")"
		for _, k := range f.Kinds {
			args = append(args, k)
		}
	}
	if len(f.States) > 0 {
		where += " AND state IN (" + placeholders(len(f.States)) + ")"
		for _, s := range f.States {
			args = append(args, string(s))
		}
	}
	if !f.DueBy.IsZero() {
		where, args = where+" AND run_after <= ?", append(args, nanos(f.DueBy))
	}
	var n int
	if err := d.r.QueryRowContext(ctx, d.q(`SELECT COUNT(*) FROM jobs WHERE `+where), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	return n, nil
}
