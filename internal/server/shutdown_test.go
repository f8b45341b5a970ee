package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"modelgate/internal/gate"
	"modelgate/internal/gate/gatetest"
	"modelgate/internal/server"
	"modelgate/internal/store"
	"modelgate/internal/store/storetest"
)

// Shutting down lets an upload whose scan is under way finish, records its
// verdict, answers it, and refuses new connections meanwhile.
func TestGracefulShutdownFinishesScans(t *testing.T) {
	b := storetest.Open(t, "sqlite", store.Options{})
	scanner := gatetest.NewScanner()
	scanner.Started = make(chan string, 1)
	scanner.Release = make(chan struct{})
	g := gate.New(gate.Options{Store: b, Scanner: scanner, TempDir: t.TempDir()})
	ctx := context.Background()
	g.CreateTenant(ctx, "acme", "")
	tok, _, _ := g.IssueToken(ctx, "acme", "")
	srv := server.New(server.Options{Gate: g, ShutdownTimeout: 30 * time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()

	type result struct {
		status int
		body   []byte
		err    error
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("POST", addr+"/v1/scans?name=slow.pkl", bytes.NewReader(gatetest.Malicious()))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		done <- result{status: resp.StatusCode, body: body}
	}()
	sha := <-scanner.Started
	stop() // SIGTERM, in effect
	// The listener closes: new connections are refused...
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 200*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections while shutting down")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// ...while the scan under way is not interrupted.
	select {
	case err := <-served:
		t.Fatalf("Serve returned with a scan under way: %v", err)
	case r := <-done:
		t.Fatalf("upload answered before its scan finished: %+v", r)
	case <-time.After(200 * time.Millisecond):
	}
	close(scanner.Release)
	r := <-done
	if r.err != nil || r.status != http.StatusCreated {
		t.Fatalf("upload during shutdown: %v %d %s", r.err, r.status, r.body)
	}
	var sc server.Scan
	json.Unmarshal(r.body, &sc)
	if sc.Decision != store.Deny || sc.SHA256 != sha {
		t.Errorf("verdict: %+v", sc.ScanSummary)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, fr, err := g.Lookup(ctx, "acme", sha); err != nil || fr != store.Current {
		t.Errorf("verdict not recorded: %v", err)
	}
}
