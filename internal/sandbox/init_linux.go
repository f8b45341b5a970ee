package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// InitMain is the sandbox's init: the re-executed binary runs it when
// IsInit(os.Args). It never returns.
func InitMain() {
	signal.Reset()
	os.Exit(runInit())
}

// statusWriter sends status lines to the parent; safe for concurrent use.
type statusWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *statusWriter) send(m statusMsg) {
	b, _ := json.Marshal(m)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w.Write(append(b, '\n'))
}

// initState is what init knows while it sets the sandbox up.
type initState struct {
	cfg    initConfig
	status *statusWriter
}

// step runs one protection. A failure of a required one stops init unless
// AllowWeaker, in which case it is reported as missing.
func (st *initState) step(name string, required bool, f func() error) bool {
	err := f()
	if err == nil {
		st.status.send(statusMsg{Type: msgApplied, What: name})
		return true
	}
	what := fmt.Sprintf("%s: %v", name, err)
	switch {
	case !required:
		st.status.send(statusMsg{Type: msgNote, What: what})
		return true
	case st.cfg.AllowWeaker:
		st.status.send(statusMsg{Type: msgWeaker, What: what})
		return true
	default:
		st.status.send(statusMsg{Type: msgError, Step: name, Error: err.Error(), Required: true})
		return false
	}
}

func runInit() int {
	// Our descriptors must not leak into the command: everything from 3
	// up is close-on-exec (ExtraFiles are dup'ed to their places anew).
	for fd := 3; fd < 1024; fd++ {
		unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
	}
	status := &statusWriter{w: os.NewFile(fdStatus, "status")}
	fail := func(step string, err error) int {
		status.send(statusMsg{Type: msgError, Step: step, Error: err.Error()})
		return ExitSetupFailed
	}
	b, err := io.ReadAll(io.LimitReader(os.NewFile(fdConfig, "config"), maxConfigSize))
	if err != nil {
		return fail("reading the configuration", err)
	}
	st := &initState{status: status}
	if err := json.Unmarshal(b, &st.cfg); err != nil {
		return fail("reading the configuration", err)
	}
	cfg := &st.cfg
	// Not dumpable: the command may not open our /proc files (our
	// executable, our memory) even as the same user.
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)

	if cfg.Namespaces {
		if !st.step("hostname", false, func() error { return unix.Sethostname([]byte("modelgate-sandbox")) }) ||
			!st.step("network namespace with loopback only", true, loopbackUp) ||
			!st.step("read-only root with private /tmp", true, func() error {
				if err := openBindPaths(cfg); err != nil {
					return err
				}
				return buildRoot(cfg)
			}) ||
			!st.step("network isolation check", true, onlyLoopback) {
			return ExitSetupFailed
		}
	} else {
		unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
		if err := unix.Chdir(cfg.Dir); err != nil {
			return fail("working folder", err)
		}
	}

	// Resolve the command inside the sandbox, with the sandbox's PATH.
	path, code, err := lookCommand(cfg.Argv[0], cfg.Env)
	if err != nil {
		fmt.Fprintf(os.Stderr, "modelgate sandbox: %v\n", err)
		status.send(statusMsg{Type: msgExit, Code: code})
		return code
	}

	child, ok := startCommand(st, path)
	if !ok {
		return ExitSetupFailed
	}
	if child == nil {
		return ExitCannotExec
	}
	if !cfg.Namespaces {
		status.send(statusMsg{Type: msgStarted, PID: child.Pid})
	}
	code, sig := reap(child.Pid)
	if !cfg.Namespaces {
		killOrphans(child.Pid)
	}
	status.send(statusMsg{Type: msgExit, Code: code, Signal: int(sig)})
	return code
}

// lookCommand finds name in the sandbox's PATH, like a shell would.
func lookCommand(name string, env []string) (string, int, error) {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			os.Setenv("PATH", v)
		}
	}
	p, err := exec.LookPath(name)
	if err == nil {
		return p, 0, nil
	}
	if errors.Is(err, os.ErrPermission) {
		return "", ExitCannotExec, fmt.Errorf("%s: permission denied", name)
	}
	return "", ExitNotFound, fmt.Errorf("%s: command not found in the sandbox", name)
}

// reap waits for the command, reaping any orphan handed to init (PID 1)
// along the way, and returns the command's exit code and signal.
func reap(pid int) (int, syscall.Signal) {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return ExitSetupFailed, 0
		}
		if got != pid {
			continue
		}
		switch {
		case ws.Exited():
			return ws.ExitStatus(), 0
		case ws.Signaled():
			return 128 + int(ws.Signal()), syscall.Signal(ws.Signal())
		}
	}
}

// killOrphans kills what the command left behind when there is no PID
// namespace to do it: its process group, then every process handed to us
// as subreaper, until none is left.
func killOrphans(pgid int) {
	unix.Kill(-pgid, unix.SIGKILL)
	self := os.Getpid()
	for range 100 {
		found := false
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
			if err != nil {
				continue
			}
			// pid (comm) state ppid …; comm may hold spaces and parentheses.
			s := string(b)
			i := strings.LastIndexByte(s, ')')
			pid, err1 := strconv.Atoi(e.Name())
			if i < 0 || err1 != nil {
				continue
			}
			f := strings.Fields(s[i+1:])
			if len(f) < 2 {
				continue
			}
			ppid, _ := strconv.Atoi(f[1])
			if ppid == self {
				unix.Kill(pid, unix.SIGKILL)
				found = true
			}
		}
		for {
			var ws unix.WaitStatus
			if p, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil); p <= 0 || err != nil {
				break
			}
		}
		if !found {
			return
		}
	}
}
