package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modelgate/internal/finding"
	"modelgate/internal/policy"
	"modelgate/internal/repocheck"
	"modelgate/internal/report"
	"modelgate/internal/scan"
	"modelgate/internal/version"
)

// outputFlags are shared by scan and report.
type outputFlags struct {
	format  string
	out     string
	failOn  string
	strict  bool
	quiet   bool
	verbose bool
	noColor bool
}

func (o *outputFlags) register(fs interface {
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
}) {
	fs.StringVar(&o.format, "format", "text", "report format: text, json or sarif")
	fs.StringVar(&o.format, "f", "text", "shorthand for --format")
	fs.StringVar(&o.out, "o", "", "write the report to this file instead of standard output")
	fs.StringVar(&o.failOn, "fail-on", "", "exit 1 on findings at or above: critical, high, medium, low (default high, or the policy's fail_on)")
	fs.BoolVar(&o.strict, "strict", false, "also fail on suspicious imports (globals not known to be safe)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress; the text report lists failing files only")
	fs.BoolVar(&o.quiet, "q", false, "shorthand for --quiet")
	fs.BoolVar(&o.verbose, "verbose", false, "text report: list clean files, innocuous imports and info findings too")
	fs.BoolVar(&o.verbose, "v", false, "shorthand for --verbose")
	fs.BoolVar(&o.noColor, "no-color", false, "never use colour (NO_COLOR in the environment does the same)")
}

func (o *outputFlags) validate() error {
	switch o.format {
	case "text", "json", "sarif":
	default:
		return fmt.Errorf("unknown format %q (want text, json or sarif)", o.format)
	}
	if o.failOn != "" {
		if _, err := finding.ParseSeverity(o.failOn); err != nil || strings.EqualFold(o.failOn, "info") {
			return fmt.Errorf("--fail-on: want critical, high, medium or low, not %q", o.failOn)
		}
	}
	return nil
}

func (o *outputFlags) threshold(pol *policy.Policy) finding.Severity {
	if o.failOn != "" {
		s, _ := finding.ParseSeverity(o.failOn)
		return s
	}
	s, _ := pol.FailOn()
	return s
}

func runScan(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("scan", "[flags] PATH|hf://ORG/REPO[@REV]...", env)
	var o outputFlags
	o.register(fs)
	var policies stringList
	fs.Var(&policies, "policy", "policy file (TOML or YAML) to add to the default; repeatable")
	jobs := fs.Int("j", 0, "files scanned at once (default: all cores)")
	noHash := fs.Bool("no-hash", false, "skip computing sha256 of each file (faster on huge files)")
	noCache := fs.Bool("no-cache", false, "scan every file again, even if a file with the same sha256 was scanned before with this scanner and policy")
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if err := o.validate(); err != nil {
		fmt.Fprintln(env.Stderr, "modelgate scan:", err)
		return ExitError
	}
	if len(paths) == 0 {
		fmt.Fprintln(env.Stderr, "modelgate scan: no paths given")
		fs.Usage()
		return ExitError
	}
	pol, err := policy.Load(policies...)
	if err != nil {
		fmt.Fprintln(env.Stderr, "modelgate scan:", err)
		return ExitError
	}
	rm := newRemote(env, o.quiet)
	sources, err := sourcesFor(paths, rm)
	if err != nil {
		fmt.Fprintln(env.Stderr, "modelgate scan:", err)
		return ExitError
	}
	if *jobs == 0 && hasRemote(paths) {
		*jobs = 8 // remote reads wait on the network more than the CPU
	}
	opts := scan.Options{Policy: pol, Jobs: *jobs, NoHash: *noHash, RepoChecks: []scan.RepoCheck{repocheck.New()}}
	if !*noCache {
		opts.Cache = openCache(env)
	}
	var prog *progress
	if !o.quiet && env.IsTerminal(env.Stderr) {
		prog = newProgress(env.Stderr, time.Now())
		opts.Progress = prog.update
	}
	rep, err := runScanner(ctx, scan.New(opts), sources, paths)
	prog.finish()
	if err != nil {
		if errors.Is(err, scan.ErrNoFiles) {
			fmt.Fprintln(env.Stderr, "modelgate scan: no files found in", strings.Join(paths, " "))
		} else {
			fmt.Fprintln(env.Stderr, "modelgate scan:", err)
		}
		return ExitError
	}
	rm.finish()
	return emit(rep, pol, &o, env)
}

func runScanner(ctx context.Context, s *scan.Scanner, sources []scan.Source, targets []string) (*report.Report, error) {
	pol := s.Policy()
	rep := &report.Report{
		Schema:  report.Schema,
		Tool:    report.Tool{Name: "modelgate", Version: version.Version},
		Policy:  report.PolicyInfo{Version: pol.Version(), Sources: pol.Sources()},
		Targets: targets,
	}
	err := s.Run(ctx, sources, func(f *report.File) { rep.Files = append(rep.Files, f) })
	if err != nil {
		return nil, err
	}
	rep.Summarize()
	return rep, nil
}

// emit writes the report and returns the exit code.
func emit(rep *report.Report, pol *policy.Policy, o *outputFlags, env Env) int {
	rules := finding.Default()
	threshold := o.threshold(pol)
	var w io.Writer = env.Stdout
	color := false
	if o.out != "" {
		f, err := os.Create(o.out)
		if err != nil {
			fmt.Fprintln(env.Stderr, "modelgate:", err)
			return ExitError
		}
		defer f.Close()
		w = f
	} else {
		color = o.format == "text" && !o.noColor && env.Getenv("NO_COLOR") == "" && env.IsTerminal(env.Stdout)
	}
	var err error
	switch o.format {
	case "json":
		err = report.WriteJSON(w, rep)
	case "sarif":
		err = report.WriteSARIF(w, rep, rules)
	default:
		err = report.WriteText(w, rep, report.TextOptions{Color: color, Verbose: o.verbose, OnlyFailing: o.quiet, Threshold: threshold, Strict: o.strict, Rules: rules})
	}
	if err != nil {
		fmt.Fprintln(env.Stderr, "modelgate: writing report:", err)
		return ExitError
	}
	if o.out != "" && !o.quiet {
		fmt.Fprintf(env.Stderr, "modelgate: report written to %s\n", filepath.Clean(o.out))
	}
	return exitCode(rep, threshold, o.strict, rules)
}

// exitCode: 1 if any readable file fails the threshold, else 2 if a file
// could not be read, else 0.
func exitCode(rep *report.Report, threshold finding.Severity, strict bool, rules *finding.Catalogue) int {
	unreadable := false
	for _, f := range rep.Files {
		if f.Status == report.StatusError {
			unreadable = true
			continue
		}
		if report.FileFails(f, threshold, strict, rules) {
			return ExitFindings
		}
	}
	if unreadable {
		return ExitError
	}
	return ExitOK
}
