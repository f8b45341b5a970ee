// Package cli implements modelgate's command line. Main is the whole
// program: cmd/modelgate only turns its result into the exit status, so
// tests run the CLI in-process.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"golang.org/x/term"

	"modelgate/internal/sandbox"
)

// Exit codes, stable and documented in README.md.
const (
	ExitOK       = 0 // nothing at or above the fail threshold
	ExitFindings = 1 // findings at or above the threshold
	ExitError    = 2 // usage error, or a file could not be read
)

// Env is the process environment the CLI runs in.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// IsTerminal reports whether w is an interactive terminal.
	IsTerminal func(w io.Writer) bool
}

// DefaultEnv is the real process environment.
func DefaultEnv() Env {
	return Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv,
		IsTerminal: func(w io.Writer) bool {
			f, ok := w.(*os.File)
			return ok && term.IsTerminal(int(f.Fd()))
		},
	}
}

type command struct {
	summary string
	run     func(ctx context.Context, args []string, env Env) int
}

// commands lists the subcommands; each lives in its own file.
func commands() map[string]command {
	return map[string]command{
		"scan":    {"scan files, folders, archives and hf:// repositories for code that runs on load", runScan},
		"fakehub": {"serve a folder of repositories with the hub's API on loopback (for demos and tests)", runFakehub},
		"explain": {"show what loading a pickle would do, as pseudo-Python", runExplain},
		"report":  {"re-render a JSON report as text, JSON or SARIF", runReport},
		"policy":  {"show or check the policy (policy show | policy check FILE)", runPolicy},
		"rules":   {"list the rules findings refer to", runRules},
		"serve":   {"run the gate: HTTP API, dashboard and scan workers (see docs/gate.md)", runServe},
		"tenant":  {"manage the gate's tenants and tokens in its store (create, token, revoke, list)", runTenant},
		"watch":   {"follow a hub's new uploads, scan them and raise signed alerts (see docs/gate.md)", runWatch},
		"worker":  {"take scan jobs from the gate's store and queue (scale-out; see docs/gate.md)", runWorker},
		"version": {"print the version", runVersion},
		"convert": {"convert pickle checkpoints to safetensors without running them", runConvert},

		"sandbox":  {"run a command isolated from the network, the host's files and secrets", runSandbox},
		"detonate": {"load a pickle-based model in the sandbox and report what it tries", runDetonate},
		// Hidden (names starting with __ are not listed): the sandbox's init.
		sandbox.InitArg: {"", runSandboxInit},
	}
}

// Main runs the command line and returns the exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.IsTerminal == nil {
		env.IsTerminal = func(io.Writer) bool { return false }
	}
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.Stdout, cmds)
		if len(args) == 0 {
			return ExitError
		}
		return ExitOK
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "modelgate: unknown command %q\n\n", args[0])
		usage(env.Stderr, cmds)
		return ExitError
	}
	return c.run(ctx, args[1:], env)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "modelgate: find code that runs when a model file is loaded, without running it.")
	fmt.Fprintln(w, "\nUsage: modelgate COMMAND [flags] [args]\n\nCommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		if !strings.HasPrefix(n, "__") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'modelgate COMMAND -h' for a command's flags.")
	fmt.Fprintln(w, "Exit codes: 0 nothing at or above the fail threshold, 1 findings at or above it, 2 usage or I/O error.")
}

// parseInterleaved parses flags that may come before or after the
// positional arguments (modelgate scan DIR --format json).
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// newFlagSet returns a FlagSet that reports errors on stderr and doesn't exit.
func newFlagSet(name, synopsis string, env Env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: modelgate %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// flagExit turns a flag parse error into an exit code (-h is not an error).
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	return ExitError
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
