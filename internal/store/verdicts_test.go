package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/report"
	"modelgate/internal/store"
	"modelgate/internal/store/storetest"
)

var v1 = store.Versions{Scanner: "s1", Policy: "p1"}

func sha(n int) string { return fmt.Sprintf("%064x", n) }

// result makes a scan result with findings of the given severities.
func result(n int, sevs ...finding.Severity) *report.File {
	f := &report.File{Path: fmt.Sprintf("file%d.pkl", n), Size: int64(100 + n), SHA256: sha(n), Format: "pickle", Status: report.StatusComplete}
	for i, s := range sevs {
		f.Findings = append(f.Findings, finding.Finding{Rule: "PICKLE-DANGEROUS-GLOBAL", Severity: s, Path: f.Path,
			Offset: int64(i), Message: fmt.Sprintf("finding %d", i), Evidence: "os.system('echo pwned')", Count: 1})
	}
	f.Imports = []finding.Import{{Module: "posix", Name: "system", Safety: finding.Dangerous, Count: 1}}
	f.Sort()
	return f
}

func record(t *testing.T, b store.Backend, tenant string, v store.Versions, f *report.File, obs ...store.Observation) *store.Verdict {
	t.Helper()
	d := store.Allow
	if len(f.Findings) > 0 {
		d = store.Deny
	}
	nv, err := store.NewVerdict(tenant, v, d, f)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := b.RecordVerdict(context.Background(), nv, obs...)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func tenants(t *testing.T, b store.Backend, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := b.CreateTenant(context.Background(), store.Tenant{ID: id, Name: strings.ToUpper(id)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVerdicts(t *testing.T) {
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		tenants(t, b, "acme", "other")
		f := result(1, finding.Critical, finding.Medium)
		f.Listings = []report.Listing{{Text: "import posix\n_var0 = posix.system('echo pwned')"}}
		nv, err := store.NewVerdict("acme", v1, store.Deny, f)
		if err != nil {
			t.Fatal(err)
		}
		obs := store.Observation{Tenant: "acme", SHA256: f.SHA256, Source: store.SourceAdmit, Hub: "https://hub", Repo: "org/m", Revision: "abc", Path: "a.pkl"}
		got, created, err := b.RecordVerdict(ctx, nv, obs)
		if err != nil || !created {
			t.Fatalf("record: %v created=%v", err, created)
		}
		if got.ID == 0 || got.CreatedAt.IsZero() || got.MaxSeverity != int(finding.Critical) || got.Findings != 2 || got.Decision != store.Deny {
			t.Fatalf("stored verdict: %+v", got)
		}
		// Idempotent: a second record keeps the first verdict.
		nv2, _ := store.NewVerdict("acme", v1, store.Allow, result(1))
		again, created, err := b.RecordVerdict(ctx, nv2, obs)
		if err != nil || created || again.ID != got.ID || again.Decision != store.Deny {
			t.Fatalf("second record: %+v created=%v err=%v", again, created, err)
		}
		// Lookups: current, stale under other versions, absent.
		cur, fr, err := b.LookupVerdict(ctx, "acme", f.SHA256, v1)
		if err != nil || fr != store.Current || cur.ID != got.ID || len(cur.Listings) != 0 {
			t.Fatalf("lookup current: %v %v %+v", err, fr, cur)
		}
		file, err := cur.File()
		if err != nil || len(file.Findings) != 2 || file.Findings[0].Severity != finding.Critical || len(file.Listings) != 0 {
			t.Fatalf("result: %v %+v", err, file)
		}
		for _, v := range []store.Versions{{Scanner: "s2", Policy: "p1"}, {Scanner: "s1", Policy: "p2"}} {
			st, fr, err := b.LookupVerdict(ctx, "acme", f.SHA256, v)
			if err != nil || fr != store.Stale || st.ID != got.ID {
				t.Fatalf("lookup under %v: %v %v", v, err, fr)
			}
		}
		if _, _, err := b.LookupVerdict(ctx, "acme", sha(99), v1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("absent: %v", err)
		}
		// A newer scanner's verdict becomes current for it; the old one
		// is then the stale answer only for other versions.
		v2 := store.Versions{Scanner: "s2", Policy: "p1"}
		newer := record(t, b, "acme", v2, result(1))
		if c, fr, _ := b.LookupVerdict(ctx, "acme", f.SHA256, v2); fr != store.Current || c.ID != newer.ID {
			t.Fatalf("v2 lookup: %v %+v", fr, c)
		}
		if c, fr, _ := b.LookupVerdict(ctx, "acme", f.SHA256, v1); fr != store.Current || c.ID != got.ID {
			t.Fatalf("v1 lookup after v2: %v %+v", fr, c)
		}
		// Tenants are isolated.
		if _, _, err := b.LookupVerdict(ctx, "other", f.SHA256, v1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other tenant sees acme's verdict: %v", err)
		}
		if _, err := b.Verdict(ctx, "other", got.ID, true); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other tenant reads acme's verdict by ID: %v", err)
		}
		// Listings only on request.
		full, err := b.Verdict(ctx, "acme", got.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		ff, err := full.File()
		if err != nil || len(ff.Listings) != 1 || !strings.Contains(ff.Listings[0].Text, "posix.system") {
			t.Fatalf("listings: %v %+v", err, ff.Listings)
		}
		// Observations: recorded twice, counted once with a count of 2.
		os, err := b.Observations(ctx, "acme", f.SHA256, 10)
		if err != nil || len(os) != 1 || os[0].Count != 2 || os[0].Repo != "org/m" || os[0].Source != store.SourceAdmit {
			t.Fatalf("observations: %v %+v", err, os)
		}
		if os, _ := b.Observations(ctx, "other", f.SHA256, 10); len(os) != 0 {
			t.Fatalf("other tenant sees observations: %+v", os)
		}
		// Flagged repositories under the current versions.
		repos, err := b.FlaggedRepos(ctx, "acme", v1, 10)
		if err != nil || len(repos) != 1 || repos[0].Repo != "org/m" || repos[0].MaxSeverity != int(finding.Critical) || repos[0].Files != 1 {
			t.Fatalf("flagged repos: %v %+v", err, repos)
		}
		if repos, _ := b.FlaggedRepos(ctx, "acme", v2, 10); len(repos) != 0 {
			t.Fatalf("flagged under v2 (allowed there): %+v", repos)
		}
		// Missing fields are refused.
		if _, _, err := b.RecordVerdict(ctx, &store.Verdict{Tenant: "acme", Result: json.RawMessage("{}")}); err == nil {
			t.Fatal("recorded a verdict without sha256 or versions")
		}
	})
}

// Attacker-controlled text (NUL bytes, invalid UTF-8) must be storable in
// both backends; PostgreSQL's TEXT refuses both as they are.
func TestHostileText(t *testing.T) {
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		tenants(t, b, "acme")
		f := result(5, finding.High)
		f.Path = "bad\x00name\xff.pkl"
		f.Findings[0].Evidence = "os.system('\x00\xfe')"
		f.Findings[0].Member = "data\x00.pkl"
		v := record(t, b, "acme", v1, f, store.Observation{Tenant: "acme", SHA256: f.SHA256, Source: store.SourceUpload, Path: "x\x00y"})
		rows, _, err := b.ListFindings(ctx, "acme", store.FindingQuery{VerdictID: v.ID})
		if err != nil || len(rows) != 1 {
			t.Fatalf("findings: %v %d", err, len(rows))
		}
		if strings.ContainsRune(rows[0].Evidence, 0) || !strings.Contains(rows[0].Evidence, "os.system") {
			t.Errorf("evidence stored as %q", rows[0].Evidence)
		}
		if _, err := v.File(); err != nil {
			t.Errorf("result JSON: %v", err)
		}
	})
}

