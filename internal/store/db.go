package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Options configure a backend.
type Options struct {
	// Now is the clock for timestamps and lease expiry; default time.Now.
	// With PostgreSQL and workers on several machines, their clocks must
	// agree to well within a lease's duration (run NTP).
	Now func() time.Time
	// Migrations replaces the backend's migrations; tests of upgrades
	// from an older schema pass a prefix of Migrations(kind).
	Migrations []Migration
}

// db is the SQL both backends share. Queries are written with '?'
// placeholders and rewritten to $n for PostgreSQL once, when prepared.
type db struct {
	kind string
	// r serves reads; w serves writes. They are the same pool for
	// PostgreSQL. For SQLite, w has one connection, so writes queue in Go
	// rather than failing with SQLITE_BUSY, and r has several.
	r, w   *sql.DB
	now    func() time.Time
	notify chan struct{}
	migs   []Migration
	// Prepared statements of the hot paths (verdict lookup, token check).
	lookupStmt, tokenStmt, tenantStmt *sql.Stmt
}

func newDB(kind string, r, w *sql.DB, o Options) *db {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &db{kind: kind, r: r, w: w, now: o.Now, notify: make(chan struct{}, 1), migs: o.Migrations}
}

func (d *db) Kind() string { return d.kind }

// q rewrites a query for the backend.
func (d *db) q(query string) string {
	if d.kind != "postgres" || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

func (d *db) prepare(ctx context.Context) error {
	var err error
	if d.lookupStmt, err = d.r.PrepareContext(ctx, d.q(lookupSQL)); err != nil {
		return fmt.Errorf("store: prepare lookup: %w", err)
	}
	if d.tokenStmt, err = d.r.PrepareContext(ctx, d.q(tokenSQL)); err != nil {
		return fmt.Errorf("store: prepare token: %w", err)
	}
	if d.tenantStmt, err = d.r.PrepareContext(ctx, d.q(tenantSQL)); err != nil {
		return fmt.Errorf("store: prepare tenant: %w", err)
	}
	return nil
}

// Ping checks the database answers.
func (d *db) Ping(ctx context.Context) error {
	var one int
	return d.r.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Close closes the pools.
func (d *db) Close() error {
	for _, s := range []*sql.Stmt{d.lookupStmt, d.tokenStmt, d.tenantStmt} {
		if s != nil {
			s.Close()
		}
	}
	err := d.r.Close()
	if d.w != d.r {
		err = errors.Join(err, d.w.Close())
	}
	return err
}

// tx runs fn in a write transaction and commits it.
func (d *db) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// clean makes attacker-controlled text storable: PostgreSQL's TEXT refuses
// NUL bytes and invalid UTF-8, and both backends must store the same thing.
func clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return s
}

// placeholders returns "?,?,…" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func limitOf(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}
