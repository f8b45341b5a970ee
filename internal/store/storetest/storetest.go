// Package storetest opens throwaway stores for tests: SQLite in a
// temporary folder, and PostgreSQL in a fresh schema that is dropped when
// the test ends. Every store test runs against both.
//
// PostgreSQL is found at $MODELGATE_TEST_POSTGRES, by default
// postgres://postgres@127.0.0.1:5432/test (trust authentication, as .ci/run
// sets up). If no server answers, the PostgreSQL half fails when CI or
// MODELGATE_TEST_POSTGRES is set, and is skipped with a message otherwise.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"modelgate/internal/store"
)

// DefaultPostgres is the server tests use when MODELGATE_TEST_POSTGRES is
// unset.
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Kinds are the backends every store test runs against.
var Kinds = []string{"sqlite", "postgres"}

// ForEach runs fn as a subtest for each backend, with a fresh store.
func ForEach(t *testing.T, o store.Options, fn func(t *testing.T, b store.Backend)) {
	t.Helper()
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) {
			fn(t, Open(t, kind, o))
		})
	}
}

// Open returns a fresh, migrated store of the kind, closed (and for
// PostgreSQL dropped) when the test ends.
func Open(t testing.TB, kind string, o store.Options) store.Backend {
	t.Helper()
	ctx := context.Background()
	var spec string
	switch kind {
	case "sqlite":
		spec = "sqlite:" + filepath.Join(t.TempDir(), "test.db")
	case "postgres":
		spec = Schema(t)
	default:
		t.Fatalf("unknown backend %q", kind)
	}
	b, err := store.Open(ctx, spec, "", o)
	if err != nil {
		t.Fatalf("open %s: %v", kind, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// PostgresURL returns the test server's URL, or skips or fails the test
// when none answers (see the package comment).
func PostgresURL(t testing.TB) string {
	t.Helper()
	spec, explicit := os.LookupEnv("MODELGATE_TEST_POSTGRES")
	if !explicit || spec == "" {
		spec = DefaultPostgres
	}
	db, err := connect(spec)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
		db.Close()
	}
	if err != nil {
		if explicit || os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL at %s does not answer (needed in CI; .ci/run starts it): %v", redacted(spec), err)
		}
		t.Skipf("SKIP PostgreSQL tests: no server at %s (%v); set MODELGATE_TEST_POSTGRES or run .ci/run", redacted(spec), err)
	}
	return spec
}

// Schema creates a fresh schema on the test server, drops it when the
// test ends, and returns a URL whose connections use it.
func Schema(t testing.TB) string {
	t.Helper()
	spec := PostgresURL(t)
	var rnd [6]byte
	rand.Read(rnd[:])
	schema := "mgtest_" + hex.EncodeToString(rnd[:])
	db, err := connect(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		db, err := connect(spec)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer db.Close()
		if _, err := db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func connect(spec string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(spec)
	if err != nil {
		return nil, err
	}
	cfg.ConnectTimeout = 5 * time.Second
	return stdlib.OpenDB(*cfg), nil
}

func redacted(spec string) string {
	if u, err := url.Parse(spec); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
}

// Clock is a settable clock for lease tests; safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts a clock at a fixed time.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
