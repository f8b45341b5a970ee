package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// filterSetup is what the starter thread reports before it starts the
// command.
type filterSetup struct {
	landlockErr error
	privErr     error // dropping capabilities, no_new_privs
	notifyErr   error // the filter with exec supervision
	filterErr   error // the filter without it (tried only if notifyErr)
	listener    int   // user-notification descriptor, or -1
}

// startCommand starts the command from a locked OS thread that has no
// capabilities, no_new_privs and the seccomp filter: the child inherits
// that thread's state, while init's other threads keep what they need to
// supervise. The filter sends execve to init's supervisor, which lets the
// command's own start through (applying the rlimits first) and, with
// NoExec, refuses every later one.
//
// It returns the started process; (nil, true) if the command could not be
// executed (already reported), (nil, false) if a required protection failed.
func startCommand(st *initState, path string) (*os.Process, bool) {
	cfg := &st.cfg
	setupCh := make(chan filterSetup, 1)
	goCh := make(chan bool)
	startedCh := make(chan startResult, 1)
	go func() {
		// Never unlocked: this thread carries the filter and must live as
		// long as the child, whose parent-death signal it triggers.
		runtime.LockOSThread()
		var fs filterSetup
		fs.listener = -1
		fs.privErr = unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
		if fs.privErr == nil {
			_, fs.landlockErr = applyLandlock(cfg)
			fs.privErr = dropCapabilities()
		}
		if fs.privErr != nil {
			// seccomp without CAP_SYS_ADMIN needs no_new_privs.
			fs.notifyErr = fmt.Errorf("not installed: %w", fs.privErr)
			fs.filterErr = fs.notifyErr
		} else {
			prog, err := buildFilter(execNotify)
			if err == nil {
				fs.listener, err = installFilter(prog, true)
			}
			if fs.notifyErr = err; err != nil {
				if prog, err = buildFilter(execAllow); err == nil {
					_, err = installFilter(prog, false)
				}
				fs.filterErr = err
			}
		}
		setupCh <- fs
		if !<-goCh {
			return
		}
		startedCh <- startProcess(cfg, path)
		select {}
	}()
	fs := <-setupCh
	ok := st.step("no new privileges, no capabilities", true, func() error { return fs.privErr })
	ok = ok && st.step("landlock", false, func() error { return fs.landlockErr })
	ok = ok && st.step("seccomp filter", true, func() error {
		if fs.notifyErr != nil && fs.filterErr != nil {
			return fs.filterErr
		}
		return nil
	})
	supervised := fs.listener >= 0
	ok = ok && st.step("execve supervision", cfg.NoExec, func() error {
		if !supervised {
			return fmt.Errorf("seccomp user notification unavailable (%v)", fs.notifyErr)
		}
		return nil
	})
	if !supervised {
		ok = ok && st.step("rlimits", true, func() error { return setOwnLimits(cfg) })
	}
	if !ok {
		goCh <- false
		return nil, false
	}
	if supervised {
		limitsErr := make(chan error, 1)
		go supervise(fs.listener, st, func(pid int) error {
			err := setLimits(pid, cfg, true)
			limitsErr <- err
			return err
		})
		goCh <- true
		res := <-startedCh
		select {
		case err := <-limitsErr:
			if !st.step("rlimits", true, func() error { return err }) {
				if res.proc != nil {
					res.proc.Kill()
				}
				return nil, false
			}
		default:
		}
		if res.err != nil {
			fmt.Fprintf(os.Stderr, "modelgate sandbox: cannot execute %s: %v\n", path, res.err)
			st.status.send(statusMsg{Type: msgExit, Code: ExitCannotExec})
			return nil, true
		}
		return res.proc, true
	}
	goCh <- true
	res := <-startedCh
	if res.err != nil {
		fmt.Fprintf(os.Stderr, "modelgate sandbox: cannot execute %s: %v\n", path, res.err)
		st.status.send(statusMsg{Type: msgExit, Code: ExitCannotExec})
		return nil, true
	}
	// Without supervision the address-space limit cannot be set before
	// the exec (it would bind init too); it follows right after.
	if err := setLimits(res.proc.Pid, cfg, false); err != nil {
		res.proc.Kill()
		st.status.send(statusMsg{Type: msgError, Step: "rlimits", Error: err.Error(), Required: true})
		return nil, false
	}
	return res.proc, true
}

type startResult struct {
	proc *os.Process
	err  error
}

func startProcess(cfg *initConfig, path string) startResult {
	files := []*os.File{os.Stdin, os.Stdout, os.Stderr}
	first := cfg.firstExtraFD()
	for i := range cfg.ExtraFiles {
		files = append(files, os.NewFile(uintptr(first+i), "extra"))
	}
	p, err := os.StartProcess(path, cfg.Argv, &os.ProcAttr{
		Env:   cfg.Env,
		Files: files,
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: !cfg.Namespaces},
	})
	return startResult{p, err}
}

// dropCapabilities drops every capability of the calling thread from its
// bounding, ambient, inheritable, permitted and effective sets, so that the
// command (root in its user namespace) gains none when it executes.
func dropCapabilities() error {
	last := 63
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	for c := 0; c <= last; c++ {
		// EPERM without CAP_SETPCAP (weaker mode as nobody, who has no
		// capabilities to lose anyway).
		unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
	}
	unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}

