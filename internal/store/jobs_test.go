package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"modelgate/internal/store"
	"modelgate/internal/store/storetest"
)

func enqueue(t *testing.T, q store.Queue, kind, key string) *store.Job {
	t.Helper()
	j, created, err := q.Enqueue(context.Background(), store.JobSpec{Kind: kind, Key: key, Tenant: "acme", Payload: json.RawMessage(`{"n":1}`)})
	if err != nil || !created {
		t.Fatalf("enqueue %s: %v created=%v", key, err, created)
	}
	return j
}

func TestQueueBasics(t *testing.T) {
	clock := storetest.NewClock()
	storetest.ForEach(t, store.Options{Now: clock.Now}, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		if _, err := b.Lease(ctx, "w1", nil, time.Minute); !errors.Is(err, store.ErrNoJob) {
			t.Fatalf("empty queue: %v", err)
		}
		a := enqueue(t, b, "scan.file", "a")
		select {
		case <-b.Notify():
		default:
			t.Error("no notification after enqueue")
		}
		// Enqueueing the same key returns the same job.
		same, created, err := b.Enqueue(ctx, store.JobSpec{Kind: "scan.file", Key: "a"})
		if err != nil || created || same.ID != a.ID {
			t.Fatalf("re-enqueue: %v %v %+v", err, created, same)
		}
		bj := enqueue(t, b, "scan.revision", "b")
		if _, _, err := b.Enqueue(ctx, store.JobSpec{Kind: "x", Key: "bad", Payload: json.RawMessage("{")}); err == nil {
			t.Error("invalid payload accepted")
		}
		if _, _, err := b.Enqueue(ctx, store.JobSpec{Kind: "x"}); err == nil {
			t.Error("job without a key accepted")
		}
		// Kinds filter, then oldest first.
		got, err := b.Lease(ctx, "w1", []string{"scan.revision"}, time.Minute)
		if err != nil || got.ID != bj.ID || got.Attempt != 1 || got.State != store.JobLeased || got.LeaseOwner != "w1" {
			t.Fatalf("lease by kind: %v %+v", err, got)
		}
		got, err = b.Lease(ctx, "w1", nil, time.Minute)
		if err != nil || got.ID != a.ID || string(got.Payload) != `{"n":1}` || got.Tenant != "acme" {
			t.Fatalf("lease: %v %+v", err, got)
		}
		if _, err := b.Lease(ctx, "w2", nil, time.Minute); !errors.Is(err, store.ErrNoJob) {
			t.Fatalf("leased twice: %v", err)
		}
		// Complete is idempotent.
		if err := b.Complete(ctx, a.ID, 1); err != nil {
			t.Fatal(err)
		}
		if err := b.Complete(ctx, a.ID, 1); err != nil {
			t.Fatalf("second complete: %v", err)
		}
		if j, _ := b.Job(ctx, a.ID); j.State != store.JobDone {
			t.Fatalf("state %s", j.State)
		}
		// A done job's key stays taken until purged.
		if _, created, _ := b.Enqueue(ctx, store.JobSpec{Kind: "scan.file", Key: "a"}); created {
			t.Fatal("done job's key re-enqueued")
		}
		// Fail with retry: queued again, not ready until run_after.
		if err := b.Fail(ctx, bj.ID, 1, "hub said 503", 30*time.Second); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Lease(ctx, "w1", nil, time.Minute); !errors.Is(err, store.ErrNoJob) {
			t.Fatalf("retried before run_after: %v", err)
		}
		clock.Advance(31 * time.Second)
		got, err = b.Lease(ctx, "w1", nil, time.Minute)
		if err != nil || got.ID != bj.ID || got.Attempt != 2 || got.LastError != "hub said 503" {
			t.Fatalf("retry lease: %v %+v", err, got)
		}
		// A permanent failure ends the job.
		if err := b.Fail(ctx, bj.ID, 2, "not a model", -1); err != nil {
			t.Fatal(err)
		}
		if j, _ := b.Job(ctx, bj.ID); j.State != store.JobFailed {
			t.Fatalf("state after permanent failure: %s", j.State)
		}
		st, err := b.QueueStats(ctx)
		if err != nil || st[store.JobDone] != 1 || st[store.JobFailed] != 1 || st[store.JobQueued] != 0 {
			t.Fatalf("stats: %v %v", err, st)
		}
		clock.Advance(time.Hour)
		if n, err := b.PurgeJobs(ctx, clock.Now()); err != nil || n != 2 {
			t.Fatalf("purge: %v %d", err, n)
		}
		if _, created, _ := b.Enqueue(ctx, store.JobSpec{Kind: "scan.file", Key: "a"}); !created {
			t.Fatal("purged key not free")
		}
	})
}

