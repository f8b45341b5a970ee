package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"modelgate/internal/finding"
	"modelgate/internal/store"
	"modelgate/internal/store/storetest"
)

func TestWatchState(t *testing.T) {
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		tenants(t, b, "acme", "beta")
		w, err := b.OpenWatch(ctx, store.Watch{ID: "w1", Tenant: "acme", Hub: "https://hub.test"})
		if err != nil {
			t.Fatal(err)
		}
		if !w.Mark.IsZero() || w.AlertsChecked.IsZero() {
			t.Errorf("new watch: %+v", w)
		}
		t1 := time.Date(2026, 8, 1, 10, 0, 0, 0, time.UTC)
		if err := b.AdvanceWatch(ctx, "w1", t1); err != nil {
			t.Fatal(err)
		}
		if err := b.AdvanceWatch(ctx, "w1", t1.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		w, err = b.OpenWatch(ctx, store.Watch{ID: "w1", Tenant: "acme", Hub: "https://hub.test"})
		if err != nil || !w.Mark.Equal(t1) {
			t.Errorf("the mark moved back or was lost: %+v %v", w, err)
		}
		if _, err := b.OpenWatch(ctx, store.Watch{ID: "w1", Tenant: "beta", Hub: "https://hub.test"}); !errors.Is(err, store.ErrExists) {
			t.Errorf("another tenant took over the watch: %v", err)
		}
		if err := b.AdvanceWatch(ctx, "nope", t1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("advance a missing watch: %v", err)
		}
	})
}

