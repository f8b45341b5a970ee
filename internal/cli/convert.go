package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"modelgate/internal/convert"
	"modelgate/internal/hub"
	"modelgate/internal/policy"
	"modelgate/internal/report"
	"modelgate/internal/scan"
	"modelgate/internal/version"
)

func runConvert(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("convert", "[flags] CHECKPOINT [OUTPUT.safetensors] | DIR | hf://ORG/REPO[@REV][/PATH]", env)
	var o outputFlags
	fs.StringVar(&o.format, "format", "text", "output format: text or json (a refused scan is reported as scan reports it; sarif too)")
	fs.StringVar(&o.format, "f", "text", "shorthand for --format")
	fs.StringVar(&o.failOn, "fail-on", "", "refuse inputs whose scan has findings at or above: critical, high, medium, low (default high, or the policy's fail_on)")
	fs.BoolVar(&o.strict, "strict", false, "also refuse inputs with suspicious imports")
	fs.BoolVar(&o.quiet, "quiet", false, "print nothing on success")
	fs.BoolVar(&o.quiet, "q", false, "shorthand for --quiet")
	fs.BoolVar(&o.noColor, "no-color", false, "never use colour")
	outDir := fs.String("out", "", "output folder (default: beside the input; required for hf://)")
	key := fs.String("key", "", `the wrapper entry holding the state dict (default: "state_dict" or "model" when the top level holds no tensor)`)
	force := fs.Bool("force", false, "replace outputs that exist")
	durable := fs.Bool("sync", false, "flush each output to disk before renaming it into place (survives a crash; slower)")
	var policies stringList
	fs.Var(&policies, "policy", "policy file (TOML or YAML) to add to the default; repeatable")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if err := o.validate(); err != nil {
		fmt.Fprintln(env.Stderr, "modelgate convert:", err)
		return ExitError
	}
	if len(pos) == 0 || len(pos) > 2 {
		fmt.Fprintln(env.Stderr, "modelgate convert: give one input, and for a single checkpoint optionally the output file")
		fs.Usage()
		return ExitError
	}
	pol, err := policy.Load(policies...)
	if err != nil {
		fmt.Fprintln(env.Stderr, "modelgate convert:", err)
		return ExitError
	}
	// The scan gates the conversion; hashing the whole input would only
	// slow it (a refusal's report gets the hashes, see reportRefusal).
	opts := convert.Options{
		Scanner:   scan.New(scan.Options{Policy: pol, NoHash: true}),
		Threshold: o.threshold(pol),
		Strict:    o.strict,
		Key:       *key,
		Force:     *force,
		Sync:      *durable,
	}
	res, err := dispatchConvert(ctx, pos, *outDir, opts, env)
	var sr *convert.ScanRefusal
	var rf *convert.Refusal
	switch {
	case errors.As(err, &sr):
		fmt.Fprintln(env.Stderr, "modelgate convert:", err)
		reportRefusal(ctx, sr, pos, pol, &o, env)
		return ExitFindings
	case errors.As(err, &rf):
		if o.format == "json" {
			writeJSON(env.Stdout, map[string]any{"refused": map[string]any{"path": rf.Path, "reasons": rf.Reasons}})
		}
		fmt.Fprintln(env.Stderr, "modelgate convert:", err)
		return ExitFindings
	case err != nil:
		fmt.Fprintln(env.Stderr, "modelgate convert:", err)
		return ExitError
	}
	switch {
	case o.format == "json":
		writeJSON(env.Stdout, res)
	case !o.quiet:
		printConverted(env.Stdout, res)
	}
	return ExitOK
}

// dispatchConvert converts a file, a folder or a hub repository.
func dispatchConvert(ctx context.Context, pos []string, outDir string, opts convert.Options, env Env) (*convert.Result, error) {
	in := pos[0]
	if hub.IsRef(in) {
		if outDir == "" || len(pos) > 1 {
			return nil, errors.New("converting from the hub needs --out DIR (and no output file)")
		}
		ref, err := hub.ParseRef(in)
		if err != nil {
			return nil, err
		}
		cfg, err := hub.FromEnv(env.Getenv)
		if err != nil {
			return nil, err
		}
		client, err := hub.New(cfg)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return nil, err
		}
		return convert.Remote(ctx, client, ref, cfg.Token != "", outDir, opts)
	}
	if strings.Contains(in, "://") {
		return nil, fmt.Errorf("%s: only hf:// addresses and local paths can be converted", in)
	}
	fi, err := os.Stat(in)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		if len(pos) > 1 {
			return nil, errors.New("a folder converts into a folder: use --out DIR")
		}
		if outDir == "" {
			outDir = in
		}
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return nil, err
		}
		return convert.Dir(ctx, in, outDir, opts)
	}
	out := ""
	switch {
	case len(pos) == 2 && outDir != "":
		return nil, errors.New("give either an output file or --out DIR, not both")
	case len(pos) == 2:
		out = pos[1]
	default:
		if outDir == "" {
			outDir = filepath.Dir(in)
		}
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return nil, err
		}
		out = filepath.Join(outDir, convert.OutputName(filepath.Base(in)))
	}
	return convert.File(ctx, in, out, opts)
}

// reportRefusal reports the inputs a scan refused exactly as `modelgate
// scan` does, with each local file's sha256 filled in.
func reportRefusal(ctx context.Context, sr *convert.ScanRefusal, targets []string, pol *policy.Policy, o *outputFlags, env Env) {
	for _, f := range sr.Files {
		if f.SHA256 == "" {
			if h, err := fileSHA256(ctx, f.Path); err == nil {
				f.SHA256 = h
			}
		}
	}
	rep := &report.Report{
		Schema:  report.Schema,
		Tool:    report.Tool{Name: "modelgate", Version: version.Version},
		Policy:  report.PolicyInfo{Version: pol.Version(), Sources: pol.Sources()},
		Targets: targets[:1],
		Files:   sr.Files,
	}
	rep.Summarize()
	ro := *o
	ro.quiet = false
	emit(rep, pol, &ro, env)
}

func fileSHA256(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	return scan.SHA256(ctx, f, fi.Size())
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// printConverted summarises a conversion.
func printConverted(w io.Writer, res *convert.Result) {
	for _, f := range res.Files {
		key := ""
		if f.Key != "" {
			key = fmt.Sprintf(", from entry %q", f.Key)
		}
		fmt.Fprintf(w, "converted %s → %s (%s%s): %d tensors, %s, verified\n", f.Input, f.Output, f.Format, key, f.Tensors, report.HumanBytes(f.Bytes))
		if len(f.Aliases) > 0 {
			dropped := make([]string, 0, len(f.Aliases))
			for d := range f.Aliases {
				dropped = append(dropped, d)
			}
			sort.Strings(dropped)
			for _, d := range dropped {
				fmt.Fprintf(w, "  shared: %s is the same tensor as %s, written once under %s\n", d, f.Aliases[d], f.Aliases[d])
			}
		}
		for _, g := range f.Overlaps {
			fmt.Fprintf(w, "  overlapping views of one storage, each written whole: %s\n", strings.Join(g, ", "))
		}
		for _, s := range f.Skipped {
			fmt.Fprintf(w, "  skipped %s: %s, not a tensor\n", s.Name, s.What)
		}
	}
	if res.Index != "" {
		fmt.Fprintf(w, "wrote %s\n", res.Index)
	}
}
