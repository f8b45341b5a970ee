//go:build loadtest

package server_test

// The load test of verdict lookups: go test -tags loadtest -run TestLoad
// -v ./internal/server/ (MODELGATE_LOAD_REQUESTS, MODELGATE_LOAD_CONCURRENCY
// tune it). It is not part of go test ./...: it measures, it does not pass
// or fail on timing.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"modelgate/internal/finding"
	"modelgate/internal/gate"
	"modelgate/internal/report"
	"modelgate/internal/server"
	"modelgate/internal/store"
	"modelgate/internal/store/storetest"
	"modelgate/internal/version"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func TestLoad(t *testing.T) {
	requests := envInt("MODELGATE_LOAD_REQUESTS", 200_000)
	conc := envInt("MODELGATE_LOAD_CONCURRENCY", 16)
	const verdicts = 2000
	for _, c := range []struct {
		kind  string
		cache int
	}{{"sqlite", 0}, {"sqlite", -1}, {"postgres", 0}, {"postgres", -1}} {
		kind, label := c.kind, c.kind+"/cached"
		if c.cache < 0 {
			label = c.kind + "/store" // every lookup reads the store
		}
		t.Run(label, func(t *testing.T) {
			ctx := context.Background()
			b := storetest.Open(t, kind, store.Options{})
			g := gate.New(gate.Options{Store: b, VerdictCacheBytes: c.cache})
			if _, err := g.CreateTenant(ctx, "acme", ""); err != nil {
				t.Fatal(err)
			}
			token, _, _ := g.IssueToken(ctx, "acme", "load")
			pol, _ := g.TenantPolicy(ctx, "acme")
			shas := make([]string, verdicts)
			for i := range shas {
				shas[i] = fmt.Sprintf("%064x", i+1)
				f := &report.File{Path: fmt.Sprintf("shard-%d.bin", i), Size: 1 << 20, SHA256: shas[i], Format: "pickle", Status: report.StatusComplete}
				d := store.Allow
				if i%10 == 0 {
					d = store.Deny
					f.Findings = []finding.Finding{{Rule: "PICKLE-DANGEROUS-GLOBAL", Severity: finding.Critical, Path: f.Path, Message: "imports posix.system", Evidence: "posix.system('echo pwned')", Count: 1}}
				}
				v, _ := store.NewVerdict("acme", pol.Versions, d, f)
				if _, _, err := b.RecordVerdict(ctx, v); err != nil {
					t.Fatal(err)
				}
			}
			if pol.Versions.Scanner != version.Scanner {
				t.Fatal("versions")
			}
			srv := server.New(server.Options{Gate: g, Logger: slog.New(slog.DiscardHandler)})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			sctx, stop := context.WithCancel(ctx)
			defer stop()
			go srv.Serve(sctx, ln)
			base := "http://" + ln.Addr().String() + "/v1/verdicts/"
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}}

			lat := make([]time.Duration, requests)
			var next, bad atomic.Int64
			run := func(n int) time.Duration {
				next.Store(0)
				start := time.Now()
				var wg sync.WaitGroup
				for range conc {
					wg.Go(func() {
						for {
							i := next.Add(1) - 1
							if i >= int64(n) {
								return
							}
							req, _ := http.NewRequest("GET", base+shas[i%verdicts], nil)
							req.Header.Set("Authorization", "Bearer "+token)
							t0 := time.Now()
							resp, err := client.Do(req)
							if err != nil {
								bad.Add(1)
								continue
							}
							io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							lat[i] = time.Since(t0)
							if resp.StatusCode != 200 {
								bad.Add(1)
							}
						}
					})
				}
				wg.Wait()
				return time.Since(start)
			}
			run(min(requests, 5000)) // warm up connections, caches and statements
			bad.Store(0)
			cpu0 := cpuTime()
			took := run(requests)
			cpu := cpuTime() - cpu0
			if bad.Load() != 0 {
				t.Fatalf("%d failed requests", bad.Load())
			}
			slices.Sort(lat)
			q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
			// CPU per lookup (client and server together) does not depend on
			// what else the shared machine runs; 2 cores / it bounds the rate.
			perLookup := cpu / time.Duration(requests)
			t.Logf("%s: %d lookups, %d concurrent, GOMAXPROCS %d: %.0f lookups/s; latency p50 %v, p99 %v, p99.9 %v, max %v; CPU %v per lookup (=> %.0f/s on 2 idle cores)",
				label, requests, conc, runtimeProcs(), float64(requests)/took.Seconds(), q(0.50), q(0.99), q(0.999), lat[len(lat)-1],
				perLookup, 2/perLookup.Seconds())
		})
	}
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
