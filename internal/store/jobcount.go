package store

import (
	"context"
	"fmt"
)

// CountJobs implements Queue.
func (d *db) CountJobs(ctx context.Context, kinds []string, states ...JobState) (int, error) {
	where, args := "1 = 1", []any{}
	if len(kinds) > 0 {
		where += " AND kind IN (" + placeholders(len(kinds)) + ")"
		for _, k := range kinds {
			args = append(args, k)
		}
	}
	if len(states) > 0 {
		where += " AND state IN (" + placeholders(len(states)) + ")"
		for _, s := range states {
			args = append(args, string(s))
		}
	}
	var n int
	if err := d.r.QueryRowContext(ctx, d.q(`SELECT COUNT(*) FROM jobs WHERE `+where), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	return n, nil
}
