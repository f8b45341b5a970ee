package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"modelgate/internal/store"
	"modelgate/internal/store/storetest"
)

type schemaVersioner interface {
	SchemaVersion(context.Context) (int, error)
}

func TestMigrations(t *testing.T) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			all, err := store.Migrations(kind)
			if err != nil || len(all) < 2 {
				t.Fatalf("migrations: %v (%d)", err, len(all))
			}
			var spec string
			if kind == "sqlite" {
				spec = "sqlite:" + filepath.Join(t.TempDir(), "m.db")
			} else {
				spec = storetest.Schema(t)
			}
			// An old binary created the database with the first migration.
			old, err := store.Open(ctx, spec, "", store.Options{Migrations: all[:1]})
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := old.(schemaVersioner).SchemaVersion(ctx); v != 1 {
				t.Fatalf("old schema at %d", v)
			}
			if err := old.CreateTenant(ctx, store.Tenant{ID: "acme"}); err != nil {
				t.Fatal(err)
			}
			old.Close()
			// This binary upgrades it, keeping the data.
			b, err := store.Open(ctx, spec, "", store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := b.(schemaVersioner).SchemaVersion(ctx); v != len(all) {
				t.Fatalf("upgraded to %d, want %d", v, len(all))
			}
			if _, err := b.Tenant(ctx, "acme"); err != nil {
				t.Fatalf("tenant lost in the upgrade: %v", err)
			}
			if _, _, err := b.Enqueue(ctx, store.JobSpec{Kind: "k", Key: "x"}); err != nil {
				t.Fatalf("queue table missing after upgrade: %v", err)
			}
			b.Close()
			// Opening again applies nothing.
			b, err = store.Open(ctx, spec, "", store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			b.Close()
			// An older binary refuses the newer schema.
			if _, err := store.Open(ctx, spec, "", store.Options{Migrations: all[:1]}); !errors.Is(err, store.ErrSchemaTooNew) {
				t.Fatalf("old binary on a new schema: %v", err)
			}
		})
	}
}

func TestOpenSpecs(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	b, err := store.Open(ctx, "", dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Kind() != "sqlite" {
		t.Errorf("kind %s", b.Kind())
	}
	b.Close()
	if _, err := os.Stat(filepath.Join(dir, store.SQLiteFile)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"mysql://x", "sqlite:/tmp/a?b"} {
		if _, err := store.Open(ctx, bad, dir, store.Options{}); err == nil {
			t.Errorf("%q opened", bad)
		}
	}
	if _, err := store.Open(ctx, "", "", store.Options{}); err == nil {
		t.Error("opened without a store or a data folder")
	}
	_, err = store.Open(ctx, "postgres://u:hunter2@127.0.0.1:1/x?connect_timeout=1", "", store.Options{})
	if err == nil {
		t.Fatal("opened a closed port")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the password: %v", err)
	}
}
