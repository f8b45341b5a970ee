package watch_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"modelgate/internal/alert"
	"modelgate/internal/gate"
	"modelgate/internal/gatehub"
	"modelgate/internal/hub"
	"modelgate/internal/policy"
	"modelgate/internal/report"
	"modelgate/internal/store"
	"modelgate/internal/store/storetest"
	"modelgate/internal/watch"
)

// The crash test runs the watcher and two scan workers as child processes
// (this test binary, re-executed) against a fake hub, a webhook receiver
// and a store in the parent, kills both with SIGKILL at random moments
// several times while uploading new models to the hub, then lets them
// finish. The verdicts must equal a clean run's, no content may be
// scanned after its verdict was recorded, and every alert must reach the
// webhook with a valid signature.
const (
	crashRole    = "MODELGATE_WATCH_CRASH_ROLE"
	crashStore   = "MODELGATE_WATCH_CRASH_STORE"
	crashHub     = "MODELGATE_WATCH_CRASH_HUB"
	crashWebhook = "MODELGATE_WATCH_CRASH_WEBHOOK"
	crashLog     = "MODELGATE_WATCH_CRASH_LOG"
	crashWorkers = "MODELGATE_WATCH_CRASH_WORKERS"
)

func maliciousPickle(i int) []byte {
	return fmt.Appendf(nil, "cposix\nsystem\n(S'echo pwned %d'\ntR.", i)
}

func benignPickle(i int) []byte { return fmt.Appendf(nil, "(dp0\nS'n'\np1\nI%d\ns.", i) }

// repoFiles is repository i: a model (malicious for every third), a
// config of its own and a tokenizer every repository shares.
func repoFiles(i int) map[string][]byte {
	model := benignPickle(i)
	if i%3 == 0 {
		model = maliciousPickle(i)
	}
	return map[string][]byte{"model.bin": model, "config.json": fmt.Appendf(nil, `{"n": %d}`, i), "tokenizer.pkl": benignPickle(1000)}
}

func TestCrashRestart(t *testing.T) {
	if role := os.Getenv(crashRole); role != "" {
		crashChild(role)
		return
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) { crashRun(t, kind) })
	}
}