func TestListing(t *testing.T) {
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		tenants(t, b, "acme", "other")
		sevs := [][]finding.Severity{{}, {finding.Low}, {finding.Critical}, {}, {finding.High, finding.Low}, {finding.Medium}, {finding.Critical, finding.High, finding.Medium}}
		var ids []int64
		for i, s := range sevs {
			ids = append(ids, record(t, b, "acme", v1, result(i, s...)).ID)
		}
		record(t, b, "other", v1, result(100, finding.Critical))
		collect := func(q store.VerdictQuery) []int64 {
			var out []int64
			for page := 0; ; page++ {
				vs, next, err := b.ListVerdicts(ctx, "acme", q)
				if err != nil {
					t.Fatal(err)
				}
				if len(vs) > q.Limit {
					t.Fatalf("page of %d over limit %d", len(vs), q.Limit)
				}
				for _, v := range vs {
					out = append(out, v.ID)
				}
				if next == "" {
					return out
				}
				if page > 20 {
					t.Fatal("paging does not end")
				}
				q.Cursor = next
			}
		}
		newest := collect(store.VerdictQuery{Limit: 3})
		want := fmt.Sprint(reverse(ids))
		if fmt.Sprint(newest) != want {
			t.Errorf("newest: %v, want %v", newest, want)
		}
		worst := collect(store.VerdictQuery{Limit: 2, Order: store.Worst})
		wantWorst := []int64{ids[6], ids[2], ids[4], ids[5], ids[1], ids[3], ids[0]}
		if fmt.Sprint(worst) != fmt.Sprint(wantWorst) {
			t.Errorf("worst: %v, want %v", worst, wantWorst)
		}
		high := finding.High
		flagged := collect(store.VerdictQuery{Limit: 50, Decision: store.Deny, MinSeverity: &high, Order: store.Worst})
		if fmt.Sprint(flagged) != fmt.Sprint(wantWorst[:3]) {
			t.Errorf("flagged: %v", flagged)
		}
		if vs, _, _ := b.ListVerdicts(ctx, "acme", store.VerdictQuery{SHA256: sha(2)}); len(vs) != 1 || vs[0].ID != ids[2] {
			t.Errorf("by sha: %+v", vs)
		}
		// A cursor from another listing, or forged, is refused.
		_, next, _ := b.ListVerdicts(ctx, "acme", store.VerdictQuery{Limit: 1})
		if _, _, err := b.ListVerdicts(ctx, "acme", store.VerdictQuery{Cursor: next, Order: store.Worst}); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("newest cursor used for worst: %v", err)
		}
		if _, _, err := b.ListVerdicts(ctx, "acme", store.VerdictQuery{Cursor: "not a cursor"}); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("forged cursor: %v", err)
		}
		// Findings: newest verdict first, each verdict's findings in order.
		var rows []store.FindingRow
		q := store.FindingQuery{Limit: 2}
		for {
			page, next, err := b.ListFindings(ctx, "acme", q)
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, page...)
			if next == "" {
				break
			}
			q.Cursor = next
		}
		if len(rows) != 8 || rows[0].VerdictID != ids[6] || rows[0].Severity != finding.Critical || rows[2].Severity != finding.Medium || rows[0].SHA256 != sha(6) {
			t.Errorf("findings: %d rows, first %+v", len(rows), rows[0])
		}
		crit := finding.Critical
		if rs, _, _ := b.ListFindings(ctx, "acme", store.FindingQuery{MinSeverity: &crit}); len(rs) != 2 {
			t.Errorf("critical findings: %d", len(rs))
		}
		if rs, _, _ := b.ListFindings(ctx, "other", store.FindingQuery{}); len(rs) != 1 {
			t.Errorf("other tenant's findings: %d", len(rs))
		}
	})
}

func reverse(s []int64) []int64 {
	out := make([]int64, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}
