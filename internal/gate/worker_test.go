package gate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"modelgate/internal/gate"
	"modelgate/internal/gate/gatetest"
	"modelgate/internal/store"
	"modelgate/internal/store/storetest"
)

// A revision job fans out into file jobs; several workers, each running
// two jobs at once, scan every distinct content exactly once.
func TestWorkersScanEachContentOnce(t *testing.T) {
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		f := newFixture(t, b)
		f.scan.Delay = 5 * time.Millisecond
		files := map[string][]byte{}
		var lfs []string
		for i := range 30 {
			p := fmt.Sprintf("shard-%02d.pkl", i)
			// Ten distinct contents, each in three files.
			files[p] = fmt.Appendf(nil, "{\"shard\": %d}", i%10)
			lfs = append(lfs, p)
		}
		files["payload.bin"] = gatetest.Malicious()
		commit := f.hub.Commit("org/big", files, append(lfs, "payload.bin")...)
		if _, created, err := f.g.EnqueueRevision(ctx, "acme", gate.RevisionJob{Hub: f.hub.Name(), Repo: "org/big", Revision: commit}); err != nil || !created {
			t.Fatal(err)
		}
		ctxW, cancel := context.WithCancel(ctx)
		done := make(chan struct{}, 3)
		for i := range 3 {
			w := &gate.Worker{Queue: b, Handlers: f.g.Handlers(), Owner: fmt.Sprint("w", i), Concurrency: 2, Poll: 10 * time.Millisecond}
			go func() { w.Run(ctxW); done <- struct{}{} }()
		}
		waitIdle(t, b)
		cancel()
		for range 3 {
			<-done
		}
		counts := f.scan.Counts()
		if len(counts) != 11 {
			t.Errorf("%d distinct contents scanned, want 11", len(counts))
		}
		for sha, n := range counts {
			if n != 1 {
				t.Errorf("%s scanned %d times", sha[:12], n)
			}
		}
		st, _ := b.QueueStats(ctx)
		// One revision job, and one file job per distinct content (the
		// job key is the content, so duplicates were not queued).
		if st[store.JobDone] != 12 || st[store.JobFailed] != 0 {
			t.Errorf("jobs: %v", st)
		}
		res, err := f.g.Admit(ctx, gate.AdmitRequest{Tenant: "acme", Repo: "org/big", Revision: commit})
		if err != nil || res.Decision != store.Deny || len(res.Reasons) != 1 || res.Reasons[0].Path != "payload.bin" {
			t.Errorf("admission after the workers: %v %+v", err, res.Reasons)
		}
	})
}

func waitIdle(t *testing.T, q store.Queue) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st, err := q.QueueStats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st[store.JobQueued] == 0 && st[store.JobLeased] == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("queue did not drain")
}

