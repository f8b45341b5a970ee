// Package sandbox runs a command isolated with Linux facilities, all from
// Go: new user, mount, PID, IPC, UTS and network namespaces (only a
// loopback interface inside), a read-only minimal root with a private
// tmpfs, an empty environment plus an allowlist, no new privileges,
// Landlock where the kernel has it, a seccomp filter, rlimits and a
// wall-clock timeout.
//
// The parent (Run) re-executes its own binary (/proc/self/exe) with the
// hidden argument InitArg inside the new namespaces; that process ("init",
// PID 1 of the sandbox) builds the root, applies the restrictions, starts
// the command and supervises its execve calls through a seccomp user
// notification. Programs that use this package must call InitMain from
// main (or TestMain) when IsInit reports true.
//
// The sandbox protects the host from what a model's code can do through
// ordinary system calls: reach the network or the cloud metadata service,
// read secrets from the environment or the filesystem, write outside its
// scratch space, or start other programs (with NoExec). It does not protect
// against kernel exploits: for that, run it in a VM or gVisor.
package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"
)

// InitArg is the hidden first argument that makes a re-executed modelgate
// binary act as the sandbox's init.
const InitArg = "__sandbox-init"

// Exit codes Run's Result reports when the command did not exit by itself;
// they follow timeout(1) and the shell.
const (
	ExitTimeout     = 124 // killed at the wall-clock limit
	ExitSetupFailed = 125 // the sandbox could not be set up
	ExitCannotExec  = 126 // the command exists but could not be executed
	ExitNotFound    = 127 // the command was not found in the sandbox
)

// Config describes one sandboxed run.
type Config struct {
	// Command is the program and its arguments; a bare name is looked up
	// in the sandbox's PATH, inside the sandbox's root.
	Command []string
	// Env is NAME=VALUE pairs added to the base environment (see
	// BaseEnv). Nothing else from the caller's environment gets in.
	Env []string
	// ModelDir, if set, is made visible at the same path, read-only
	// unless ModelWritable.
	ModelDir      string
	ModelWritable bool
	// ReadOnly and Writable are further files or folders made visible at
	// their own paths.
	ReadOnly []string
	Writable []string
	// Dir is the working directory inside; default ModelDir, else /tmp.
	Dir string
	// NoExec forbids execve after the command has started.
	NoExec bool
	// Limits bound the command's resources; zero fields take defaults.
	Limits Limits
	// AllowWeaker runs the command even when a required protection is
	// unavailable; Result.Weaker then says what is missing.
	AllowWeaker bool

	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// ExtraFiles become file descriptors 3, 4, … of the command.
	ExtraFiles []*os.File
}

// Limits bound what the command may use. rlimits apply per process: a
// command that forks gets the same limits in each child.
type Limits struct {
	Memory    int64         // address space per process (RLIMIT_AS), bytes
	CPU       time.Duration // CPU time per process (RLIMIT_CPU)
	FileSize  int64         // largest file it may write (RLIMIT_FSIZE), bytes
	OpenFiles uint64        // open file descriptors (RLIMIT_NOFILE)
	// Processes caps processes and threads (RLIMIT_NPROC). It is only
	// applied when the sandbox runs as a user of its own (modelgate
	// started as root); otherwise it would count the caller's processes.
	Processes uint64
	Wall      time.Duration // wall-clock time for the whole run
	TmpSize   int64         // size of the private /tmp (and of /dev/shm / 8)
}

