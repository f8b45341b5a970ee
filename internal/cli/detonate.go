package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"modelgate/internal/detonate"
	"modelgate/internal/finding"
	"modelgate/internal/policy"
	"modelgate/internal/report"
	"modelgate/internal/scan"
)

func runDetonate(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("detonate", "[flags] FILE", env)
	var (
		o          outputFlags
		lf         limitFlags
		policies   stringList
		loaderName string
		python     string
		noExec     bool
		showOutput bool
	)
	o.register(fs)
	lf.register(fs, detonate.DefaultLimits())
	fs.Var(&policies, "policy", "policy file (TOML or YAML) to add to the default; repeatable")
	fs.StringVar(&loaderName, "loader", "auto", "auto (from the detected format), pickle, torch, joblib or numpy")
	fs.StringVar(&python, "python", detonate.DefaultPython, "the Python interpreter that loads the model")
	fs.BoolVar(&noExec, "no-exec", false, "refuse execve once Python has started (payloads cannot start commands)")
	fs.BoolVar(&showOutput, "show-output", false, "print what the load wrote to its stdout and stderr (on stderr)")
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if err := o.validate(); err != nil {
		fmt.Fprintln(env.Stderr, "modelgate detonate:", err)
		return ExitError
	}
	if len(paths) != 1 {
		fmt.Fprintln(env.Stderr, "modelgate detonate: give exactly one file")
		fs.Usage()
		return ExitError
	}
	path := paths[0]
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		fmt.Fprintf(env.Stderr, "modelgate detonate: %s: not a readable file\n", path)
		return ExitError
	}
	pol, err := policy.Load(policies...)
	if err != nil {
		fmt.Fprintln(env.Stderr, "modelgate detonate:", err)
		return ExitError
	}
	// The static scan first: it decides the loader, and its findings are
	// reported beside what the load does.
	sources := []scan.Source{scan.Paths(paths)}
	rep, err := runScanner(ctx, scan.New(scan.Options{Policy: pol, Jobs: 1}), sources, paths)
	if err != nil || len(rep.Files) != 1 {
		fmt.Fprintln(env.Stderr, "modelgate detonate: scanning:", err)
		return ExitError
	}
	file := rep.Files[0]
	loader, err := chooseLoader(loaderName, file)
	if err != nil {
		fmt.Fprintln(env.Stderr, "modelgate detonate:", err)
		return ExitError
	}
	if _, err := detonate.FindPython(python); err != nil {
		fmt.Fprintln(env.Stderr, "modelgate detonate:", err)
		return ExitError
	}
	out, err := detonate.Run(ctx, path, detonate.Options{
		Loader: loader, Python: python, NoExec: noExec, AllowWeaker: lf.allowWeaker, Limits: lf.limits(),
	})
	if err != nil {
		fmt.Fprintln(env.Stderr, "modelgate detonate:", err)
		return ExitError
	}
	reportSandbox(env.Stderr, "detonate", out.Sandbox, o.verbose, o.quiet, false)
	if showOutput {
		printOutput(env, "stdout", out.Stdout)
		printOutput(env, "stderr", out.Stderr)
	}
	dynamic := detonate.Findings(file.Path, out, pol, finding.Default())
	notRun := false
	for _, f := range dynamic {
		notRun = notRun || f.Rule == finding.RuleDynamicNotRun
	}
	addFindings(file, dynamic, pol)
	rep.Summarize()
	code := emit(rep, pol, &o, env)
	if notRun && code == ExitOK {
		return ExitError // nothing was observed: not a pass
	}
	return code
}

// chooseLoader takes the --loader flag, or for auto the loader for the
// format the static scan detected.
func chooseLoader(name string, f *report.File) (detonate.Loader, error) {
	if name != "auto" {
		return detonate.ParseLoader(name)
	}
	l, err := detonate.LoaderFor(f)
	if errors.Is(err, detonate.ErrNoLoader) {
		return "", fmt.Errorf("%s: %w", f.Path, err)
	}
	return l, err
}

// addFindings adds dynamic findings to a file's result under the policy's
// severity overrides and suppressions, as the scan does for its own.
func addFindings(file *report.File, fs []finding.Finding, pol *policy.Policy) {
	for _, f := range fs {
		f.Severity = pol.Severity(f.Rule, f.Severity)
		if ok, _ := pol.Suppressed(&f); ok {
			file.Suppressed++
			continue
		}
		file.Findings = append(file.Findings, f)
	}
}

func printOutput(env Env, name string, b []byte) {
	if len(b) == 0 {
		return
	}
	fmt.Fprintf(env.Stderr, "modelgate detonate: the load's %s:\n", name)
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		fmt.Fprintf(env.Stderr, "  | %s\n", report.Sanitize(line))
	}
}