func crashRun(t *testing.T, kind string) {
	f := newFixture(t, storetest.Open(t, "sqlite", store.Options{})) // the hub; its own store is unused
	for i := range 10 {
		f.upload(t, fmt.Sprintf("org%d/model", i), repoFiles(i))
	}
	rcv, url := newReceiver(t)
	dir := t.TempDir()
	newStore := func(name string) string {
		ctx := context.Background()
		spec := "sqlite:" + filepath.Join(dir, name+".db")
		if kind == "postgres" {
			spec = storetest.Schema(t)
		}
		b, err := store.Open(ctx, spec, "", store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if err := b.CreateTenant(ctx, store.Tenant{ID: "public"}); err != nil {
			t.Fatal(err)
		}
		return spec
	}
	run := func(spec, role, log string, workers int) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashRestart$")
		cmd.Env = append(os.Environ(), crashRole+"="+role, crashStore+"="+spec, crashHub+"="+f.hub.URL,
			crashWebhook+"="+url, crashLog+"="+log, fmt.Sprintf("%s=%d", crashWorkers, workers))
		out, err := os.OpenFile(filepath.Join(dir, "children.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		out.Close()
		return cmd
	}
	finish := func(cmd *exec.Cmd) {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("child failed: %v\n%s", err, tail(filepath.Join(dir, "children.log")))
			}
		case <-time.After(90 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("child did not finish\n%s", tail(filepath.Join(dir, "children.log")))
		}
	}

	// The crash run: kill the watcher and the worker at random moments.
	crashSpec := newStore("crash")
	crashLogPath := filepath.Join(dir, "crash-scans.log")
	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 6))
	const rounds = 4
	for round := range rounds {
		// The watcher with one in-process worker, and two worker
		// processes, as on several machines.
		procs := []*exec.Cmd{run(crashSpec, "watch", crashLogPath, 1), run(crashSpec, "worker", crashLogPath, 2),
			run(crashSpec, "worker", crashLogPath, 1)}
		// Kill mid-run: once scans are under way (or after a while, when
		// there is nothing left to scan), at a random moment within a scan.
		waitStarts(crashLogPath, starts(crashLogPath)+2, 3*time.Second)
		time.Sleep(time.Duration(rnd.IntN(120)) * time.Millisecond)
		for _, p := range procs {
			p.Process.Signal(syscall.SIGKILL)
		}
		for _, p := range procs {
			p.Wait()
		}
		switch round {
		case 0: // new models arrive while the watcher is down
			f.upload(t, "late/evil", map[string][]byte{"pytorch_model.bin": maliciousPickle(100), "config.json": []byte(`{"late": 1}`)})
			f.upload(t, "late/clean", map[string][]byte{"model.bin": benignPickle(101)})
		case 2: // a copy of known-bad content in a new place
			f.upload(t, "copycat/fork", map[string][]byte{"weights.bin": maliciousPickle(0)})
		}
	}
	k1, k2 := run(crashSpec, "worker", crashLogPath, 2), run(crashSpec, "worker", crashLogPath, 1)
	finish(run(crashSpec, "watch", crashLogPath, 1))
	for _, k := range []*exec.Cmd{k1, k2} {
		k.Process.Signal(syscall.SIGKILL)
		k.Wait()
	}

	// The clean run, on the hub as it is now.
	cleanSpec := newStore("clean")
	cleanLogPath := filepath.Join(dir, "clean-scans.log")
	finish(run(cleanSpec, "watch", cleanLogPath, 3))

	crash, clean := outcome(t, crashSpec), outcome(t, cleanSpec)
	// Ten models and configs, the shared tokenizer, the late models and
	// config; the fork holds nothing new.
	if want := 10*2 + 1 + 3; len(clean.verdicts) != want {
		t.Errorf("clean run: %d verdicts, want %d distinct contents", len(clean.verdicts), want)
	}
	denied := 0
	for _, d := range clean.verdicts {
		if d == store.Deny {
			denied++
		}
	}
	if denied != 5 {
		t.Errorf("clean run denied %d contents, want the 5 malicious ones", denied)
	}
	if !mapsEqual(crash.verdicts, clean.verdicts) {
		t.Errorf("verdicts differ from the clean run:\ncrash %v\nclean %v", crash.verdicts, clean.verdicts)
	}
	if !slices.Equal(crash.alerts, clean.alerts) {
		t.Errorf("alerts differ from the clean run:\ncrash %v\nclean %v", crash.alerts, clean.alerts)
	}
	if want := 4 + 1 + 1; len(clean.alerts) != want {
		t.Errorf("clean run raised %d alerts, want %d: %v", len(clean.alerts), want, clean.alerts)
	}
	for name, o := range map[string]runOutcome{"crash": crash, "clean": clean} {
		if o.undelivered != 0 || o.failedJobs != 0 {
			t.Errorf("%s run: %d alerts not delivered, %d failed jobs", name, o.undelivered, o.failedJobs)
		}
	}
	cleanScans := scanLog(t, cleanLogPath, clean)
	crashScans := scanLog(t, crashLogPath, crash)
	if cleanScans.starts != len(clean.verdicts) || len(cleanScans.duplicates) != 0 {
		t.Errorf("clean run: %d scans for %d contents, duplicates %v", cleanScans.starts, len(clean.verdicts), cleanScans.duplicates)
	}
	if crashScans.starts == len(crash.verdicts) {
		t.Errorf("no kill landed during a scan: the test did not test restarts mid-scan")
	}
	if len(crashScans.duplicates) != 0 {
		t.Errorf("content scanned again after its verdict was recorded: %v", crashScans.duplicates)
	}
	if crashScans.recorded > len(crash.verdicts) || cleanScans.recorded != len(clean.verdicts) {
		t.Errorf("verdicts logged: crash %d (store %d), clean %d (store %d)", crashScans.recorded, len(crash.verdicts), cleanScans.recorded, len(clean.verdicts))
	}
	got, bad := rcv.payloads()
	if len(bad) != 0 {
		t.Errorf("deliveries with bad signatures: %v", bad)
	}
	ids := map[string]bool{}
	for _, p := range got {
		ids[fmt.Sprintf("%s|%s|%s", p.Repo, p.Path, p.SHA256)] = true
	}
	if len(ids) != len(clean.alerts) {
		t.Errorf("the webhook saw %d distinct alerts of both runs, want %d", len(ids), len(clean.alerts))
	}
	t.Logf("%s: %d rounds of SIGKILL; %d scans started for %d contents (%d interrupted by a kill and redone), %d after a verdict; %d alerts, %d webhook deliveries in both runs",
		kind, rounds, crashScans.starts, len(crash.verdicts), crashScans.starts-len(crash.verdicts), len(crashScans.duplicates), len(crash.alerts), len(got))
}

// runOutcome is what a run left in its store.
type runOutcome struct {
	verdicts    map[string]store.Decision
	created     map[string]time.Time
	alerts      []string // repo|path|sha256, sorted
	undelivered int
	failedJobs  int
}

