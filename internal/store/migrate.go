package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations
var migrationFS embed.FS

// Migration is one numbered schema change. Migrations are applied in order
// when a store is opened, all pending ones in one transaction, and recorded
// in schema_migrations; they are never edited once released, only added.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the backend's migrations ("sqlite" or "postgres").
func Migrations(kind string) ([]Migration, error) {
	dir := path.Join("migrations", kind)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("store: migrations for %s: %w", kind, err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration file %s: want NNNN_name.sql", name)
		}
		b, err := fs.ReadFile(migrationFS, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: rest, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("store: migrations for %s: version %d where %d was expected", kind, m.Version, i+1)
		}
	}
	return out, nil
}

// migrate applies the migrations the database lacks and returns the
// schema version it is at afterwards. A database at a version this binary
// does not know is refused with ErrSchemaTooNew rather than used.
func (d *db) migrate(ctx context.Context, ms []Migration) (int, error) {
	version := 0
	err := d.tx(ctx, func(tx *sql.Tx) error {
		if d.kind == "postgres" {
			// Several processes may open a fresh database at once.
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('modelgate migrate ' || current_schema()))`); err != nil {
				return fmt.Errorf("store: migration lock: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if version > len(ms) {
			return fmt.Errorf("%w (database at version %d, this binary knows %d)", ErrSchemaTooNew, version, len(ms))
		}
		for _, m := range ms[version:] {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("store: migration %d (%s): %w", m.Version, m.Name, err)
			}
			if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
				m.Version, m.Name, nanos(d.now())); err != nil {
				return fmt.Errorf("store: %w", err)
			}
			version = m.Version
		}
		return nil
	})
	return version, err
}

// SchemaVersion returns the schema version the database is at.
func (d *db) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := d.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
