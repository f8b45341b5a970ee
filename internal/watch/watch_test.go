package watch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"modelgate/internal/alert"
	"modelgate/internal/fakehub"
	"modelgate/internal/gate"
	"modelgate/internal/gate/gatetest"
	"modelgate/internal/gatehub"
	"modelgate/internal/hub"
	"modelgate/internal/store"
	"modelgate/internal/store/storetest"
	"modelgate/internal/watch"
)

var secret = []byte("the webhook's shared secret")

// receiver is a webhook endpoint on loopback that verifies every
// delivery's signature, as a real receiver must.
type receiver struct {
	mu   sync.Mutex
	got  []alert.Payload
	bad  []string
	fail int // answer 503 to this many valid deliveries first
	seen chan struct{}
}

func newReceiver(t *testing.T) (*receiver, string) {
	r := &receiver{seen: make(chan struct{}, 1000)}
	ts := httptest.NewServer(r)
	t.Cleanup(ts.Close)
	return r, ts.URL
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := alert.Verify(secret, req.Header.Get(alert.SignatureHeader), body, time.Now(), alert.DefaultTolerance); err != nil {
		r.bad = append(r.bad, err.Error())
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if r.fail > 0 {
		r.fail--
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	var p alert.Payload
	if err := json.Unmarshal(body, &p); err != nil || req.Header.Get(alert.DeliveryHeader) != fmt.Sprint(p.ID) {
		r.bad = append(r.bad, fmt.Sprintf("payload %s: %v", body, err))
	}
	r.got = append(r.got, p)
	r.seen <- struct{}{}
}

func (r *receiver) payloads() ([]alert.Payload, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]alert.Payload(nil), r.got...), append([]string(nil), r.bad...)
}

// fixture is a fake hub, a store with tenants "public" and "other", and a
// gate reading the hub through the real client.
type fixture struct {
	hub  *fakehub.Server
	b    store.Backend
	c    *hub.Client
	g    *gate.Gate
	scan *gatetest.Scanner
}

