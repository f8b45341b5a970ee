package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
)

// SQLiteFile is the database file's name in a data folder.
const SQLiteFile = "modelgate.db"

// Open opens the store a URL names and migrates it:
//
//   - "postgres://…" or "postgresql://…": a PostgreSQL server (pgx
//     connection string; search_path=SCHEMA selects a schema).
//   - "sqlite:PATH" or "sqlite://PATH": a SQLite database file.
//   - "": SQLiteFile in dataDir, created with the folder if missing.
func Open(ctx context.Context, spec, dataDir string, o Options) (Backend, error) {
	switch {
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		return OpenPostgres(ctx, spec, o)
	case strings.HasPrefix(spec, "sqlite:"):
		p := strings.TrimPrefix(strings.TrimPrefix(spec, "sqlite:"), "//")
		return OpenSQLite(ctx, p, o)
	case spec == "":
		if dataDir == "" {
			return nil, errors.New("store: no --store URL and no data folder")
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		return OpenSQLite(ctx, filepath.Join(dataDir, SQLiteFile), o)
	}
	return nil, fmt.Errorf("store: unsupported store %q (want postgres://… or sqlite:PATH)", redact(spec))
}

// redact hides a password in a URL for error messages and logs.
func redact(spec string) string {
	u, err := url.Parse(spec)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// OpenSQLite opens (creating if needed) a SQLite database file and
// migrates it. The database runs in WAL mode with synchronous=FULL: a
// commit returns only after the WAL is on disk, so an acknowledged write
// survives a power cut, not only a crash.
func OpenSQLite(ctx context.Context, path string, o Options) (Backend, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("store: invalid SQLite path %q", path)
	}
	params := "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)"
	drv := &sqlite.Driver{}
	w := sql.OpenDB(connector{drv, path + "?" + params + "&_txlock=immediate"})
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	r := sql.OpenDB(connector{drv, path + "?" + params + "&_pragma=query_only(1)"})
	readers := max(4, 2*runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	d := newDB("sqlite", r, w, o)
	return d.init(ctx)
}

// connector opens SQLite connections through a driver value of our own,
// so nothing is registered in database/sql's global driver list.
type connector struct {
	drv *sqlite.Driver
	dsn string
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.drv }

// OpenPostgres connects to PostgreSQL and migrates the schema.
func OpenPostgres(ctx context.Context, spec string, o Options) (Backend, error) {
	cfg, err := pgx.ParseConfig(spec)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", redact(spec), err)
	}
	p := stdlib.OpenDB(*cfg)
	p.SetMaxOpenConns(max(8, 4*runtime.GOMAXPROCS(0)))
	p.SetMaxIdleConns(max(8, 4*runtime.GOMAXPROCS(0)))
	d := newDB("postgres", p, p, o)
	return d.init(ctx)
}

func (d *db) init(ctx context.Context) (Backend, error) {
	ms := d.migs
	if ms == nil {
		var err error
		if ms, err = Migrations(d.kind); err != nil {
			d.Close()
			return nil, err
		}
	}
	if _, err := d.migrate(ctx, ms); err != nil {
		d.Close()
		return nil, err
	}
	if err := d.prepare(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}