func outcome(t *testing.T, spec string) runOutcome {
	t.Helper()
	ctx := context.Background()
	b, err := store.Open(ctx, spec, "", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	o := runOutcome{verdicts: map[string]store.Decision{}, created: map[string]time.Time{}}
	for cursor := ""; ; {
		vs, next, err := b.ListVerdicts(ctx, "public", store.VerdictQuery{Limit: store.MaxLimit, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if _, dup := o.verdicts[v.SHA256]; dup {
				t.Errorf("two verdicts for %s", v.SHA256)
			}
			o.verdicts[v.SHA256] = v.Decision
			o.created[v.SHA256] = v.CreatedAt
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	as, _, err := b.ListAlerts(ctx, "public", store.AlertQuery{Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		o.alerts = append(o.alerts, a.Repo+"|"+a.Path+"|"+a.SHA256)
		if a.Status != store.AlertDelivered {
			o.undelivered++
		}
	}
	slices.Sort(o.alerts)
	if o.failedJobs, err = b.CountJobs(ctx, store.JobFilter{States: []store.JobState{store.JobFailed}}); err != nil {
		t.Fatal(err)
	}
	return o
}

func mapsEqual(a, b map[string]store.Decision) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// scans summarises a scan log: "start SHA PID UNIXNANO" is written
// before each scan, "recorded SHA PID" once its verdict is committed (a
// kill between the commit and that line loses the line, not the verdict).
type scans struct {
	starts, recorded int
	// duplicates are scans that started after the content's verdict was
	// recorded (its created_at in the store). A scan interrupted by a
	// kill is redone before any verdict exists, so it is not one.
	duplicates []string
}

func scanLog(t *testing.T, path string, o runOutcome) scans {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var s scans
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) == 4 && fields[0] == "start":
			s.starts++
			var ns int64
			fmt.Sscan(fields[3], &ns)
			if c, ok := o.created[fields[1]]; !ok || time.Unix(0, ns).After(c) {
				s.duplicates = append(s.duplicates, fmt.Sprintf("%s at %d (verdict of %s)", fields[1][:12], ns, c))
			}
		case len(fields) == 3 && fields[0] == "recorded":
			s.recorded++
		}
	}
	return s
}

// starts counts the scans started so far in a scan log.
func starts(path string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), "start ")
}

func waitStarts(path string, n int, timeout time.Duration) {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline) && starts(path) < n; {
		time.Sleep(5 * time.Millisecond)
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// crashChild is the child process: the watcher (RunOnce) or a worker.
func crashChild(role string) {
	ctx := context.Background()
	fail := func(err error) {
		fmt.Fprintf(os.Stderr, "crash child %s: %v\n", role, err)
		os.Exit(3)
	}
	b, err := store.Open(ctx, os.Getenv(crashStore), "", store.Options{})
	if err != nil {
		fail(err)
	}
	c, err := hub.New(hub.Config{Endpoint: os.Getenv(crashHub), MaxRetries: 5})
	if err != nil {
		fail(err)
	}
	logf, err := os.OpenFile(os.Getenv(crashLog), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		fail(err)
	}
	pid := os.Getpid()
	scanner := &loggingScanner{inner: gate.NewScanner(), log: logf, pid: pid}
	g := gate.New(gate.Options{Store: &loggingStore{Backend: b, log: logf, pid: pid}, Queue: b, Hub: gatehub.New(c), Scanner: scanner})
	var workers int
	fmt.Sscan(os.Getenv(crashWorkers), &workers)
	switch role {
	case "watch":
		w, err := watch.New(g, b, c, watch.Config{Tenant: "public", Workers: workers, Lease: time.Second, Poll: 20 * time.Millisecond,
			Backoff: func(int) time.Duration { return 50 * time.Millisecond },
			Webhook: &alert.Webhook{URL: os.Getenv(crashWebhook), Secret: secret}})
		if err != nil {
			fail(err)
		}
		if _, err := w.RunOnce(ctx); err != nil {
			fail(err)
		}
		os.Exit(0)
	case "worker":
		(&gate.Worker{Queue: b, Handlers: g.Handlers(), Concurrency: workers, Lease: time.Second, Poll: 20 * time.Millisecond,
			Backoff: func(int) time.Duration { return 50 * time.Millisecond }}).Run(ctx)
	}
	fail(fmt.Errorf("unknown role"))
}

// loggingScanner writes "start SHA PID" before each scan, and takes a
// little time, so kills land mid-scan.
type loggingScanner struct {
	inner gate.Scanner
	log   io.Writer
	pid   int
}

func (s *loggingScanner) Scan(ctx context.Context, pol *policy.Policy, path string, r io.ReaderAt, size int64, sha string) *report.File {
	fmt.Fprintf(s.log, "start %s %d %d\n", sha, s.pid, time.Now().UnixNano())
	time.Sleep(100 * time.Millisecond)
	return s.inner.Scan(ctx, pol, path, r, size, sha)
}

// loggingStore writes "recorded SHA PID" once a new verdict is committed.
type loggingStore struct {
	store.Backend
	log io.Writer
	pid int
}

func (s *loggingStore) RecordVerdict(ctx context.Context, v *store.Verdict, obs ...store.Observation) (*store.Verdict, bool, error) {
	stored, created, err := s.Backend.RecordVerdict(ctx, v, obs...)
	if err == nil && created {
		fmt.Fprintf(s.log, "recorded %s %d\n", v.SHA256, s.pid)
	}
	return stored, created, err
}
