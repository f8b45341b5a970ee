package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeEndToEnd bootstraps a tenant with 'modelgate tenant', runs
// 'modelgate serve' on a loopback port with the embedded store, uploads a
// malicious pickle, and stops the server as a signal would.
func TestServeEndToEnd(t *testing.T) {
	data := t.TempDir()
	r := runCLI(t, nil, false, "tenant", "create", "acme", "--data", data, "--name", "ACME")
	if r.code != ExitOK {
		t.Fatalf("tenant create: %d %s", r.code, r.stderr)
	}
	r = runCLI(t, nil, false, "tenant", "token", "acme", "--data", data)
	token := strings.TrimSpace(r.stdout)
	if r.code != ExitOK || !strings.HasPrefix(token, "mgt_") {
		t.Fatalf("tenant token: %d %q %s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, nil, false, "tenant", "admin-token")
	admin := strings.TrimSpace(r.stdout)
	adminFile := filepath.Join(t.TempDir(), "admin")
	os.WriteFile(adminFile, []byte(admin+"\n"), 0o600)

	ctx, stop := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--admin-token-file", adminFile, "--workers", "1"},
			Env{Stdout: io.Discard, Stderr: logs, Getenv: func(string) string { return "" }})
	}()
	var addr string
	deadline := time.Now().Add(20 * time.Second)
	for addr == "" && time.Now().Before(deadline) {
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				addr = rec.Addr
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if addr == "" {
		t.Fatalf("serve did not start: %s", logs.String())
	}
	base := "http://" + addr
	req, _ := http.NewRequest("POST", base+"/v1/scans?name=payload.pkl", bytes.NewReader(mustReadFile(t, sample("malicious/pickle/os_system.pkl"))))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || !strings.Contains(string(body), `"decision":"deny"`) {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	req, _ = http.NewRequest("GET", base+"/v1/admin/tenants", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"name":"ACME"`) {
		t.Fatalf("admin: %d %s", resp.StatusCode, body)
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/ui/login"} {
		resp, err := http.Get(base + p)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s: %v %v", p, err, resp)
		} else {
			resp.Body.Close()
		}
	}
	stop()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Fatalf("serve exited %d: %s", code, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	// The logs are JSON lines and say the scan happened.
	sawScan := false
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		if rec["msg"] == "scan" && rec["decision"] == "deny" && rec["tenant"] == "acme" {
			sawScan = true
		}
	}
	if !sawScan {
		t.Errorf("no scan log line: %s", logs.String())
	}
	r = runCLI(t, nil, false, "tenant", "list", "--data", data)
	if r.code != ExitOK || !strings.Contains(r.stdout, "acme") || !strings.Contains(r.stdout, "1 active") {
		t.Errorf("tenant list: %s", r.stdout)
	}
}

func TestServeFlags(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--max-upload", "lots"},
		{"serve", "--log-level", "loud"},
		{"serve", "--admin-token-file", "/nonexistent"},
		{"serve", "--store", "mysql://x"},
		{"tenant"},
		{"tenant", "create"},
		{"tenant", "frob"},
	} {
		if r := runCLI(t, nil, false, append(args, "--data", t.TempDir())...); r.code != ExitError {
			t.Errorf("%v: exit %d", args, r.code)
		}
	}
	if r := runCLI(t, map[string]string{"MODELGATE_ADMIN_TOKEN": "short"}, false, "serve", "--data", t.TempDir()); r.code != ExitError || !strings.Contains(r.stderr, "too short") {
		t.Errorf("short admin token: %d %s", r.code, r.stderr)
	}
	for in, want := range map[string]int64{"4GiB": 4 << 30, "10MiB": 10 << 20, "512": 512, "2K": 2048} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v", in, got, err)
		}
	}
}

func mustReadFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