func newFixture(t *testing.T, b store.Backend) *fixture {
	t.Helper()
	h, err := fakehub.New(fakehub.Options{Dir: t.TempDir(), Rescan: time.Hour, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	s, err := fakehub.Start(h, "", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c, err := hub.New(hub.Config{Endpoint: s.URL, MaxRetries: 3})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{hub: s, b: b, c: c, scan: gatetest.NewScanner()}
	f.g = gate.New(gate.Options{Store: b, Queue: b, Hub: gatehub.New(c), Scanner: f.scan})
	for _, id := range []string{"public", "other"} {
		if _, err := f.g.CreateTenant(context.Background(), id, ""); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fixture) watcher(t *testing.T, cfg watch.Config) *watch.Watcher {
	t.Helper()
	if cfg.Tenant == "" {
		cfg.Tenant = "public"
	}
	if cfg.Poll == 0 {
		cfg.Poll = 20 * time.Millisecond
	}
	w, err := watch.New(f.g, f.b, f.c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (f *fixture) upload(t *testing.T, repo string, files map[string][]byte) {
	t.Helper()
	if err := f.hub.Hub.Upload("models", repo, files); err != nil {
		t.Fatal(err)
	}
}

// The end-to-end case: a running watcher picks up a malicious
// model uploaded to the hub, records the verdict, and fires a signed
// webhook; the same file pushed to another repository raises a second
// alert without a second scan; another tenant sees none of it.
func TestWatchEndToEnd(t *testing.T) {
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f := newFixture(t, b)
		rcv, url := newReceiver(t)
		f.upload(t, "acme/clean", map[string][]byte{"model.pkl": gatetest.Benign(), "config.json": []byte(`{"a":1}`)})
		w := f.watcher(t, watch.Config{Workers: 2, Interval: 50 * time.Millisecond, AlertInterval: 50 * time.Millisecond,
			Webhook: &alert.Webhook{URL: url, Secret: secret}})
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()

		waitFor(t, "the clean model's verdicts", func() bool { return f.scan.Total() == 2 })
		bad := gatetest.Malicious()
		f.upload(t, "evil-org/evil-model", map[string][]byte{"pytorch_model.bin": bad, "README.md": []byte("hi")})
		commit := f.hub.Hub.Commit("models", "evil-org/evil-model")
		select {
		case <-rcv.seen:
		case <-time.After(30 * time.Second):
			t.Fatal("no alert reached the webhook")
		}
		got, badSigs := rcv.payloads()
		if len(got) != 1 || len(badSigs) != 0 {
			t.Fatalf("deliveries %+v, refused %v", got, badSigs)
		}
		p := got[0]
		if p.Repo != "evil-org/evil-model" || p.Revision != commit || p.Path != "pytorch_model.bin" || p.SHA256 != gatetest.SHA256(bad) ||
			p.Severity != "critical" || p.Decision != "deny" || p.Tenant != "public" || p.Hub != f.hub.URL ||
			len(p.Findings) == 0 || p.Findings[0].Rule != "PICKLE-DANGEROUS-GLOBAL" {
			t.Errorf("payload: %+v", p)
		}
		v, fr, err := f.g.Lookup(ctx, "public", gatetest.SHA256(bad))
		if err != nil || fr != store.Current || v.Decision != store.Deny || v.ID != p.ScanID {
			t.Fatalf("verdict: %+v %s %v", v, fr, err)
		}
		waitFor(t, "the delivery to be recorded", func() bool {
			a, err := b.Alert(ctx, "public", p.ID)
			return err == nil && a.Status == store.AlertDelivered
		})

		// The same file in another repository: a new alert, no new scan.
		f.upload(t, "copycat/fork", map[string][]byte{"weights/model.bin": bad})
		select {
		case <-rcv.seen:
		case <-time.After(30 * time.Second):
			t.Fatal("no alert for the fork")
		}
		got, _ = rcv.payloads()
		if len(got) != 2 || got[1].Repo != "copycat/fork" || got[1].Path != "weights/model.bin" || got[1].ScanID != p.ScanID {
			t.Errorf("fork alert: %+v", got)
		}
		if n := f.scan.Count(gatetest.SHA256(bad)); n != 1 {
			t.Errorf("the malicious file was scanned %d times", n)
		}

		// Tenant "other" sees none of the watcher's verdicts or alerts.
		if vs, _, _ := b.ListVerdicts(ctx, "other", store.VerdictQuery{}); len(vs) != 0 {
			t.Errorf("other tenant sees %d verdicts", len(vs))
		}
		if as, _, _ := b.ListAlerts(ctx, "other", store.AlertQuery{}); len(as) != 0 {
			t.Errorf("other tenant sees %d alerts", len(as))
		}
		if _, err := b.Alert(ctx, "other", p.ID); err == nil {
			t.Error("other tenant reads the watcher's alert")
		}
		if _, _, err := f.g.Lookup(ctx, "other", gatetest.SHA256(bad)); err == nil {
			t.Error("other tenant looks up the watcher's verdict")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if got, _ := rcv.payloads(); len(got) != 2 {
			t.Errorf("%d deliveries in all, want 2", len(got))
		}
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The high-water mark: a second poll enqueues nothing new though it looks
// back over the overlap, a new upload is enqueued once, and the mark
// follows the newest change. Listings are paginated (two per page).
func TestHighWaterMark(t *testing.T) {
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		f := newFixture(t, b)
		for i := range 5 {
			f.upload(t, fmt.Sprintf("acme/m%d", i), map[string][]byte{"model.pkl": gatetest.Benign()})
		}
		w := f.watcher(t, watch.Config{})
		res, err := w.Poll(ctx)
		if err != nil || res.Listed != 5 || res.Enqueued != 5 || res.Mark.IsZero() {
			t.Fatalf("first poll: %+v %v", res, err)
		}
		first := res.Mark
		res, err = w.Poll(ctx)
		if err != nil || res.Enqueued != 0 || res.Listed != 5 || !res.Mark.Equal(first) {
			t.Fatalf("second poll: %+v %v", res, err)
		}
		f.upload(t, "acme/new", map[string][]byte{"model.pkl": gatetest.Benign()})
		res, err = w.Poll(ctx)
		if err != nil || res.Enqueued != 1 || !res.Mark.After(first) {
			t.Fatalf("after an upload: %+v %v", res, err)
		}
		// A restarted watcher (same ID) resumes from the stored mark.
		w2 := f.watcher(t, watch.Config{})
		if res2, err := w2.Poll(ctx); err != nil || res2.Enqueued != 0 || !res2.Mark.Equal(res.Mark) {
			t.Errorf("restarted watcher: %+v %v", res2, err)
		}
		// A watch with a small overlap stops below the mark.
		w3 := f.watcher(t, watch.Config{ID: "narrow", Overlap: time.Nanosecond, Since: time.Hour})
		w3.Poll(ctx)
		f.upload(t, "acme/newer", map[string][]byte{"model.pkl": gatetest.Benign()})
		if res3, err := w3.Poll(ctx); err != nil || res3.Listed != 2 || res3.Enqueued != 1 {
			t.Errorf("narrow watch after an upload: %+v %v (want the new repository and the one at the mark)", res3, err)
		}
	})
}

// Filters: authors, tags and file patterns; the hub's rate limit is
// waited out; RunOnce finishes the scans it queued.
func TestFiltersAndRateLimits(t *testing.T) {
	ctx := context.Background()
	b := storetest.Open(t, "sqlite", store.Options{})
	f := newFixture(t, b)
	bad := gatetest.Malicious()
	f.upload(t, "acme/tagged", map[string][]byte{"model.bin": bad, "notes.pkl": bad[:len(bad)-1], "config.json": []byte("{}")})
	f.hub.Hub.Configure("models", "acme/tagged", fakehub.Settings{Tags: []string{"pytorch"}})
	f.upload(t, "acme/untagged", map[string][]byte{"model.bin": gatetest.Benign()})
	f.upload(t, "zeta/tagged", map[string][]byte{"model.bin": gatetest.Benign()})
	f.hub.Hub.Configure("models", "zeta/tagged", fakehub.Settings{Tags: []string{"pytorch"}})
	f.hub.Hub.FailNext(1, http.StatusTooManyRequests, time.Second)
	w := f.watcher(t, watch.Config{Authors: []string{"acme"}, Filters: []string{"pytorch"}, Include: []string{"*.bin"}, Workers: 1})
	start := time.Now()
	sum, err := w.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < time.Second {
		t.Errorf("the 429's Retry-After was not waited out")
	}
	if sum.Poll.Listed != 1 || sum.Poll.Enqueued != 1 {
		t.Errorf("poll: %+v", sum.Poll)
	}
	if f.scan.Total() != 1 || f.scan.Count(gatetest.SHA256(bad)) != 1 {
		t.Errorf("scans: %v (only acme/tagged's model.bin matches)", f.scan.Counts())
	}
	if len(sum.Alerts) != 1 || sum.Alerts[0].Status != store.AlertLogged || sum.Alerts[0].Repo != "acme/tagged" {
		t.Errorf("alerts without a webhook: %+v", sum.Alerts)
	}
	if _, err := watch.New(f.g, b, f.c, watch.Config{Tenant: "public", Include: []string{"[x"}}); err == nil {
		t.Error("a bad file pattern was accepted")
	}
	if _, err := f.watcher(t, watch.Config{Tenant: "nobody"}).RunOnce(ctx); err == nil {
		t.Error("a missing tenant was accepted")
	}
}

// A webhook that fails is retried from the queue; the alert is delivered
// once it answers.
func TestWebhookRetries(t *testing.T) {
	ctx := context.Background()
	b := storetest.Open(t, "sqlite", store.Options{})
	f := newFixture(t, b)
	rcv, url := newReceiver(t)
	rcv.fail = 2
	f.upload(t, "acme/evil", map[string][]byte{"model.bin": gatetest.Malicious()})
	cfg := watch.Config{Workers: 1, Webhook: &alert.Webhook{URL: url, Secret: secret},
		Backoff: func(int) time.Duration { return 10 * time.Millisecond }}
	sum, err := f.watcher(t, cfg).RunOnce(ctx)
	if err != nil || len(sum.Alerts) != 1 {
		t.Fatalf("%+v %v", sum, err)
	}
	// Retries that come due while a run waits are made by it; later runs
	// carry out the others.
	for range 5 {
		time.Sleep(20 * time.Millisecond)
		if _, err := f.watcher(t, cfg).RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := b.Alert(ctx, "public", sum.Alerts[0].ID)
	got, badSigs := rcv.payloads()
	if a.Status != store.AlertDelivered || a.Attempts != 3 || len(got) != 1 || len(badSigs) != 0 || a.LastError != "" {
		t.Errorf("after two 503s: %+v, %d deliveries, %v", a, len(got), badSigs)
	}

	// A receiver that refuses the signature exhausts the attempts: failed.
	f.upload(t, "acme/evil2", map[string][]byte{"model.bin": gatetest.Malicious()})
	cfg.Webhook = &alert.Webhook{URL: url, Secret: []byte("not the receiver's")}
	cfg.WebhookAttempts = 2
	sum, err = f.watcher(t, cfg).RunOnce(ctx)
	if err != nil || len(sum.Alerts) != 1 {
		t.Fatalf("%+v %v", sum, err)
	}
	time.Sleep(20 * time.Millisecond)
	f.watcher(t, cfg).RunOnce(ctx)
	if a, _ := b.Alert(ctx, "public", sum.Alerts[0].ID); a.Status != store.AlertFailed || a.Attempts != 2 {
		t.Errorf("after refused deliveries: %+v", a)
	}
}