// DefaultLimits returns the limits used when Config.Limits leaves a field zero.
func DefaultLimits() Limits {
	return Limits{
		Memory:    4 << 30,
		CPU:       5 * time.Minute,
		FileSize:  1 << 30,
		OpenFiles: 1024,
		Processes: 512,
		Wall:      5 * time.Minute,
		TmpSize:   512 << 20,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.Memory > 0 {
		d.Memory = l.Memory
	}
	if l.CPU > 0 {
		d.CPU = l.CPU
	}
	if l.FileSize > 0 {
		d.FileSize = l.FileSize
	}
	if l.OpenFiles > 0 {
		d.OpenFiles = l.OpenFiles
	}
	if l.Processes > 0 {
		d.Processes = l.Processes
	}
	if l.Wall > 0 {
		d.Wall = l.Wall
	}
	if l.TmpSize > 0 {
		d.TmpSize = l.TmpSize
	}
	return d
}

// BaseEnv is the whole environment a command gets besides Config.Env:
// offline switches for the Hugging Face libraries and what a program
// needs to start. HF_HUB_OFFLINE cannot be overridden.
func BaseEnv() []string {
	return []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/tmp",
		"TMPDIR=/tmp",
		"LANG=C.UTF-8",
		"HF_HUB_OFFLINE=1",
		"HF_DATASETS_OFFLINE=1",
		"TRANSFORMERS_OFFLINE=1",
		"PYTHONDONTWRITEBYTECODE=1",
		"PYTHONNOUSERSITE=1",
	}
}

// buildEnv merges extra NAME=VALUE pairs over the base environment.
func buildEnv(extra []string) ([]string, error) {
	env := BaseEnv()
	index := map[string]int{}
	for i, kv := range env {
		index[kv[:strings.IndexByte(kv, '=')]] = i
	}
	for _, kv := range extra {
		eq := strings.IndexByte(kv, '=')
		if eq <= 0 || strings.ContainsRune(kv[:eq], 0) || strings.ContainsRune(kv, 0) {
			return nil, fmt.Errorf("sandbox: environment entry %q is not NAME=VALUE", kv)
		}
		name := kv[:eq]
		if name == "HF_HUB_OFFLINE" {
			continue
		}
		if i, ok := index[name]; ok {
			env[i] = kv
			continue
		}
		index[name] = len(env)
		env = append(env, kv)
	}
	return env, nil
}

// Result is how a run ended.
type Result struct {
	// ExitCode is the command's exit status, 128+N if signal N killed it,
	// or one of the Exit* codes above.
	ExitCode int
	// Signal is the signal that killed the command, or 0.
	Signal syscall.Signal
	// TimedOut is set when the wall-clock limit killed the run.
	TimedOut bool
	// Execs lists the execve calls the command made after it started
	// (with NoExec they were refused).
	Execs []Exec
	// Applied lists the protections in force, Weaker the required ones
	// that were unavailable (non-empty only with AllowWeaker), Notes the
	// optional ones that were (Landlock on an old kernel).
	Applied []string
	Weaker  []string
	Notes   []string
}

// Exec is one execve or execveat call seen by the supervisor.
type Exec struct {
	PID     int      `json:"pid"`
	Path    string   `json:"path"`
	Argv    []string `json:"argv,omitempty"`
	Allowed bool     `json:"allowed"`
}

// String renders the call for messages.
func (e Exec) String() string {
	verb := "ran"
	if !e.Allowed {
		verb = "was refused"
	}
	args := strings.Join(e.Argv, " ")
	if args == "" {
		args = e.Path
	}
	return fmt.Sprintf("pid %d %s execve(%q): %s", e.PID, verb, e.Path, args)
}

// Errors Run returns when it could not run the command at all.
var (
	// ErrUnavailable: a required protection is missing and AllowWeaker is
	// not set.
	ErrUnavailable = errors.New("sandbox: a required protection is unavailable")
	// ErrUnsupported: the platform has no sandbox implementation.
	ErrUnsupported = errors.New("sandbox: only supported on Linux")
)

// SetupError is a failure to set up the sandbox, with the step that failed.
type SetupError struct {
	Step string
	Err  error
}

func (e *SetupError) Error() string { return "sandbox: " + e.Step + ": " + e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

// IsInit reports whether args (os.Args) ask this process to be a sandbox's init.
func IsInit(args []string) bool { return len(args) > 1 && args[1] == InitArg }
