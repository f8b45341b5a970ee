package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// overflowID is the host user and group the sandbox runs as when modelgate
// runs as root: nobody, who owns nothing, so host files are reached only
// through their "other" permissions.
const overflowID = 65534

// Run runs cfg.Command in a new sandbox and waits for it. It returns an
// error only when the command could not be run at all; the command's own
// failure is in the Result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if len(cfg.Command) == 0 || cfg.Command[0] == "" {
		return nil, errors.New("sandbox: no command")
	}
	env, err := buildEnv(cfg.Env)
	if err != nil {
		return nil, err
	}
	lim := cfg.Limits.withDefaults()
	uid, gid, ownUser := hostIDs()
	binds, bindFiles, err := openBinds(cfg, ownUser)
	defer func() { closeAll(bindFiles) }()
	if err != nil {
		return nil, err
	}
	dir := cfg.Dir
	if dir == "" {
		dir = "/tmp"
		if cfg.ModelDir != "" {
			dir = binds[0].Path
		}
	}
	ic := initConfig{
		Argv: cfg.Command, Env: env, Dir: dir, Bind: binds, Namespaces: true,
		NoExec: cfg.NoExec, AllowWeaker: cfg.AllowWeaker, Limits: lim,
		ExtraFiles: len(cfg.ExtraFiles),
	}

	// Pdeathsig fires when the thread that started the child exits:
	// keep this goroutine on one thread until init has been reaped.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	ic.OwnUser = ownUser
	attr := &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID |
			syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}},
		Pdeathsig:   syscall.SIGKILL,
	}
	if ownUser {
		// Drop the caller's supplementary groups (root's group 0 would
		// open group-readable files); only root may allow setgroups.
		attr.GidMappingsEnableSetgroups = true
		attr.Credential = &syscall.Credential{Uid: 0, Gid: 0, Groups: []uint32{}}
	}
	run, err := startInit(cfg, attr, bindFiles)
	if err != nil && isNamespaceRefusal(err) {
		if !cfg.AllowWeaker {
			return nil, fmt.Errorf("%w: cannot create user, mount, PID and network namespaces (%v); refusing to run without them (--allow-weaker overrides)", ErrUnavailable, err)
		}
		// Weaker: run init in the caller's namespaces, as nobody if we
		// can switch users, with seccomp, Landlock and rlimits only.
		ic.Namespaces = false
		attr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
		ic.OwnUser = false
		if hasCap(unix.CAP_SETUID) && hasCap(unix.CAP_SETGID) {
			attr.Credential = &syscall.Credential{Uid: overflowID, Gid: overflowID, Groups: []uint32{}}
			ic.OwnUser = true
		}
		run, err = startInit(cfg, attr, bindFiles)
	}
	if err != nil {
		return nil, &SetupError{Step: "starting the sandbox", Err: err}
	}
	closeAll(bindFiles)
	bindFiles = nil
	return run.finish(ctx, ic, lim.Wall)
}

// hostIDs picks the host user the sandbox maps to its root: nobody when we
// can (we are root), else the caller, which is all an unprivileged user
// namespace may map.
func hostIDs() (uid, gid int, own bool) {
	if os.Geteuid() == 0 && hasCap(unix.CAP_SETUID) && hasCap(unix.CAP_SETGID) {
		return overflowID, overflowID, true
	}
	return os.Geteuid(), os.Getegid(), false
}

func hasCap(c int) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[c/32].Effective&(1<<(uint(c)%32)) != 0
}

// isNamespaceRefusal reports whether starting init failed because the
// kernel (or a seccomp filter around us) refused the namespaces.
func isNamespaceRefusal(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) ||
		errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EUSERS) ||
		errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.ENOSYS)
}

// openBinds prepares the model folder and the extra paths (the model
// folder, if any, first). With detach (modelgate runs as root) each is
// cloned as a detached mount tree, already read-only where it should be,
// and passed to init as a descriptor; otherwise init opens the paths.
func openBinds(cfg Config, detach bool) ([]bindSpec, []*os.File, error) {
	type want struct {
		path     string
		writable bool
	}
	var wants []want
	if cfg.ModelDir != "" {
		wants = append(wants, want{cfg.ModelDir, cfg.ModelWritable})
	}
	for _, p := range cfg.ReadOnly {
		wants = append(wants, want{p, false})
	}
	for _, p := range cfg.Writable {
		wants = append(wants, want{p, true})
	}
	var specs []bindSpec
	var files []*os.File
	for _, w := range wants {
		abs, err := filepath.Abs(w.path)
		if err == nil {
			abs, err = filepath.EvalSymlinks(abs)
		}
		if err != nil {
			return nil, files, fmt.Errorf("sandbox: %w", err)
		}
		if err := checkBindTarget(abs); err != nil {
			return nil, files, err
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, files, fmt.Errorf("sandbox: %w", err)
		}
		if !fi.IsDir() && !fi.Mode().IsRegular() {
			return nil, files, fmt.Errorf("sandbox: %s is neither a file nor a folder", abs)
		}
		spec := bindSpec{Path: abs, FD: -1, Writable: w.writable, File: !fi.IsDir()}
		if detach {
			attr := uint64(attrRO)
			if w.writable {
				attr = attrRW
			}
			fd, err := unix.OpenTree(unix.AT_FDCWD, abs, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
			if err != nil {
				return nil, files, fmt.Errorf("sandbox: %s: open_tree: %w", abs, err)
			}
			files = append(files, os.NewFile(uintptr(fd), abs))
			if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: attr}); err != nil {
				return nil, files, fmt.Errorf("sandbox: %s: mount_setattr: %w", abs, err)
			}
			spec.FD = fdFirstBind + len(files) - 1
		}
		specs = append(specs, spec)
	}
	return specs, files, nil
}

