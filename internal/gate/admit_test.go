package gate_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"modelgate/internal/gate"
	"modelgate/internal/gate/gatetest"
	"modelgate/internal/store"
	"modelgate/internal/store/storetest"
)

func fileByPath(r *gate.AdmitResult, path string) gate.AdmitFile {
	for _, f := range r.Files {
		if f.Path == path {
			return f
		}
	}
	return gate.AdmitFile{}
}

func TestAdmit(t *testing.T) {
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		f := newFixture(t, b)
		bad, good := gatetest.Malicious(), gatetest.Benign()
		config := []byte(`{"model_type": "bert"}`)
		cleanCommit := f.hub.Commit("org/clean", map[string][]byte{"model.pkl": good, "config.json": config}, "model.pkl")
		f.hub.Commit("org/evil", map[string][]byte{"weights/model.bin": bad, "data.pkl": good, "config.json": config}, "weights/model.bin", "data.pkl")

		res, err := f.g.Admit(ctx, gate.AdmitRequest{Tenant: "acme", Repo: "org/clean", Revision: "main"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Decision != store.Allow || res.Commit != cleanCommit || len(res.Files) != 2 || len(res.Reasons) != 0 {
			t.Fatalf("clean repo: %+v", res)
		}
		cfg := fileByPath(res, "config.json")
		if cfg.SHA256 != gatetest.SHA256(config) || !cfg.Scanned || cfg.VerdictID == 0 {
			t.Errorf("non-LFS file was not hashed and judged: %+v", cfg)
		}

		res, err = f.g.Admit(ctx, gate.AdmitRequest{Tenant: "acme", Repo: "org/evil"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Decision != store.Deny {
			t.Fatalf("evil repo allowed: %+v", res)
		}
		m := fileByPath(res, "weights/model.bin")
		if m.Decision != store.Deny || m.SHA256 != gatetest.SHA256(bad) {
			t.Errorf("malicious file: %+v", m)
		}
		// The benign file and config were judged before, in org/clean.
		if d := fileByPath(res, "data.pkl"); d.Decision != store.Allow || d.Scanned {
			t.Errorf("known benign file: %+v", d)
		}
		if len(res.Reasons) == 0 || res.Reasons[0].Path != "weights/model.bin" || res.Reasons[0].Rule != "PICKLE-DANGEROUS-GLOBAL" || res.Reasons[0].Severity != "critical" {
			t.Errorf("reasons: %+v", res.Reasons)
		}
		// Admitting again scans nothing.
		before := f.scan.Total()
		res, err = f.g.Admit(ctx, gate.AdmitRequest{Tenant: "acme", Repo: "org/evil", Revision: "main"})
		if err != nil || res.Decision != store.Deny || f.scan.Total() != before {
			t.Errorf("second admission: %v %v, %d new scans", err, res.Decision, f.scan.Total()-before)
		}
		// Observations recorded where the content was seen.
		obs, _ := b.Observations(ctx, "acme", gatetest.SHA256(good), 10)
		if len(obs) != 2 {
			t.Errorf("benign content observed in %d places, want 2: %+v", len(obs), obs)
		}
		repos, _ := b.FlaggedRepos(ctx, "acme", res.Versions, 10)
		if len(repos) != 1 || repos[0].Repo != "org/evil" {
			t.Errorf("flagged repos: %+v", repos)
		}
		// Another tenant has judged nothing yet.
		before = f.scan.Total()
		if res, err := f.g.Admit(ctx, gate.AdmitRequest{Tenant: "beta", Repo: "org/evil"}); err != nil || res.Decision != store.Deny || f.scan.Total() == before {
			t.Errorf("beta: %v %+v", err, res)
		}
		// Unknown repository or revision, malformed input.
		if _, err := f.g.Admit(ctx, gate.AdmitRequest{Tenant: "acme", Repo: "org/none"}); !errors.Is(err, gate.ErrNotOnHub) {
			t.Errorf("missing repo: %v", err)
		}
		if _, err := f.g.Admit(ctx, gate.AdmitRequest{Tenant: "acme", Repo: "org/clean", Revision: "deadbeef"}); !errors.Is(err, gate.ErrNotOnHub) {
			t.Errorf("missing revision: %v", err)
		}
		for _, bad := range []string{"", "../etc", "a/b/c", "org/na me"} {
			if _, err := f.g.Admit(ctx, gate.AdmitRequest{Tenant: "acme", Repo: bad}); !errors.Is(err, gate.ErrInvalid) {
				t.Errorf("repo %q: %v", bad, err)
			}
		}
	})
}

// A file the hub cannot serve is denied, not passed: fail closed.
func TestAdmitUnreadableFailsClosed(t *testing.T) {
	b := storetest.Open(t, "sqlite", store.Options{})
	f := newFixture(t, b)
	f.hub.Commit("org/flaky", map[string][]byte{"model.pkl": gatetest.Benign(), "tokenizer.json": []byte("{}")}, "model.pkl")
	f.hub.FailOpen("model.pkl", errors.New("connection reset"))
	res, err := f.g.Admit(context.Background(), gate.AdmitRequest{Tenant: "acme", Repo: "org/flaky"})
	if err != nil {
		t.Fatal(err)
	}
	m := fileByPath(res, "model.pkl")
	if res.Decision != store.Deny || m.Decision != store.Deny || m.Error == "" {
		t.Fatalf("unreadable file: %+v", res)
	}
	if len(res.Reasons) != 1 || res.Reasons[0].Rule != "SCAN-IO-ERROR" {
		t.Errorf("reasons: %+v", res.Reasons)
	}
	// No verdict was recorded for content that was never read.
	if _, _, err := b.LookupVerdict(context.Background(), "acme", gatetest.SHA256(gatetest.Benign()), res.Versions); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("verdict recorded for unread content: %v", err)
	}
}

// Async admission queues the missing files; a worker judges them.
func TestAdmitAsyncWithWorker(t *testing.T) {
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		f := newFixture(t, b)
		bad, good := gatetest.Malicious(), gatetest.Benign()
		f.hub.Commit("org/evil", map[string][]byte{"a.bin": bad, "b.pkl": good, "README.md": []byte("# hi")}, "a.bin", "b.pkl")
		res, err := f.g.Admit(ctx, gate.AdmitRequest{Tenant: "acme", Repo: "org/evil", Async: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.Decision != gate.Pending || f.scan.Total() != 0 {
			t.Fatalf("async: %+v, %d scans", res, f.scan.Total())
		}
		st, _ := b.QueueStats(ctx)
		if st[store.JobQueued] != 3 {
			t.Fatalf("queued: %v", st)
		}
		// Asking again queues nothing new.
		if _, err := f.g.Admit(ctx, gate.AdmitRequest{Tenant: "acme", Repo: "org/evil", Async: true}); err != nil {
			t.Fatal(err)
		}
		if st, _ := b.QueueStats(ctx); st[store.JobQueued] != 3 {
			t.Fatalf("queued after a second ask: %v", st)
		}
		runWorkers(t, f, b, 2)
		res, err = f.g.Admit(ctx, gate.AdmitRequest{Tenant: "acme", Repo: "org/evil"})
		if err != nil || res.Decision != store.Deny || f.scan.Total() != 3 {
			t.Fatalf("after the worker: %v %+v, %d scans", err, res, f.scan.Total())
		}
		for _, file := range res.Files {
			if file.Scanned {
				t.Errorf("%s scanned again", file.Path)
			}
		}
	})
}

// runWorkers runs n workers until the queue has nothing queued or leased.
func runWorkers(t *testing.T, f *fixture, q store.Queue, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ws []*gate.Worker
		for i := range n {
			ws = append(ws, &gate.Worker{Queue: q, Handlers: f.g.Handlers(), Owner: fmt.Sprint("w", i), Poll: 20 * time.Millisecond, Lease: 5 * time.Second})
		}
		errs := make(chan error, n)
		for _, w := range ws {
			go func() { errs <- w.Run(ctx) }()
		}
		for range ws {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st, err := q.QueueStats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st[store.JobQueued] == 0 && st[store.JobLeased] == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
}

// JudgeFile is the proxy's entry point: one file, judged once, observed
// with the caller's source.
func TestJudgeFile(t *testing.T) {
	b := storetest.Open(t, "sqlite", store.Options{})
	f := newFixture(t, b)
	ctx := context.Background()
	commit := f.hub.Commit("org/m", map[string][]byte{"model.bin": gatetest.Malicious(), "config.json": []byte("{}")}, "model.bin")
	_, files, _ := f.hub.ListFiles(ctx, "org/m", commit)
	for _, rf := range files {
		for round := range 2 {
			v, scanned, err := f.g.JudgeFile(ctx, gate.JudgeRequest{Tenant: "acme", Repo: "org/m", Commit: commit, File: rf, Source: store.SourceProxy})
			if err != nil || scanned != (round == 0) {
				t.Fatalf("%s round %d: %v scanned=%v", rf.Path, round, err, scanned)
			}
			if want := store.Allow; rf.Path == "model.bin" && v.Decision != store.Deny || rf.Path == "config.json" && v.Decision != want {
				t.Errorf("%s: %s", rf.Path, v.Decision)
			}
			obs, _ := b.Observations(ctx, "acme", v.SHA256, 10)
			if len(obs) != 1 || obs[0].Source != store.SourceProxy || obs[0].Count != round+1 || obs[0].Path != rf.Path {
				t.Errorf("%s observations: %+v", rf.Path, obs)
			}
		}
	}
	if _, _, err := gate.New(gate.Options{Store: b}).JudgeFile(ctx, gate.JudgeRequest{Tenant: "acme"}); !errors.Is(err, gate.ErrNoHub) {
		t.Errorf("without a hub: %v", err)
	}
}
