package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/gate"
	"modelgate/internal/report"
	"modelgate/internal/server"
	"modelgate/internal/store"
	"modelgate/internal/store/storetest"
)

// BenchmarkLookup measures the server side of GET /v1/verdicts/{sha256}
// (routing, token check, policy, store query, JSON) without the network.
func BenchmarkLookup(b *testing.B) {
	for _, kind := range storetest.Kinds {
		b.Run(kind, func(b *testing.B) {
			ctx := context.Background()
			st := storetest.Open(b, kind, store.Options{})
			g := gate.New(gate.Options{Store: st})
			g.CreateTenant(ctx, "acme", "")
			token, _, _ := g.IssueToken(ctx, "acme", "bench")
			pol, _ := g.TenantPolicy(ctx, "acme")
			const n = 1000
			shas := make([]string, n)
			for i := range shas {
				shas[i] = fmt.Sprintf("%064x", i+1)
				f := &report.File{Path: "m.bin", Size: 10, SHA256: shas[i], Format: "pickle", Status: report.StatusComplete,
					Findings: []finding.Finding{{Rule: "PICKLE-DANGEROUS-GLOBAL", Severity: finding.Critical, Path: "m.bin", Message: "x", Count: 1}}}
				v, _ := store.NewVerdict("acme", pol.Versions, store.Deny, f)
				st.RecordVerdict(ctx, v)
			}
			srv := server.New(server.Options{Gate: g})
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					req := httptest.NewRequest("GET", "/v1/verdicts/"+shas[i%n], nil)
					req.Header.Set("Authorization", "Bearer "+token)
					w := httptest.NewRecorder()
					srv.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d", w.Code)
					}
					i++
				}
			})
		})
	}
}