// rlimits lists the limits cfg asks for.
func rlimits(cfg *initConfig) map[int]unix.Rlimit {
	l := cfg.Limits
	cpu := uint64(max(l.CPU/time.Second, 1))
	m := map[int]unix.Rlimit{
		unix.RLIMIT_AS:     {Cur: uint64(l.Memory), Max: uint64(l.Memory)},
		unix.RLIMIT_CPU:    {Cur: cpu, Max: cpu + 1}, // SIGXCPU, then SIGKILL a second later
		unix.RLIMIT_FSIZE:  {Cur: uint64(l.FileSize), Max: uint64(l.FileSize)},
		unix.RLIMIT_NOFILE: {Cur: l.OpenFiles, Max: l.OpenFiles},
		unix.RLIMIT_CORE:   {Cur: 0, Max: 0},
	}
	if cfg.OwnUser {
		m[unix.RLIMIT_NPROC] = unix.Rlimit{Cur: l.Processes, Max: l.Processes}
	}
	return m
}

// setLimits applies the rlimits to pid; without all, only the one init
// could not take on itself (the address space).
func setLimits(pid int, cfg *initConfig, all bool) error {
	for res, lim := range rlimits(cfg) {
		if !all && res != unix.RLIMIT_AS {
			continue
		}
		if err := unix.Prlimit(pid, res, &lim, nil); err != nil {
			return fmt.Errorf("prlimit %d: %w", res, err)
		}
	}
	return nil
}

// setOwnLimits applies the rlimits but the address space to init itself,
// for the command to inherit (weaker mode without supervision).
func setOwnLimits(cfg *initConfig) error {
	for res, lim := range rlimits(cfg) {
		if res == unix.RLIMIT_AS {
			continue
		}
		// syscall.Setrlimit, not unix: it also stops the Go runtime from
		// restoring its original RLIMIT_NOFILE in the child.
		if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: lim.Cur, Max: lim.Max}); err != nil {
			return fmt.Errorf("setrlimit %d: %w", res, err)
		}
	}
	return nil
}

// supervise answers the filter's execve notifications: the first is the
// command's own start (first applies the rlimits before it proceeds);
// later ones are reported, and refused with NoExec.
func supervise(fd int, st *initState, first func(pid int) error) {
	var n seccompNotif
	initial := true
	for {
		if err := notifRecv(fd, &n); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return
		}
		if initial {
			initial = false
			var errno unix.Errno
			if first(int(n.PID)) != nil {
				errno = unix.EPERM // no limits, no start
			}
			notifSend(fd, n.ID, errno)
			continue
		}
		e := readExec(&n)
		if !notifValid(fd, n.ID) {
			continue // the caller is gone; what we read may be stale
		}
		e.Allowed = !st.cfg.NoExec
		var errno unix.Errno
		if !e.Allowed {
			errno = unix.EPERM
		}
		// Report before answering: once answered, the command can run
		// and exit, and init can finish, before a later report is sent.
		st.status.send(statusMsg{Type: msgExec, Exec: &e})
		notifSend(fd, n.ID, errno)
	}
}

// readExec reads the path and arguments of an execve or execveat call
// from the caller's memory, for the report. Failing that it reports what
// it could.
func readExec(n *seccompNotif) Exec {
	e := Exec{PID: int(n.PID)}
	mem, err := os.Open("/proc/" + strconv.Itoa(int(n.PID)) + "/mem")
	if err != nil {
		e.Path = "?"
		return e
	}
	defer mem.Close()
	pathArg, argvArg := n.Data.Args[0], n.Data.Args[1]
	if n.Data.Nr == unix.SYS_EXECVEAT {
		pathArg, argvArg = n.Data.Args[1], n.Data.Args[2]
	}
	e.Path = readCString(mem, pathArg, 4096)
	if n.Data.Nr == unix.SYS_EXECVEAT && e.Path == "" {
		e.Path = fmt.Sprintf("fd %d", int32(n.Data.Args[0]))
	}
	for i := range uint64(32) {
		var ptr [8]byte
		if _, err := mem.ReadAt(ptr[:], int64(argvArg+8*i)); err != nil {
			break
		}
		p := uint64(ptr[0]) | uint64(ptr[1])<<8 | uint64(ptr[2])<<16 | uint64(ptr[3])<<24 |
			uint64(ptr[4])<<32 | uint64(ptr[5])<<40 | uint64(ptr[6])<<48 | uint64(ptr[7])<<56
		if p == 0 {
			break
		}
		e.Argv = append(e.Argv, readCString(mem, p, 512))
	}
	return e
}

// readCString reads a NUL-terminated string of at most limit bytes,
// stopping at the first unreadable page.
func readCString(mem *os.File, addr uint64, limit int) string {
	var out []byte
	for len(out) < limit {
		chunk := 4096 - int(addr%4096)
		buf := make([]byte, min(chunk, limit-len(out)))
		k, _ := mem.ReadAt(buf, int64(addr))
		if k <= 0 {
			break
		}
		if i := bytes.IndexByte(buf[:k], 0); i >= 0 {
			return string(append(out, buf[:i]...))
		}
		out = append(out, buf[:k]...)
		addr += uint64(k)
	}
	return string(out)
}
