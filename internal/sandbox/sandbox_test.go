package sandbox

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestExitStatusAndOutputPassThrough(t *testing.T) {
	o := runIn(t, Config{
		Command: []string{"/bin/sh", "-c", "read line; echo \"out:$line\"; echo err >&2; exit 7"},
		Stdin:   strings.NewReader("hello\n"),
	})
	if o.res.ExitCode != 7 || o.res.Signal != 0 || o.res.TimedOut {
		t.Errorf("result = %+v, want exit 7", o.res)
	}
	if o.stdout != "out:hello\n" || o.stderr != "err\n" {
		t.Errorf("stdout %q stderr %q", o.stdout, o.stderr)
	}
}

func TestKilledBySignalIsReported(t *testing.T) {
	o := runIn(t, Config{Command: []string{"/bin/sh", "-c", "kill -TERM $$"}})
	if o.res.Signal != syscall.SIGTERM || o.res.ExitCode != 128+int(syscall.SIGTERM) {
		t.Errorf("result = %+v, want SIGTERM", o.res)
	}
}

func TestCommandNotFound(t *testing.T) {
	o := runIn(t, Config{Command: []string{"no-such-command-xyz"}})
	if o.res.ExitCode != ExitNotFound || !strings.Contains(o.stderr, "not found") {
		t.Errorf("result = %+v, stderr %q", o.res, o.stderr)
	}
}

// TestNoNetwork: the child sees only a loopback interface and cannot reach
// a server on the host's loopback. (Only loopback is ever addressed.)
func TestNoNetwork(t *testing.T) {
	requireSandbox(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	// The host can reach it: the test's server works.
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), 2*time.Second); err != nil {
		t.Fatal(err)
	} else {
		c.Close()
	}
	time.Sleep(50 * time.Millisecond)
	before := accepted.Load()

	o := runIn(t, helperCommand(t, "net", ln.Addr().String()))
	out := lines(o.stdout)
	if !slices.Contains(out, "interfaces: lo") {
		t.Errorf("want only lo inside; got %q (stderr %q)", o.stdout, o.stderr)
	}
	if !strings.Contains(o.stdout, "dial: failed") {
		t.Errorf("the sandbox reached the host's loopback server: %q", o.stdout)
	}
	time.Sleep(100 * time.Millisecond)
	if got := accepted.Load(); got != before {
		t.Errorf("host server accepted %d connections from the sandbox", got-before)
	}
}

func TestEnvironmentIsOnlyTheAllowlist(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "canary-secret")
	t.Setenv("MODELGATE_ALLOWED", "yes")
	cfg := helperCommand(t, "env")
	cfg.Env = append(cfg.Env, "MODELGATE_ALLOWED=yes", "HF_HUB_OFFLINE=0", "HOME=/tmp/home")
	o := runIn(t, cfg)
	want := map[string]bool{helperEnv + "=env": true, "MODELGATE_ALLOWED=yes": true}
	for _, kv := range BaseEnv() {
		if strings.HasPrefix(kv, "HOME=") {
			kv = "HOME=/tmp/home"
		}
		want[kv] = true
	}
	got := lines(o.stdout)
	for _, kv := range got {
		if !want[kv] {
			t.Errorf("unexpected variable inside the sandbox: %q", kv)
		}
		delete(want, kv)
	}
	for kv := range want {
		t.Errorf("missing variable %q", kv)
	}
	if strings.Contains(o.stdout, "canary-secret") {
		t.Error("a secret from the caller's environment leaked in")
	}
}