// A worker that dies holding a lease loses the job to another after the
// lease expires; one that recorded the verdict before dying causes no
// second scan.
func TestWorkerLeaseExpiry(t *testing.T) {
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		f := newFixture(t, b)
		commit := f.hub.Commit("org/m", map[string][]byte{"a.pkl": gatetest.Malicious(), "b.pkl": gatetest.Benign()}, "a.pkl", "b.pkl")
		pol, _ := f.g.TenantPolicy(ctx, "acme")
		var jobs []*store.Job
		for _, p := range []string{"a.pkl", "b.pkl"} {
			_, files, _ := f.hub.ListFiles(ctx, "org/m", commit)
			for _, rf := range files {
				if rf.Path == p {
					j, _, err := f.g.EnqueueFile(ctx, "acme", pol.Versions, gate.FileJob{Hub: f.hub.Name(), Repo: "org/m", Revision: commit, File: rf})
					if err != nil {
						t.Fatal(err)
					}
					jobs = append(jobs, j)
				}
			}
		}
		// Worker "dead-1" leases a.pkl's job and dies before scanning.
		l1, err := b.Lease(ctx, "dead-1", nil, 300*time.Millisecond)
		if err != nil || l1.ID != jobs[0].ID {
			t.Fatal(err)
		}
		// Worker "dead-2" leases b.pkl's job, records the verdict, and dies
		// before completing the job.
		l2, err := b.Lease(ctx, "dead-2", nil, 300*time.Millisecond)
		if err != nil || l2.ID != jobs[1].ID {
			t.Fatal(err)
		}
		if err := f.g.Handlers()[gate.KindScanFile](ctx, l2); err != nil {
			t.Fatal(err)
		}
		if f.scan.Total() != 1 {
			t.Fatalf("scans: %d", f.scan.Total())
		}
		// A live worker takes both after their leases expire.
		ctxW, cancel := context.WithCancel(ctx)
		w := &gate.Worker{Queue: b, Handlers: f.g.Handlers(), Owner: "live", Poll: 20 * time.Millisecond, Lease: 5 * time.Second}
		stopped := make(chan struct{})
		go func() { w.Run(ctxW); close(stopped) }()
		waitIdle(t, b)
		cancel()
		<-stopped
		for _, j := range jobs {
			got, _ := b.Job(ctx, j.ID)
			if got.State != store.JobDone || got.Attempt != 2 || got.LeaseOwner != "" {
				t.Errorf("job %d: %+v", j.ID, got)
			}
		}
		if n := f.scan.Count(gatetest.SHA256(gatetest.Benign())); n != 1 {
			t.Errorf("benign file scanned %d times", n)
		}
		if n := f.scan.Count(gatetest.SHA256(gatetest.Malicious())); n != 1 {
			t.Errorf("malicious file scanned %d times", n)
		}
	})
}