// checkBindTarget refuses paths that would hide the sandbox's own /, /proc
// or /dev.
func checkBindTarget(abs string) error {
	if abs == "/" {
		return errors.New("sandbox: cannot make / visible as a whole")
	}
	for _, p := range []string{"/proc", "/dev"} {
		if abs == p || strings.HasPrefix(abs, p+"/") {
			return fmt.Errorf("sandbox: cannot bind %s: %s is the sandbox's own", abs, p)
		}
	}
	return nil
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// initRun is a started init.
type initRun struct {
	cmd     *exec.Cmd
	cfgW    *os.File
	statusR *os.File
	nsMode  bool
}

func startInit(cfg Config, attr *syscall.SysProcAttr, bindFiles []*os.File) (*initRun, error) {
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		cfgR.Close()
		cfgW.Close()
		return nil, err
	}
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        []string{"modelgate-sandbox", InitArg},
		Env:         []string{},
		Stdin:       cfg.Stdin,
		Stdout:      cfg.Stdout,
		Stderr:      cfg.Stderr,
		SysProcAttr: attr,
		WaitDelay:   2 * time.Second,
	}
	cmd.ExtraFiles = append([]*os.File{cfgR, statusW}, bindFiles...)
	cmd.ExtraFiles = append(cmd.ExtraFiles, cfg.ExtraFiles...)
	err = cmd.Start()
	cfgR.Close()
	statusW.Close()
	if err != nil {
		cfgW.Close()
		statusR.Close()
		return nil, err
	}
	return &initRun{cmd: cmd, cfgW: cfgW, statusR: statusR, nsMode: attr.Cloneflags != 0}, nil
}

// finish sends init its configuration, collects its status and waits for
// it within the wall-clock limit.
func (r *initRun) finish(ctx context.Context, ic initConfig, wall time.Duration) (*Result, error) {
	msgs := make(chan []statusMsg, 1)
	go func() {
		var all []statusMsg
		sc := bufio.NewScanner(r.statusR)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var m statusMsg
			if json.Unmarshal(sc.Bytes(), &m) == nil && len(all) < 100000 {
				all = append(all, m)
			}
		}
		r.statusR.Close()
		msgs <- all
	}()
	b, _ := json.Marshal(ic)
	_, werr := r.cfgW.Write(b)
	r.cfgW.Close()

	waitErr := make(chan error, 1)
	go func() { waitErr <- r.cmd.Wait() }()
	timer := time.NewTimer(wall)
	defer timer.Stop()
	timedOut, cancelled := false, false
	var err error
	select {
	case err = <-waitErr:
	case <-timer.C:
		timedOut = true
	case <-ctx.Done():
		cancelled = true
	}
	var all []statusMsg
	if timedOut || cancelled {
		// Killing init (PID 1 of the sandbox) kills every process in it.
		r.cmd.Process.Kill()
		err = <-waitErr
		all = <-msgs
		if !r.nsMode {
			killStarted(all)
		}
	} else {
		all = <-msgs
	}
	res := &Result{}
	var exitMsg, errMsg *statusMsg
	for i := range all {
		m := &all[i]
		switch m.Type {
		case msgApplied:
			res.Applied = append(res.Applied, m.What)
		case msgWeaker:
			res.Weaker = append(res.Weaker, m.What)
		case msgNote:
			res.Notes = append(res.Notes, m.What)
		case msgExec:
			if m.Exec != nil {
				res.Execs = append(res.Execs, *m.Exec)
			}
		case msgExit:
			exitMsg = m
		case msgError:
			errMsg = m
		}
	}
	if !ic.Namespaces {
		res.Weaker = append([]string{"no user, mount, PID, network, IPC or UTS namespaces: the command sees the host's network, processes and filesystem (limited by Landlock only)"}, res.Weaker...)
	}
	switch {
	case cancelled:
		return res, ctx.Err()
	case timedOut:
		res.TimedOut = true
		res.ExitCode = ExitTimeout
		return res, nil
	case errMsg != nil:
		serr := &SetupError{Step: errMsg.Step, Err: errors.New(errMsg.Error)}
		if errMsg.Required {
			return res, fmt.Errorf("%w: %w (--allow-weaker overrides)", ErrUnavailable, serr)
		}
		return res, serr
	case exitMsg != nil:
		res.ExitCode = exitMsg.Code
		res.Signal = syscall.Signal(exitMsg.Signal)
		return res, nil
	case werr != nil:
		return res, &SetupError{Step: "sending the configuration", Err: werr}
	case slices.Contains(res.Applied, "rlimits"):
		// The command had started when init died without a word (killed
		// by the OOM killer, say): report it as the command's end, so
		// callers fail closed rather than error out.
		res.Notes = append(res.Notes, fmt.Sprintf("the sandbox's init ended unexpectedly: %v", err))
		res.ExitCode, res.Signal = ExitSetupFailed, 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				res.Signal = ws.Signal()
				res.ExitCode = 128 + int(ws.Signal())
			}
		}
		return res, nil
	default:
		return res, &SetupError{Step: "running", Err: fmt.Errorf("sandbox init ended without a status: %v", err)}
	}
}

// killStarted kills the process group of a command started without a PID
// namespace, whose processes would otherwise outlive init.
func killStarted(all []statusMsg) {
	for _, m := range all {
		if m.Type == msgStarted && m.PID > 0 {
			unix.Kill(-m.PID, unix.SIGKILL)
		}
	}
}
