package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"modelgate/internal/alert"
	"modelgate/internal/fakehub"
	"modelgate/internal/gate/gatetest"
	"modelgate/internal/hub"
)

// startCommand runs a long-running command in-process and returns its log
// and a function that stops it (as SIGTERM would) and returns its code.
func startCommand(t *testing.T, env map[string]string, args ...string) (*syncBuffer, func() int) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, args, Env{Stdout: io.Discard, Stderr: logs, Getenv: func(k string) string { return env[k] }})
	}()
	var once sync.Once
	code := -1
	finish := func() int {
		once.Do(func() {
			stop()
			select {
			case code = <-done:
			case <-time.After(60 * time.Second):
				t.Errorf("%s did not stop: %s", args[0], logs.String())
			}
		})
		return code
	}
	t.Cleanup(func() { finish() })
	return logs, finish
}

// logged waits for a JSON log line with the message and returns it.
func logged(t *testing.T, logs *syncBuffer, msg string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
				return rec
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %q in the log: %s", msg, logs.String())
	return nil
}

// The commands together on one machine: serve with the real hub client
// (downloads through the proxy, admission), a worker on the same store
// taking the queued scans, and watch --once raising a signed alert.
func TestGateCommandsEndToEnd(t *testing.T) {
	h, err := fakehub.New(fakehub.Options{Dir: t.TempDir(), Rescan: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	fh, err := fakehub.Start(h, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	bad, good := gatetest.Malicious(), gatetest.Benign()
	h.Upload("models", "org/clean", map[string][]byte{"model.pkl": good, "config.json": []byte(`{"model_type": "bert"}`)})
	h.Upload("models", "org/evil", map[string][]byte{"pytorch_model.bin": bad})

	data := t.TempDir()
	if r := runCLI(t, nil, false, "tenant", "create", "acme", "--data", data); r.code != ExitOK {
		t.Fatalf("tenant create: %s", r.stderr)
	}
	r := runCLI(t, nil, false, "tenant", "token", "acme", "--data", data)
	token := strings.TrimSpace(r.stdout)
	env := map[string]string{"HF_ENDPOINT": fh.URL}

	logs, stopServe := startCommand(t, env, "serve", "--addr", "127.0.0.1:0", "--data", data, "--workers", "0")
	rec := logged(t, logs, "listening")
	if rec["hub"] != fh.URL || rec["proxy"] != true {
		t.Errorf("serve: %v", rec)
	}
	gateURL := "http://" + rec["addr"].(string)

	// An HF-compatible client (ours) pointed at the gate with the tenant
	// token: metadata and the benign file come through, byte-exact; the
	// malicious file is refused with 403 ArtifactBlocked.
	ctx := context.Background()
	c, err := hub.New(hub.Config{Endpoint: gateURL, Token: token, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	ref := hub.Ref{Type: hub.Model, ID: "org/clean"}
	commit, err := c.Resolve(ctx, ref)
	if err != nil || commit != h.Commit("models", "org/clean") {
		t.Fatalf("resolve through the gate: %s %v", commit, err)
	}
	var entries []hub.TreeEntry
	if err := c.Tree(ctx, ref.At(commit), "", true, func(e hub.TreeEntry) error { entries = append(entries, e); return nil }); err != nil || len(entries) != 2 {
		t.Fatalf("tree through the gate: %v %v", entries, err)
	}
	body, n, err := c.Download(ctx, ref.At(commit), "model.pkl")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(body)
	body.Close()
	if err != nil || !bytes.Equal(got, good) || n != int64(len(good)) {
		t.Errorf("download: %d bytes, %v", len(got), err)
	}
	f := c.Open(ctx, hub.FileSpec{Repo: ref.At(commit), Path: "model.pkl", Size: int64(len(good)), SHA256: gatetest.SHA256(good)})
	buf := make([]byte, 8)
	if _, err := f.ReadAt(buf, 3); err != nil || !bytes.Equal(buf, good[3:11]) {
		t.Errorf("range read through the gate: %q %v", buf, err)
	}
	_, _, err = c.Download(ctx, hub.Ref{Type: hub.Model, ID: "org/evil"}, "pytorch_model.bin")
	var he *hub.Error
	if !errors.As(err, &he) || he.Status != 403 || he.Code != "ArtifactBlocked" || !strings.Contains(he.Message, "PICKLE-DANGEROUS-GLOBAL") {
		t.Errorf("malicious download: %v", err)
	}

	// Admission of a new repository with async scans: serve runs no
	// worker, so the answer stays pending until a worker process takes
	// the jobs from the shared store.
	h.Upload("models", "org/later", map[string][]byte{"weights.bin": []byte("cposix\nsystem\n(S'echo later'\ntR."), "extra.pkl": []byte("\x80\x04K\x2a.")})
	admit := func() string {
		req, _ := http.NewRequest("POST", gateURL+"/v1/admit", strings.NewReader(`{"repo": "org/later", "async": true}`))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var res struct{ Decision string }
		json.NewDecoder(resp.Body).Decode(&res)
		return res.Decision
	}
	if d := admit(); d != "pending" {
		t.Fatalf("async admission: %s", d)
	}
	wlogs, stopWorker := startCommand(t, env, "worker", "--data", data, "--concurrency", "2")
	logged(t, wlogs, "worker started")
	deadline := time.Now().Add(30 * time.Second)
	d := admit()
	for d == "pending" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		d = admit()
	}
	if d != "deny" {
		t.Errorf("admission after the worker: %s", d)
	}
	logged(t, wlogs, "job done")

	// watch --once with a signed webhook.
	var mu sync.Mutex
	var alerts []alert.Payload
	secret := "a shared secret of some length"
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if err := alert.Verify([]byte(secret), r.Header.Get(alert.SignatureHeader), b, time.Now(), alert.DefaultTolerance); err != nil {
			t.Errorf("webhook signature: %v", err)
			w.WriteHeader(401)
			return
		}
		var p alert.Payload
		json.Unmarshal(b, &p)
		mu.Lock()
		alerts = append(alerts, p)
		mu.Unlock()
	}))
	defer rcv.Close()
	h.Upload("models", "org/newest", map[string][]byte{"model.bin": []byte("cposix\nsystem\n(S'echo newest'\ntR.")})
	wenv := map[string]string{"HF_ENDPOINT": fh.URL, "MODELGATE_WEBHOOK_SECRET": secret}
	var wl syncBuffer
	code := Main(ctx, []string{"watch", "--once", "--tenant", "acme", "--data", data, "--webhook", rcv.URL, "--files", "*.bin,*.pkl"},
		Env{Stdout: io.Discard, Stderr: &wl, Getenv: func(k string) string { return wenv[k] }})
	if code != ExitOK {
		t.Fatalf("watch --once: %d %s", code, wl.String())
	}
	mu.Lock()
	repos := map[string]bool{}
	for _, p := range alerts {
		repos[p.Repo+"/"+p.Path] = true
	}
	mu.Unlock()
	if !repos["org/newest/model.bin"] || !repos["org/evil/pytorch_model.bin"] {
		t.Errorf("alerts: %v\n%s", repos, wl.String())
	}
	if !strings.Contains(wl.String(), `"msg":"alert"`) {
		t.Errorf("alerts are not logged: %s", wl.String())
	}

	if code := stopWorker(); code != ExitOK {
		t.Errorf("worker exited %d: %s", code, wlogs.String())
	}
	if code := stopServe(); code != ExitOK {
		t.Errorf("serve exited %d: %s", code, logs.String())
	}
}

func TestGateCommandFlags(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"watch"}, "--tenant is required"},
		{nil, []string{"watch", "--tenant", "x", "--alert-severity", "dire"}, "--alert-severity"},
		{nil, []string{"watch", "--tenant", "x", "--webhook", "http://127.0.0.1:1/hook"}, "secret of at least 16"},
		{nil, []string{"watch", "--tenant", "x", "--webhook", "ftp://x"}, "not an http(s) URL"},
		{nil, []string{"watch", "--tenant", "x", "--type", "buckets", "--hub", "http://127.0.0.1:1"}, "unknown repository type"},
		{nil, []string{"watch", "--tenant", "nobody", "--once", "--hub", "http://127.0.0.1:1"}, "does not exist"},
		{nil, []string{"worker", "--hub", "gopher://x"}, "not an http(s) URL"},
		{nil, []string{"worker", "--hub-token-file", "/nonexistent"}, "--hub-token-file"},
		{map[string]string{"HF_ENDPOINT": "http://127.0.0.1:48213"}, []string{"serve", "--addr", "127.0.0.1:48213"}, "this gate itself"},
	} {
		r := runCLI(t, c.env, false, append(c.args, "--data", t.TempDir())...)
		if r.code != ExitError || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, %q", c.args, r.code, r.stderr)
		}
	}
}