func TestRaiseAlerts(t *testing.T) {
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		tenants(t, b, "acme", "beta")
		start := time.Now().Add(-time.Second)
		if _, err := b.OpenWatch(ctx, store.Watch{ID: "w", Tenant: "acme", Hub: "h", AlertsChecked: start}); err != nil {
			t.Fatal(err)
		}
		at := func(repo, rev, path string, n int) store.Observation {
			return store.Observation{Tenant: "acme", SHA256: sha(n), Source: store.SourceWatch, Hub: "h", Repo: repo, Revision: rev, Path: path}
		}
		bad := record(t, b, "acme", v1, result(1, finding.Critical), at("org/evil", "c1", "model.bin", 1))
		record(t, b, "acme", v1, result(2, finding.Low), at("org/evil", "c1", "notes.pkl", 2))
		record(t, b, "acme", v1, result(3), at("org/evil", "c1", "ok.pkl", 3))
		record(t, b, "beta", v1, result(4, finding.Critical)) // another tenant's
		rule := store.AlertRule{Watch: "w", Tenant: "acme", MinSeverity: finding.High, Versions: v1, Since: start,
			Checked: time.Now(), Status: store.AlertPending}
		got, err := b.RaiseAlerts(ctx, rule)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].VerdictID != bad.ID || got[0].Repo != "org/evil" || got[0].Path != "model.bin" ||
			got[0].Severity != finding.Critical || got[0].Status != store.AlertPending || got[0].Tenant != "acme" {
			t.Fatalf("alerts: %+v", got)
		}
		if again, err := b.RaiseAlerts(ctx, rule); err != nil || len(again) != 0 {
			t.Errorf("raised twice: %+v %v", again, err)
		}
		// The same content in a later commit of the same repository is not
		// news; in another repository it is.
		if err := b.Observe(ctx, at("org/evil", "c2", "model.bin", 1), at("org/fork", "f1", "weights/model.bin", 1)); err != nil {
			t.Fatal(err)
		}
		got, err = b.RaiseAlerts(ctx, rule)
		if err != nil || len(got) != 1 || got[0].Repo != "org/fork" || got[0].Path != "weights/model.bin" || got[0].Revision != "f1" {
			t.Fatalf("sighting in a fork: %+v %v", got, err)
		}
		// Verdicts under other versions are stale: no alerts under v1's rule.
		record(t, b, "acme", store.Versions{Scanner: "s2", Policy: "p1"}, result(5, finding.Critical), at("org/x", "c", "y", 5))
		if got, _ := b.RaiseAlerts(ctx, rule); len(got) != 0 {
			t.Errorf("stale verdict raised an alert: %+v", got)
		}
		// Nothing before Since.
		late := rule
		late.Since = time.Now().Add(time.Hour)
		record(t, b, "acme", v1, result(6, finding.Critical), at("org/y", "c", "z", 6))
		if got, _ := b.RaiseAlerts(ctx, late); len(got) != 0 {
			t.Errorf("alert before Since: %+v", got)
		}
		if _, err := b.RaiseAlerts(ctx, store.AlertRule{Watch: "w", Tenant: "beta", Versions: v1, Status: store.AlertPending}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("beta raised alerts on acme's watch: %v", err)
		}

		pending, err := b.Alerts(ctx, "w", store.AlertPending, 0, 10)
		if err != nil || len(pending) != 2 {
			t.Fatalf("pending: %+v %v", pending, err)
		}
		if rest, err := b.Alerts(ctx, "w", store.AlertPending, pending[0].ID, 10); err != nil || len(rest) != 1 || rest[0].ID != pending[1].ID {
			t.Errorf("pending after the first: %+v %v", rest, err)
		}
		if err := b.RecordDelivery(ctx, pending[0].ID, store.AlertPending, "503 from receiver"); err != nil {
			t.Fatal(err)
		}
		if err := b.RecordDelivery(ctx, pending[0].ID, store.AlertDelivered, ""); err != nil {
			t.Fatal(err)
		}
		a, err := b.Alert(ctx, "acme", pending[0].ID)
		if err != nil || a.Status != store.AlertDelivered || a.Attempts != 2 || !a.DeliveredAt.Equal(a.UpdatedAt) || a.DeliveredAt.Before(a.CreatedAt) {
			t.Errorf("after delivery: %+v %v", a, err)
		}
		if _, err := b.Alert(ctx, "beta", pending[0].ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("beta reads acme's alert: %v", err)
		}
		page, next, err := b.ListAlerts(ctx, "acme", store.AlertQuery{Limit: 1})
		if err != nil || len(page) != 1 || next == "" || page[0].ID != pending[1].ID {
			t.Fatalf("page 1: %+v %q %v", page, next, err)
		}
		page, next, err = b.ListAlerts(ctx, "acme", store.AlertQuery{Limit: 1, Cursor: next})
		if err != nil || len(page) != 1 || next != "" || page[0].ID != pending[0].ID {
			t.Errorf("page 2: %+v %q %v", page, next, err)
		}
		if page, _, _ := b.ListAlerts(ctx, "acme", store.AlertQuery{Status: store.AlertDelivered}); len(page) != 1 {
			t.Errorf("delivered: %+v", page)
		}
		if page, _, _ := b.ListAlerts(ctx, "beta", store.AlertQuery{}); len(page) != 0 {
			t.Errorf("beta sees acme's alerts: %+v", page)
		}
	})
}

func TestCountJobs(t *testing.T) {
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		enqueue(t, b, "a", "k1")
		enqueue(t, b, "a", "k2")
		enqueue(t, b, "b", "k3")
		if _, _, err := b.Enqueue(ctx, store.JobSpec{Kind: "a", Key: "k4", Tenant: "beta", RunAfter: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Lease(ctx, "w", []string{"b"}, time.Minute); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			f    store.JobFilter
			want int
		}{
			{store.JobFilter{}, 4},
			{store.JobFilter{Kinds: []string{"a"}}, 3},
			{store.JobFilter{Kinds: []string{"a", "b"}, States: []store.JobState{store.JobLeased}}, 1},
			{store.JobFilter{States: []store.JobState{store.JobQueued}, DueBy: time.Now()}, 2},
			{store.JobFilter{Tenant: "beta"}, 1},
			{store.JobFilter{Kinds: []string{"c"}}, 0},
		} {
			if n, err := b.CountJobs(ctx, c.f); err != nil || n != c.want {
				t.Errorf("%+v: %d %v, want %d", c.f, n, err, c.want)
			}
		}
	})
}
