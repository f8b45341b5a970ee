package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"time"

	"modelgate/internal/report"
	"modelgate/internal/sandbox"
)

// limitFlags are the sandbox limits shared by sandbox and detonate.
type limitFlags struct {
	wall, cpu             time.Duration
	memory, fileSize, tmp sizeFlag
	openFiles, processes  uint64
	allowWeaker           bool
}

func (l *limitFlags) register(fs *flag.FlagSet, d sandbox.Limits) {
	l.memory, l.fileSize, l.tmp = sizeFlag(d.Memory), sizeFlag(d.FileSize), sizeFlag(d.TmpSize)
	fs.DurationVar(&l.wall, "timeout", d.Wall, "wall-clock limit for the whole run")
	fs.DurationVar(&l.cpu, "cpu", d.CPU, "CPU time per process")
	fs.Var(&l.memory, "memory", "address space per process (e.g. 512M, 4G)")
	fs.Var(&l.fileSize, "max-file-size", "largest file a process may write")
	fs.Var(&l.tmp, "tmp-size", "size of the private /tmp")
	fs.Uint64Var(&l.openFiles, "max-open-files", d.OpenFiles, "open files per process")
	fs.Uint64Var(&l.processes, "max-procs", d.Processes, "processes and threads (applied when modelgate runs as root)")
	fs.BoolVar(&l.allowWeaker, "allow-weaker", false, "run even if a required protection (namespaces, the read-only root, execve supervision) is unavailable; reported loudly")
}

func (l *limitFlags) limits() sandbox.Limits {
	return sandbox.Limits{
		Wall: l.wall, CPU: l.cpu, Memory: int64(l.memory), FileSize: int64(l.fileSize),
		TmpSize: int64(l.tmp), OpenFiles: l.openFiles, Processes: l.processes,
	}
}

// sizeFlag is a byte count written as 1048576, 512K, 64M, 4G or 4GiB.
type sizeFlag int64

func (s *sizeFlag) String() string {
	n := int64(*s)
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}

// parseSize parses a byte count with an optional K, M, G or T suffix (KiB,
// KB and the like too), for the size flags of sandbox and serve.
func parseSize(v string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(v))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q (want a number of bytes, or one with K, M, G or T)", v)
	}
	return n * mult, nil
}

func runSandbox(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("sandbox", "[flags] -- COMMAND [ARGS]", env)
	var (
		lf            limitFlags
		ro, rw, envs  stringList
		model, cwd    string
		modelWritable bool
		noExec        bool
		verbose       bool
		quiet         bool
	)
	lf.register(fs, sandbox.DefaultLimits())
	fs.StringVar(&model, "model", "", "model folder to make visible (read-only) at its own path; the working folder")
	fs.BoolVar(&modelWritable, "model-writable", false, "make the model folder writable (loaders that write caches or locks beside the model)")
	fs.Var(&ro, "ro", "another file or folder to make visible read-only; repeatable")
	fs.Var(&rw, "rw", "a folder to make visible and writable (e.g. for converted output); repeatable")
	fs.Var(&envs, "env", "pass NAME from the environment, or set NAME=VALUE; repeatable (nothing else gets in)")
	fs.StringVar(&cwd, "cwd", "", "working folder inside (default: the model folder, else /tmp)")
	fs.BoolVar(&noExec, "no-exec", false, "refuse execve once the command has started")
	fs.BoolVar(&verbose, "verbose", false, "print the protections in force and every execve")
	fs.BoolVar(&verbose, "v", false, "shorthand for --verbose")
	fs.BoolVar(&quiet, "quiet", false, "print nothing of modelgate's own but errors and warnings")
	fs.BoolVar(&quiet, "q", false, "shorthand for --quiet")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	command := fs.Args()
	if len(command) == 0 {
		fmt.Fprintln(env.Stderr, "modelgate sandbox: no command given")
		fs.Usage()
		return ExitError
	}
	var extra []string
	for _, e := range envs {
		if strings.Contains(e, "=") {
			extra = append(extra, e)
		} else if v := env.Getenv(e); v != "" {
			extra = append(extra, e+"="+v)
		} else if !quiet {
			fmt.Fprintf(env.Stderr, "modelgate sandbox: --env %s: not set, not passed\n", e)
		}
	}
	res, err := sandbox.Run(ctx, sandbox.Config{
		Command: command, Env: extra, ModelDir: model, ModelWritable: modelWritable,
		ReadOnly: ro, Writable: rw, Dir: cwd, NoExec: noExec, Limits: lf.limits(),
		AllowWeaker: lf.allowWeaker, Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stderr,
	})
	if res != nil {
		reportSandbox(env.Stderr, "sandbox", res, verbose, quiet, true)
	}
	if err != nil {
		fmt.Fprintln(env.Stderr, "modelgate sandbox:", err)
		if errors.Is(err, context.Canceled) {
			return 130
		}
		return sandbox.ExitSetupFailed
	}
	if !quiet {
		switch {
		case res.TimedOut:
			fmt.Fprintf(env.Stderr, "modelgate sandbox: killed at the wall-clock limit (%v)\n", lf.wall)
		case res.Signal == syscall.SIGXCPU:
			fmt.Fprintf(env.Stderr, "modelgate sandbox: killed at the CPU time limit (%v)\n", lf.cpu)
		case res.Signal == syscall.SIGXFSZ:
			fmt.Fprintf(env.Stderr, "modelgate sandbox: killed at the file size limit (%d bytes)\n", lf.fileSize)
		}
	}
	return res.ExitCode
}

// reportSandbox prints, on stderr, what the sandbox could not apply (always,
// loudly), refused execs (if refused), and with verbose everything it did.
func reportSandbox(w io.Writer, cmd string, res *sandbox.Result, verbose, quiet, refused bool) {
	for _, x := range res.Weaker {
		fmt.Fprintf(w, "modelgate %s: WARNING: WEAKER ISOLATION (--allow-weaker): %s\n", cmd, report.Sanitize(x))
	}
	if !quiet {
		for _, x := range res.Notes {
			fmt.Fprintf(w, "modelgate %s: note: %s\n", cmd, report.Sanitize(x))
		}
	}
	if verbose {
		fmt.Fprintf(w, "modelgate %s: in force: %s\n", cmd, strings.Join(res.Applied, ", "))
	}
	for _, x := range res.Execs {
		if !x.Allowed && refused && !quiet || verbose {
			fmt.Fprintf(w, "modelgate %s: %s\n", cmd, report.Sanitize(x.String()))
		}
	}
}

// runSandboxInit is the hidden command the sandbox re-executes itself as.
func runSandboxInit(context.Context, []string, Env) int {
	sandbox.InitMain()
	return ExitError // not reached
}