func TestQueueLeaseExpiry(t *testing.T) {
	clock := storetest.NewClock()
	storetest.ForEach(t, store.Options{Now: clock.Now}, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		j, _, err := b.Enqueue(ctx, store.JobSpec{Kind: "k", Key: "crashy", MaxAttempts: 3})
		if err != nil {
			t.Fatal(err)
		}
		l1, err := b.Lease(ctx, "w1", nil, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		// A heartbeat keeps the lease.
		clock.Advance(50 * time.Second)
		if err := b.Extend(ctx, j.ID, l1.Attempt, time.Minute); err != nil {
			t.Fatal(err)
		}
		clock.Advance(50 * time.Second)
		if _, err := b.Lease(ctx, "w2", nil, time.Minute); !errors.Is(err, store.ErrNoJob) {
			t.Fatalf("extended lease taken: %v", err)
		}
		// w1 dies; after expiry w2 takes the job.
		clock.Advance(11 * time.Second)
		l2, err := b.Lease(ctx, "w2", nil, time.Minute)
		if err != nil || l2.ID != j.ID || l2.Attempt != 2 || l2.LeaseOwner != "w2" {
			t.Fatalf("re-lease: %v %+v", err, l2)
		}
		// w1 comes back: its lease is gone.
		if err := b.Complete(ctx, j.ID, l1.Attempt); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("stale complete: %v", err)
		}
		if err := b.Extend(ctx, j.ID, l1.Attempt, time.Minute); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("stale extend: %v", err)
		}
		if err := b.Fail(ctx, j.ID, l1.Attempt, "x", 0); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("stale fail: %v", err)
		}
		// w2 dies too, and the third worker as well: the job is failed
		// for good, not leased a fourth time.
		clock.Advance(2 * time.Minute)
		if _, err := b.Lease(ctx, "w3", nil, time.Minute); err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Minute)
		if _, err := b.Lease(ctx, "w4", nil, time.Minute); !errors.Is(err, store.ErrNoJob) {
			t.Fatalf("lease after the last attempt: %v", err)
		}
		got, _ := b.Job(ctx, j.ID)
		if got.State != store.JobFailed || got.Attempt != 3 || got.LastError == "" {
			t.Fatalf("job after exhausting attempts: %+v", got)
		}
		// A worker whose lease expired but was not taken over may still
		// complete: the work was done and nobody else has the job.
		k, _, _ := b.Enqueue(ctx, store.JobSpec{Kind: "k", Key: "slow"})
		l, _ := b.Lease(ctx, "w1", nil, time.Second)
		clock.Advance(time.Minute)
		if err := b.Complete(ctx, k.ID, l.Attempt); err != nil {
			t.Fatalf("complete after unclaimed expiry: %v", err)
		}
	})
}

// Many workers lease at once: every job is processed exactly once.
func TestQueueConcurrentWorkers(t *testing.T) {
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		const jobs, workers = 120, 6
		for i := range jobs {
			if _, _, err := b.Enqueue(ctx, store.JobSpec{Kind: "k", Key: fmt.Sprint("job-", i)}); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		seen := map[int64]string{}
		var dup []string
		var wg sync.WaitGroup
		for w := range workers {
			owner := fmt.Sprint("w", w)
			wg.Go(func() {
				for {
					j, err := b.Lease(ctx, owner, nil, time.Minute)
					if errors.Is(err, store.ErrNoJob) {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if prev, ok := seen[j.ID]; ok {
						dup = append(dup, fmt.Sprintf("job %d by %s and %s", j.ID, prev, owner))
					}
					seen[j.ID] = owner
					mu.Unlock()
					if err := b.Complete(ctx, j.ID, j.Attempt); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if len(dup) > 0 {
			t.Fatalf("jobs leased twice: %v", dup)
		}
		if len(seen) != jobs {
			t.Fatalf("processed %d of %d jobs", len(seen), jobs)
		}
		owners := map[string]bool{}
		for _, o := range seen {
			owners[o] = true
		}
		t.Logf("%d jobs spread over %d workers", jobs, len(owners))
		st, _ := b.QueueStats(ctx)
		if st[store.JobDone] != jobs {
			t.Fatalf("stats: %v", st)
		}
	})
}