// A job longer than its lease keeps it by heartbeats: no second worker
// takes it.
func TestWorkerHeartbeat(t *testing.T) {
	b := storetest.Open(t, "sqlite", store.Options{})
	f := newFixture(t, b)
	f.scan.Delay = 1200 * time.Millisecond
	commit := f.hub.Commit("org/m", map[string][]byte{"a.pkl": gatetest.Malicious()}, "a.pkl")
	if _, _, err := f.g.EnqueueRevision(context.Background(), "acme", gate.RevisionJob{Repo: "org/m", Revision: commit}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	for i := range 2 {
		w := &gate.Worker{Queue: b, Handlers: f.g.Handlers(), Owner: fmt.Sprint("w", i), Poll: 20 * time.Millisecond, Lease: 300 * time.Millisecond}
		go func() { w.Run(ctx); done <- struct{}{} }()
	}
	waitIdle(t, b)
	cancel()
	<-done
	<-done
	if n := f.scan.Total(); n != 1 {
		t.Errorf("scanned %d times", n)
	}
	st, _ := b.QueueStats(context.Background())
	if st[store.JobDone] != 2 {
		t.Errorf("jobs: %v", st)
	}
}

// Cancelling a worker lets the job under way finish and complete.
func TestWorkerGracefulStop(t *testing.T) {
	b := storetest.Open(t, "sqlite", store.Options{})
	f := newFixture(t, b)
	f.scan.Release = make(chan struct{})
	f.scan.Started = make(chan string, 1)
	commit := f.hub.Commit("org/m", map[string][]byte{"a.pkl": gatetest.Malicious()}, "a.pkl")
	_, files, _ := f.hub.ListFiles(context.Background(), "org/m", commit)
	pol, _ := f.g.TenantPolicy(context.Background(), "acme")
	j, _, err := f.g.EnqueueFile(context.Background(), "acme", pol.Versions, gate.FileJob{Repo: "org/m", Revision: commit, File: files[0]})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &gate.Worker{Queue: b, Handlers: f.g.Handlers(), Poll: 10 * time.Millisecond}
	stopped := make(chan struct{})
	go func() { w.Run(ctx); close(stopped) }()
	<-f.scan.Started
	cancel()
	select {
	case <-stopped:
		t.Fatal("worker stopped with a scan under way")
	case <-time.After(100 * time.Millisecond):
	}
	close(f.scan.Release)
	<-stopped
	got, _ := b.Job(context.Background(), j.ID)
	if got.State != store.JobDone {
		t.Errorf("job after graceful stop: %s", got.State)
	}
	if _, fr, err := f.g.Lookup(context.Background(), "acme", files[0].SHA256); err != nil || fr != store.Current {
		t.Errorf("verdict: %v %v", err, fr)
	}
}

// Bad payloads fail for good; panics and transient errors are retried.
func TestWorkerFailures(t *testing.T) {
	b := storetest.Open(t, "sqlite", store.Options{})
	f := newFixture(t, b)
	ctx := context.Background()
	bad, _, _ := b.Enqueue(ctx, store.JobSpec{Kind: gate.KindScanFile, Key: "bad", Tenant: "acme", Payload: json.RawMessage(`{"file": 7}`)})
	missing, _, _ := b.Enqueue(ctx, store.JobSpec{Kind: gate.KindScanRevision, Key: "missing", Tenant: "acme", Payload: json.RawMessage(`{"repo": "org/none"}`)})
	boom, _, _ := b.Enqueue(ctx, store.JobSpec{Kind: "boom", Key: "boom", MaxAttempts: 2})
	handlers := f.g.Handlers()
	calls := 0
	handlers["boom"] = func(context.Context, *store.Job) error { calls++; panic("kaboom") }
	ctxW, cancel := context.WithCancel(ctx)
	w := &gate.Worker{Queue: b, Handlers: handlers, Poll: 10 * time.Millisecond, Backoff: func(int) time.Duration { return 0 }}
	stopped := make(chan struct{})
	go func() { w.Run(ctxW); close(stopped) }()
	waitIdle(t, b)
	cancel()
	<-stopped
	for _, j := range []*store.Job{bad, missing} {
		got, _ := b.Job(ctx, j.ID)
		if got.State != store.JobFailed || got.Attempt != 1 || got.LastError == "" {
			t.Errorf("job %s: %+v", j.Key, got)
		}
	}
	got, _ := b.Job(ctx, boom.ID)
	if got.State != store.JobFailed || got.Attempt != 2 || calls != 2 {
		t.Errorf("panicking job: %+v after %d calls", got, calls)
	}
}

// Content queued from one repository and then listed in another before
// its scan ran is scanned once, and both places are recorded (the second
// by the revision job, since the file job records its own place only).
// File patterns keep other files out.
func TestRevisionJobsShareContent(t *testing.T) {
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		f := newFixture(t, b)
		bad := gatetest.Malicious()
		c1 := f.hub.Commit("org/one", map[string][]byte{"model.bin": bad, "README.md": []byte("one")}, "model.bin")
		c2 := f.hub.Commit("org/two", map[string][]byte{"weights/copy.bin": bad, "notes.txt": []byte("two")}, "weights/copy.bin")
		for repo, c := range map[string]string{"org/one": c1, "org/two": c2} {
			j := gate.RevisionJob{Hub: f.hub.Name(), Repo: repo, Revision: c, Include: []string{"*.bin"}}
			if _, created, err := f.g.EnqueueRevision(ctx, "acme", j); err != nil || !created {
				t.Fatal(err)
			}
		}
		// The revision jobs run before any file job.
		h := f.g.Handlers()
		for range 2 {
			job, err := b.Lease(ctx, "t", []string{gate.KindScanRevision}, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if err := h[gate.KindScanRevision](ctx, job); err != nil {
				t.Fatal(err)
			}
			b.Complete(ctx, job.ID, job.Attempt)
		}
		w := &gate.Worker{Queue: b, Handlers: h, Poll: 10 * time.Millisecond}
		ctxW, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { w.Run(ctxW); close(done) }()
		waitIdle(t, b)
		cancel()
		<-done
		if f.scan.Total() != 1 || f.scan.Count(gatetest.SHA256(bad)) != 1 {
			t.Errorf("scans: %v (the patterns allow *.bin only)", f.scan.Counts())
		}
		obs, err := b.Observations(ctx, "acme", gatetest.SHA256(bad), 10)
		if err != nil {
			t.Fatal(err)
		}
		places := map[string]bool{}
		for _, o := range obs {
			places[o.Repo+"/"+o.Path] = true
		}
		if !places["org/one/model.bin"] || !places["org/two/weights/copy.bin"] || len(places) != 2 {
			t.Errorf("observations: %+v", obs)
		}
	})
}