// TestWritesStayInside: only /tmp (a private tmpfs) and explicitly
// writable binds take writes; the model folder, the system and the root do
// not, and the host's /tmp is not the sandbox's.
func TestWritesStayInside(t *testing.T) {
	requireSandbox(t)
	model := t.TempDir()
	os.Chmod(model, 0o755)
	if err := os.WriteFile(filepath.Join(model, "weights.bin"), []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	os.Chmod(out, 0o777) // the sandbox runs as nobody when the tests run as root
	hostMarker := "/tmp/modelgate-sandbox-marker-" + strconv.Itoa(os.Getpid())
	os.Remove(hostMarker)

	targets := []string{
		filepath.Join(model, "marker"), "/etc/marker", "/usr/marker", "/marker",
		hostMarker, filepath.Join(out, "marker"),
	}
	script := `cat "$1/weights.bin"; echo; shift
for p in "$@"; do if (echo pwned > "$p") 2>/dev/null; then echo "$p: written"; else echo "$p: refused"; fi; done
ls /root /home 2>/dev/null && echo "home: visible" || echo "home: hidden"`
	o := runIn(t, Config{
		Command:  append([]string{"/bin/sh", "-c", script, "sh", model}, targets...),
		ModelDir: model,
		Writable: []string{out},
	})
	got := lines(o.stdout)
	want := []string{
		"weights",
		filepath.Join(model, "marker") + ": refused",
		"/etc/marker: refused", "/usr/marker: refused", "/marker: refused",
		hostMarker + ": written",
		filepath.Join(out, "marker") + ": written",
		"home: hidden",
	}
	if !slices.Equal(got, want) {
		t.Errorf("inside the sandbox:\n got %q\nwant %q\nstderr %q", got, want, o.stderr)
	}
	if _, err := os.Stat(hostMarker); err == nil {
		os.Remove(hostMarker)
		t.Errorf("a write to the sandbox's /tmp reached the host's /tmp")
	}
	if _, err := os.Stat(filepath.Join(model, "marker")); err == nil {
		t.Errorf("the read-only model folder was written")
	}
	if b, err := os.ReadFile(filepath.Join(out, "marker")); err != nil || string(b) != "pwned\n" {
		t.Errorf("the writable bind did not get the write: %q %v", b, err)
	}
}

func TestNoExecRefusesExecve(t *testing.T) {
	script := `echo start; /bin/echo pwned; echo "status=$?"`
	o := runIn(t, Config{Command: []string{"/bin/sh", "-c", script}, NoExec: true})
	if strings.Contains(o.stdout, "pwned") || !strings.Contains(o.stdout, "start") {
		t.Errorf("stdout %q: want the shell to start and /bin/echo to be refused", o.stdout)
	}
	if len(o.res.Execs) == 0 || o.res.Execs[0].Path != "/bin/echo" || o.res.Execs[0].Allowed {
		t.Errorf("Execs = %v, want a refused /bin/echo", o.res.Execs)
	}
	if len(o.res.Execs) > 0 && !slices.Equal(o.res.Execs[0].Argv, []string{"/bin/echo", "pwned"}) {
		t.Errorf("argv = %q", o.res.Execs[0].Argv)
	}

	// The same without NoExec runs, and is reported.
	o = runIn(t, Config{Command: []string{"/bin/sh", "-c", script}})
	if !strings.Contains(o.stdout, "pwned") || len(o.res.Execs) == 0 || !o.res.Execs[0].Allowed {
		t.Errorf("without NoExec: stdout %q execs %v", o.stdout, o.res.Execs)
	}
}

func TestNoExecRefusesExecveat(t *testing.T) {
	cfg := helperCommand(t, "execveat")
	cfg.NoExec = true
	o := runIn(t, cfg)
	if !strings.Contains(o.stdout, "execveat: operation not permitted") {
		t.Errorf("stdout %q stderr %q", o.stdout, o.stderr)
	}
	if len(o.res.Execs) != 1 || o.res.Execs[0].Allowed {
		t.Errorf("Execs = %v", o.res.Execs)
	}
}

func TestWallClockTimeoutKillsEverything(t *testing.T) {
	requireSandbox(t)
	token := "61.0" + strconv.Itoa(os.Getpid())
	start := time.Now()
	// A background child that ignores SIGTERM must die too.
	o, err := tryRun(t, Config{
		Command: []string{"/bin/sh", "-c", "trap '' TERM; sleep " + token + " & sleep " + token},
		Limits:  Limits{Wall: time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !o.res.TimedOut || o.res.ExitCode != ExitTimeout {
		t.Errorf("result = %+v, want a timeout", o.res)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v to stop a run with a 1s limit", d)
	}
	if pids := processesWith(token); len(pids) > 0 {
		t.Errorf("processes left behind: %v", pids)
	}
}

func TestCPULimitKills(t *testing.T) {
	o := runIn(t, Config{
		Command: []string{"/bin/sh", "-c", "while :; do :; done"},
		Limits:  Limits{CPU: time.Second, Wall: 30 * time.Second},
	})
	if o.res.TimedOut || (o.res.Signal != syscall.SIGXCPU && o.res.Signal != syscall.SIGKILL) {
		t.Errorf("result = %+v, want killed by SIGXCPU at the CPU limit", o.res)
	}
}

func TestMemoryLimit(t *testing.T) {
	// dd allocates its block at once: 600 MiB over a 256 MiB limit fails.
	o := runIn(t, Config{
		Command: []string{"/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=600M", "count=1"},
		Limits:  Limits{Memory: 256 << 20},
	})
	if o.res.ExitCode == 0 || !strings.Contains(o.stderr, "memory exhausted") {
		t.Errorf("result = %+v stderr %q, want dd to run out of memory", o.res, o.stderr)
	}
	// A Python model loader dies of it (MemoryError) rather than taking
	// the host's memory.
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		o = runIn(t, Config{
			Command: []string{"/usr/bin/python3", "-c", "b = bytearray(1 << 30); print('allocated')"},
			Limits:  Limits{Memory: 256 << 20},
		})
		if o.res.ExitCode == 0 || strings.Contains(o.stdout, "allocated") || !strings.Contains(o.stderr, "MemoryError") {
			t.Errorf("python over the limit: %+v stdout %q stderr %q", o.res, o.stdout, o.stderr)
		}
	}
	// Under the limit the same works.
	o = runIn(t, Config{
		Command: []string{"/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=16M", "count=1"},
		Limits:  Limits{Memory: 256 << 20},
	})
	if o.res.ExitCode != 0 {
		t.Errorf("16 MiB under a 256 MiB limit: %+v %q", o.res, o.stderr)
	}
}

func TestFileSizeLimit(t *testing.T) {
	o := runIn(t, Config{
		Command: []string{"/bin/sh", "-c", "head -c 2000000 /dev/zero > /tmp/big; echo $?; wc -c < /tmp/big"},
		Limits:  Limits{FileSize: 1 << 20},
	})
	if got := lines(o.stdout); len(got) != 2 || got[0] == "0" || got[1] != "1048576" {
		t.Errorf("stdout %q: want the write cut at 1 MiB", o.stdout)
	}
}

// TestPrivilegesDropped: no capabilities, no_new_privs and a seccomp
// filter in the command; mount and unshare refused.
func TestPrivilegesDropped(t *testing.T) {
	o := runIn(t, Config{Command: []string{"/bin/sh", "-c",
		"grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; hostname; unshare -n true 2>/dev/null && echo unshare-ok; mount -t tmpfs none /tmp 2>/dev/null && echo mount-ok; echo done"}})
	want := []string{"CapEff:\t0000000000000000", "CapBnd:\t0000000000000000", "NoNewPrivs:\t1", "Seccomp:\t2", "modelgate-sandbox", "done"}
	if got := lines(o.stdout); !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestRefusesWithoutNamespacesUnlessAllowWeaker(t *testing.T) {
	// Inside a sandbox the filter forbids new namespaces: a nested
	// sandbox cannot have them.
	o := runIn(t, helperCommand(t, "nested"))
	if !strings.Contains(o.stdout, "nested: unavailable: true") || strings.Contains(o.stdout, "nested-ran") {
		t.Errorf("nested sandbox without AllowWeaker: stdout %q stderr %q", o.stdout, o.stderr)
	}
	o = runIn(t, helperCommand(t, "nested", "weaker"))
	if !strings.Contains(o.stdout, "nested-ran") || !strings.Contains(o.stdout, "nested: weaker: no user, mount, PID, network") {
		t.Errorf("nested sandbox with AllowWeaker: stdout %q stderr %q", o.stdout, o.stderr)
	}
}

func TestNoMountsLeftBehind(t *testing.T) {
	requireSandbox(t)
	before, _ := os.ReadFile("/proc/self/mountinfo")
	runIn(t, Config{Command: []string{"/bin/true"}, ModelDir: t.TempDir()})
	after, _ := os.ReadFile("/proc/self/mountinfo")
	if string(before) != string(after) {
		t.Errorf("mount table changed:\n%s\n---\n%s", before, after)
	}
}

// processesWith lists host processes whose command line contains s.
func processesWith(s string) []string {
	var found []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), s) {
			found = append(found, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return found
}

// BenchmarkRunTrue measures the sandbox's own cost: namespaces, the new
// root, the filter and supervision around /bin/true.
func BenchmarkRunTrue(b *testing.B) {
	if _, err := tryRunB(); err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		if _, err := tryRunB(); err != nil {
			b.Fatal(err)
		}
	}
}

func tryRunB() (*Result, error) {
	return Run(context.Background(), Config{Command: []string{"/bin/true"}, Limits: Limits{Wall: 30 * time.Second}})
}
