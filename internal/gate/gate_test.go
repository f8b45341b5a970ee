package gate_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/gate"
	"modelgate/internal/gate/gatetest"
	"modelgate/internal/store"
	"modelgate/internal/store/storetest"
)

type fixture struct {
	b    store.Backend
	g    *gate.Gate
	hub  *gatetest.Hub
	scan *gatetest.Scanner
	tmp  string
}

func newFixture(t *testing.T, b store.Backend, mod ...func(*gate.Options)) *fixture {
	t.Helper()
	ctx := context.Background()
	for _, id := range []string{"acme", "beta"} {
		if err := b.CreateTenant(ctx, store.Tenant{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{b: b, hub: gatetest.NewHub(), scan: gatetest.NewScanner(), tmp: t.TempDir()}
	o := gate.Options{Store: b, Queue: b, Hub: f.hub, Scanner: f.scan, TempDir: f.tmp, MaxUpload: 1 << 20}
	for _, m := range mod {
		m(&o)
	}
	f.g = gate.New(o)
	return f
}

func (f *fixture) upload(t *testing.T, tenant string, data []byte) *gate.Outcome {
	t.Helper()
	out, err := f.g.ScanUpload(context.Background(), gate.Upload{Tenant: tenant, Name: "model.bin", Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestUploadAndLookup(t *testing.T) {
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		f := newFixture(t, b)
		bad, good := gatetest.Malicious(), gatetest.Benign()
		out := f.upload(t, "acme", bad)
		v := out.Verdict
		if out.Cached || v.Decision != store.Deny || v.SHA256 != gatetest.SHA256(bad) || v.Format != "pickle" {
			t.Fatalf("malicious upload: %+v", out)
		}
		if sev, ok := v.Severity(); !ok || sev != finding.Critical {
			t.Errorf("severity %v %v", sev, ok)
		}
		res, _ := v.File()
		if len(res.Findings) == 0 || res.Findings[0].Rule != "PICKLE-DANGEROUS-GLOBAL" || res.Path != "model.bin" {
			t.Errorf("result: %+v", res)
		}
		// The decompiled pickle is kept for the dashboard.
		full, err := b.Verdict(ctx, "acme", v.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		if ff, _ := full.File(); len(ff.Listings) == 0 || !strings.Contains(ff.Listings[0].Text, "system") {
			t.Errorf("no listing: %+v", ff.Listings)
		}
		if out := f.upload(t, "acme", good); out.Verdict.Decision != store.Allow {
			t.Errorf("benign upload: %+v", out.Verdict)
		}
		// The same content again is not scanned again.
		again := f.upload(t, "acme", bad)
		if !again.Cached || again.Verdict.ID != v.ID || f.scan.Count(v.SHA256) != 1 {
			t.Errorf("re-upload: cached=%v scans=%d", again.Cached, f.scan.Count(v.SHA256))
		}
		// Lookups.
		got, fr, err := f.g.Lookup(ctx, "acme", v.SHA256)
		if err != nil || fr != store.Current || got.ID != v.ID {
			t.Errorf("lookup: %v %v", err, fr)
		}
		if _, _, err := f.g.Lookup(ctx, "beta", v.SHA256); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("beta sees acme's verdict: %v", err)
		}
		if _, _, err := f.g.Lookup(ctx, "acme", strings.Repeat("0", 64)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown: %v", err)
		}
		if _, _, err := f.g.Lookup(ctx, "acme", "ABC"); !errors.Is(err, gate.ErrInvalid) {
			t.Errorf("bad sha: %v", err)
		}
		// Too large: refused, nothing left in the temporary folder.
		_, err = f.g.ScanUpload(ctx, gate.Upload{Tenant: "acme", Body: bytes.NewReader(make([]byte, 1<<20+1))})
		if !errors.Is(err, gate.ErrTooLarge) {
			t.Errorf("oversize: %v", err)
		}
		if left, _ := os.ReadDir(f.tmp); len(left) != 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
}

// A tenant's policy decides its verdicts, and changing it makes earlier
// verdicts stale.
func TestTenantPolicy(t *testing.T) {
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		f := newFixture(t, b)
		bad := gatetest.Malicious()
		sha := gatetest.SHA256(bad)
		if v := f.upload(t, "beta", bad).Verdict; v.Decision != store.Deny {
			t.Fatalf("default policy allowed the payload")
		}
		if _, err := f.g.SetPolicy(ctx, "beta", "fail_on = \"nonsense\"\n", "toml"); !errors.Is(err, gate.ErrInvalid) {
			t.Fatalf("invalid policy: %v", err)
		}
		p, err := f.g.SetPolicy(ctx, "beta", "name = \"lenient\"\n[severity]\nPICKLE-DANGEROUS-GLOBAL = \"low\"\n", "toml")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.Versions.Policy, "lenient@") {
			t.Errorf("policy version %q", p.Versions.Policy)
		}
		if _, fr, err := f.g.Lookup(ctx, "beta", sha); err != nil || fr != store.Stale {
			t.Fatalf("after a policy change: %v %v", err, fr)
		}
		out := f.upload(t, "beta", bad)
		if out.Cached || out.Verdict.Decision != store.Allow || out.Verdict.Policy != p.Versions.Policy {
			t.Fatalf("under the lenient policy: %+v", out.Verdict)
		}
		// acme is untouched by beta's policy.
		if v := f.upload(t, "acme", bad).Verdict; v.Decision != store.Deny {
			t.Error("beta's policy leaked into acme")
		}
		// Back to the default: the first verdict is current again.
		if _, err := f.g.SetPolicy(ctx, "beta", "", ""); err != nil {
			t.Fatal(err)
		}
		if v, fr, _ := f.g.Lookup(ctx, "beta", sha); fr != store.Current || v.Decision != store.Deny {
			t.Errorf("after reset: %v %+v", fr, v)
		}
	})
}

// Concurrent uploads of the same content are scanned once.
func TestConcurrentUploadsScanOnce(t *testing.T) {
	b := storetest.Open(t, "sqlite", store.Options{})
	f := newFixture(t, b)
	f.scan.Release = make(chan struct{})
	f.scan.Started = make(chan string, 10)
	bad := gatetest.Malicious()
	var wg sync.WaitGroup
	ids := make([]int64, 5)
	for i := range ids {
		wg.Go(func() { ids[i] = f.upload(t, "acme", bad).Verdict.ID })
	}
	<-f.scan.Started
	close(f.scan.Release)
	wg.Wait()
	if n := f.scan.Count(gatetest.SHA256(bad)); n != 1 {
		t.Errorf("scanned %d times", n)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Errorf("verdict IDs differ: %v", ids)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		admin, err := gate.NewAdminToken()
		if err != nil {
			t.Fatal(err)
		}
		f := newFixture(t, b, func(o *gate.Options) { o.AdminTokenSHA256 = gate.HashToken(admin) })
		secret, tok, err := f.g.IssueToken(ctx, "acme", "ci")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, "mgt_"+tok.ID+"_") {
			t.Fatalf("token %q for ID %s", secret, tok.ID)
		}
		stored, _ := b.Token(ctx, tok.ID)
		if bytes.Contains(stored.Hash, []byte(secret)) || len(stored.Hash) != 32 {
			t.Fatal("the store holds the token, not its hash")
		}
		p, err := f.g.Authenticate(ctx, secret)
		if err != nil || p.Tenant != "acme" || p.Admin {
			t.Fatalf("valid token: %v %+v", err, p)
		}
		if p, err := f.g.Authenticate(ctx, admin); err != nil || !p.Admin || p.Tenant != "" {
			t.Fatalf("admin token: %v %+v", err, p)
		}
		// Same ID, another secret; garbage; empty.
		forged := secret[:len(secret)-2] + "xx"
		for _, bad := range []string{forged, "mgt_nothing", "", "Bearer " + secret, secret + "x", strings.Repeat("a", 300)} {
			if _, err := f.g.Authenticate(ctx, bad); !errors.Is(err, gate.ErrUnauthorized) {
				t.Errorf("%q: %v", bad, err)
			}
		}
		// Revocation takes effect at once in this process...
		if err := f.g.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.g.Authenticate(ctx, secret); !errors.Is(err, gate.ErrUnauthorized) {
			t.Errorf("revoked token accepted: %v", err)
		}
		// ...and in another gate process on the same store once its cache
		// entry is older than the TTL.
		secret2, tok2, _ := f.g.IssueToken(ctx, "acme", "two")
		clock := storetest.NewClock()
		other := gate.New(gate.Options{Store: b, Now: clock.Now})
		if _, err := other.Authenticate(ctx, secret2); err != nil {
			t.Fatal(err)
		}
		if err := f.g.RevokeToken(ctx, tok2.ID); err != nil {
			t.Fatal(err)
		}
		clock.Advance(gate.DefaultCacheTTL + 1)
		if _, err := other.Authenticate(ctx, secret2); !errors.Is(err, gate.ErrUnauthorized) {
			t.Errorf("revoked token accepted by another process after the TTL: %v", err)
		}
		// Without an admin token configured there is no admin.
		if _, err := gate.New(gate.Options{Store: b}).Authenticate(ctx, admin); !errors.Is(err, gate.ErrUnauthorized) {
			t.Errorf("admin accepted without configuration: %v", err)
		}
	})
}

type brokenReader struct{ n int }

func (r *brokenReader) Read(p []byte) (int, error) {
	if r.n > 0 {
		n := min(len(p), r.n)
		r.n -= n
		return n, nil
	}
	return 0, errors.New("connection reset by peer")
}

// An upload whose body breaks off is refused and leaves nothing behind.
func TestUploadBrokenBody(t *testing.T) {
	b := storetest.Open(t, "sqlite", store.Options{})
	f := newFixture(t, b)
	_, err := f.g.ScanUpload(context.Background(), gate.Upload{Tenant: "acme", Body: &brokenReader{n: 1000}})
	if !errors.Is(err, gate.ErrInvalid) {
		t.Fatalf("broken body: %v", err)
	}
	if left, _ := os.ReadDir(f.tmp); len(left) != 0 || f.scan.Total() != 0 {
		t.Errorf("left %v, scanned %d", left, f.scan.Total())
	}
}
