package alert_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"modelgate/internal/alert"
	"modelgate/internal/finding"
	"modelgate/internal/report"
	"modelgate/internal/store"
	"modelgate/internal/store/storetest"
)

var secret = []byte("webhook-secret-for-tests")

func TestSignVerify(t *testing.T) {
	now := time.Unix(1_790_000_000, 0)
	body := []byte(`{"id":1}`)
	sig := alert.Sign(secret, now, body)
	if err := alert.Verify(secret, sig, body, now.Add(time.Minute), alert.DefaultTolerance); err != nil {
		t.Fatalf("valid signature: %v", err)
	}
	rotated := "t=1790000000,v1=" + strings.Repeat("0", 64) + "," + sig[len("t=1790000000,"):]
	if err := alert.Verify(secret, rotated, body, now, alert.DefaultTolerance); err != nil {
		t.Errorf("one matching v1 of two: %v", err)
	}
	for name, c := range map[string]struct {
		secret []byte
		header string
		body   string
		now    time.Time
		want   error
	}{
		"tampered body": {secret, sig, `{"id":2}`, now, alert.ErrBadSignature},
		"wrong secret":  {[]byte("other"), sig, string(body), now, alert.ErrBadSignature},
		"replayed late": {secret, sig, string(body), now.Add(6 * time.Minute), alert.ErrExpired},
		"from the future": {secret, alert.Sign(secret, now.Add(10*time.Minute), body), string(body), now,
			alert.ErrExpired},
		"timestamp changed": {secret, "t=1790000001," + sig[len("t=1790000000,"):], string(body), now, alert.ErrBadSignature},
		"no v1":             {secret, "t=1790000000", string(body), now, alert.ErrMalformed},
		"no t":              {secret, sig[len("t=1790000000,"):], string(body), now, alert.ErrMalformed},
		"garbage":           {secret, "nonsense", string(body), now, alert.ErrMalformed},
	} {
		if err := alert.Verify(c.secret, c.header, []byte(c.body), c.now, alert.DefaultTolerance); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

// FuzzVerify: no header makes Verify panic or accept a body it was not
// signed for.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1_790_000_000, 0)
	f.Add(alert.Sign(secret, now, []byte("x")), []byte("x"))
	f.Add("t=1,v1=zz,v1=", []byte(""))
	f.Add("t=-99999999999999999999,v1=00", []byte("a"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := alert.Verify(secret, header, body, now, alert.DefaultTolerance)
		if err == nil && alert.Verify(secret, header, append(body, 'x'), now, alert.DefaultTolerance) == nil {
			t.Fatalf("header %q verifies two different bodies", header)
		}
	})
}

// receiver is a webhook endpoint that verifies signatures and can fail.
type receiver struct {
	mu        sync.Mutex
	failFirst int
	got       []alert.Payload
	bad       int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := alert.Verify(secret, req.Header.Get(alert.SignatureHeader), body, time.Now(), alert.DefaultTolerance); err != nil {
		r.bad++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if r.failFirst > 0 {
		r.failFirst--
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	var p alert.Payload
	json.Unmarshal(body, &p)
	if req.Header.Get(alert.DeliveryHeader) != strconv.FormatInt(p.ID, 10) {
		r.bad++
	}
	r.got = append(r.got, p)
}

func TestDeliverer(t *testing.T) {
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		if err := b.CreateTenant(ctx, store.Tenant{ID: "acme"}); err != nil {
			t.Fatal(err)
		}
		sha := strings.Repeat("ab", 32)
		res := &report.File{Path: "model.bin", SHA256: sha, Format: "pickle", Status: report.StatusComplete, Size: 42,
			Findings: []finding.Finding{{Rule: "PICKLE-DANGEROUS-GLOBAL", Severity: finding.Critical, Message: "imports posix.system", Evidence: "posix.system('echo pwned')", Count: 1}}}
		v, _ := store.NewVerdict("acme", store.Versions{Scanner: "s", Policy: "p"}, store.Deny, res)
		if _, _, err := b.RecordVerdict(ctx, v, store.Observation{Tenant: "acme", SHA256: sha, Source: store.SourceWatch, Hub: "h", Repo: "org/evil", Revision: "c1", Path: "model.bin"}); err != nil {
			t.Fatal(err)
		}
		b.OpenWatch(ctx, store.Watch{ID: "w", Tenant: "acme", Hub: "h", AlertsChecked: time.Now().Add(-time.Hour)})
		as, err := b.RaiseAlerts(ctx, store.AlertRule{Watch: "w", Tenant: "acme", MinSeverity: finding.High,
			Versions: store.Versions{Scanner: "s", Policy: "p"}, Since: time.Now().Add(-time.Hour), Checked: time.Now(), Status: store.AlertPending})
		if err != nil || len(as) != 1 {
			t.Fatalf("raise: %v %v", as, err)
		}
		rcv := &receiver{failFirst: 1}
		ts := httptest.NewServer(rcv)
		defer ts.Close()
		d := &alert.Deliverer{Store: b, Webhook: &alert.Webhook{URL: ts.URL, Secret: secret}}
		spec := alert.Job(&as[0], 3)
		job, _, err := b.Enqueue(ctx, spec)
		if err != nil || job.Kind != alert.Kind("w") {
			t.Fatal(job, err)
		}
		job.Attempt = 1
		if err := d.Handle(ctx, job); err == nil {
			t.Fatal("a 503 was taken for a delivery")
		}
		a, _ := b.Alert(ctx, "acme", as[0].ID)
		if a.Status != store.AlertPending || a.Attempts != 1 || a.LastError == "" {
			t.Errorf("after a failed attempt: %+v", a)
		}
		job.Attempt = 2
		if err := d.Handle(ctx, job); err != nil {
			t.Fatal(err)
		}
		if err := d.Handle(ctx, job); err != nil { // re-run after a crash: nothing sent again
			t.Fatal(err)
		}
		a, _ = b.Alert(ctx, "acme", as[0].ID)
		if a.Status != store.AlertDelivered || a.Attempts != 2 {
			t.Errorf("after delivery: %+v", a)
		}
		rcv.mu.Lock()
		if len(rcv.got) != 1 || rcv.bad != 0 {
			t.Fatalf("receiver: %+v, %d bad", rcv.got, rcv.bad)
		}
		p := rcv.got[0]
		if p.Repo != "org/evil" || p.Path != "model.bin" || p.SHA256 != sha || p.Severity != "critical" || p.Decision != "deny" ||
			len(p.Findings) != 1 || p.Findings[0].Rule != "PICKLE-DANGEROUS-GLOBAL" || p.ScanID != as[0].VerdictID || p.Tenant != "acme" {
			t.Errorf("payload: %+v", p)
		}
		rcv.mu.Unlock()

		// A delivery failing on its last attempt marks the alert failed.
		bad := &alert.Deliverer{Store: b, Webhook: &alert.Webhook{URL: ts.URL, Secret: []byte("wrong")}}
		b.Observe(ctx, store.Observation{Tenant: "acme", SHA256: sha, Source: store.SourceWatch, Hub: "h", Repo: "org/fork", Revision: "f", Path: "m.bin"})
		as, _ = b.RaiseAlerts(ctx, store.AlertRule{Watch: "w", Tenant: "acme", MinSeverity: finding.High,
			Versions: store.Versions{Scanner: "s", Policy: "p"}, Since: time.Now().Add(-time.Hour), Checked: time.Now(), Status: store.AlertPending})
		job, _, _ = b.Enqueue(ctx, alert.Job(&as[0], 1))
		job.Attempt = 1
		if err := bad.Handle(ctx, job); err == nil {
			t.Error("a refused signature was taken for a delivery")
		}
		if a, _ := b.Alert(ctx, "acme", as[0].ID); a.Status != store.AlertFailed {
			t.Errorf("after the last attempt: %+v", a)
		}
	})
}
