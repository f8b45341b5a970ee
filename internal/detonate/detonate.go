// Package detonate loads a pickle-based model file with the real loader
// for its format (pickle.load, torch.load, joblib.load, numpy.load with
// allow_pickle) inside modelgate's sandbox, and records through a Python
// audit hook what the load tries to do: imports, exec and compile, commands,
// network connections, file writes, ctypes. The sandbox's own execve
// supervision adds what happened below Python. The events become findings
// beside the static scan's.
//
// This is the one place modelgate runs a model's code on purpose, and it
// only ever does so inside the sandbox.
package detonate

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"modelgate/internal/report"
	"modelgate/internal/sandbox"
)

//go:embed loader.py
var loaderScript []byte

// Loader names the Python function that loads a format.
type Loader string

// The loaders the script knows.
const (
	LoaderPickle Loader = "pickle" // pickle.load
	LoaderTorch  Loader = "torch"  // torch.load(weights_only=False)
	LoaderJoblib Loader = "joblib" // joblib.load
	LoaderNumpy  Loader = "numpy"  // numpy.load(allow_pickle=True), every .npz member
)

// ParseLoader checks a loader name from the command line.
func ParseLoader(s string) (Loader, error) {
	switch l := Loader(s); l {
	case LoaderPickle, LoaderTorch, LoaderJoblib, LoaderNumpy:
		return l, nil
	}
	return "", fmt.Errorf("unknown loader %q (want pickle, torch, joblib or numpy)", s)
}

// ErrNoLoader: the detected format is not one detonate can load.
var ErrNoLoader = errors.New("detonate: no loader for this format")

// LoaderFor picks the loader from what the static scan detected (content,
// never the file name). A plain pickle that carries joblib's array
// wrappers is a joblib file; one that rebuilds torch tensors is a legacy
// torch file.
func LoaderFor(f *report.File) (Loader, error) {
	format := strings.ToLower(f.Format)
	switch {
	case strings.HasPrefix(format, "pytorch"), strings.HasPrefix(format, "torch"):
		return LoaderTorch, nil
	case strings.HasPrefix(format, "joblib"):
		return LoaderJoblib, nil
	case format == "npy", format == "npz", strings.HasPrefix(format, "numpy"):
		return LoaderNumpy, nil
	case strings.HasPrefix(format, "pickle"):
		for _, imp := range f.Imports {
			if strings.HasPrefix(imp.Module, "joblib.numpy_pickle") {
				return LoaderJoblib, nil
			}
		}
		for _, imp := range f.Imports {
			if imp.Module == "torch._utils" && strings.HasPrefix(imp.Name, "_rebuild_") {
				return LoaderTorch, nil
			}
		}
		return LoaderPickle, nil
	}
	return "", fmt.Errorf("%w %q (detonate loads pickle, PyTorch, joblib and NumPy files; --loader chooses one)", ErrNoLoader, f.Format)
}

// DefaultPython is Debian's interpreter, which finds the distribution's
// python3-torch, python3-numpy, python3-joblib and python3-sklearn.
const DefaultPython = "/usr/bin/python3"

// ErrNoPython: there is no interpreter to load the model with.
var ErrNoPython = errors.New("detonate needs python3")

// Options configure a detonation.
type Options struct {
	Loader Loader
	// Python is the interpreter; default DefaultPython.
	Python string
	// NoExec makes the sandbox refuse execve after Python has started.
	NoExec      bool
	AllowWeaker bool
	// Limits for the sandbox; zero fields take detonate's defaults
	// (DefaultLimits), not the sandbox's.
	Limits sandbox.Limits
	// MaxOutput bounds how much of the loader's stdout and stderr is kept.
	MaxOutput int
}

// DefaultLimits are detonate's: a model load should take seconds.
func DefaultLimits() sandbox.Limits {
	d := sandbox.DefaultLimits()
	d.Wall = 2 * time.Minute
	d.CPU = 2 * time.Minute
	d.TmpSize = 256 << 20
	return d
}

// Outcome is what a detonation observed.
type Outcome struct {
	Loader Loader
	Events []Event
	// BadLines counts audit lines that were not valid events.
	BadLines int
	// Truncated: more events than MaxEvents; the rest were not read.
	Truncated bool
	Sandbox   *sandbox.Result
	// Stdout and Stderr of the loader (payloads print here), cut to
	// Options.MaxOutput.
	Stdout, Stderr []byte
}

// FindPython returns the interpreter to use, or ErrNoPython with what to
// install.
func FindPython(path string) (string, error) {
	if path == "" {
		path = DefaultPython
	}
	if fi, err := os.Stat(path); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%w: no executable interpreter at %s (on Debian: apt-get install python3 python3-numpy python3-torch python3-joblib python3-sklearn)", ErrNoPython, path)
	}
	return path, nil
}

// Run detonates the file at path inside the sandbox. It returns an error
// only when it could not run the loader at all (no Python, the sandbox
// refused); what the load did, including failing, is in the Outcome.
func Run(ctx context.Context, path string, opts Options) (*Outcome, error) {
	python, err := FindPython(opts.Python)
	if err != nil {
		return nil, err
	}
	if _, err := ParseLoader(string(opts.Loader)); err != nil {
		return nil, err
	}
	model, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer model.Close()
	if fi, err := model.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("detonate: %s is not a regular file", path)
	}
	auditR, auditW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer auditR.Close()

	type parsed struct {
		events []Event
		bad    int
		err    error
	}
	parsedCh := make(chan parsed, 1)
	go func() {
		ev, bad, err := ParseEvents(auditR)
		parsedCh <- parsed{ev, bad, err}
	}()

	maxOut := opts.MaxOutput
	if maxOut <= 0 {
		maxOut = 64 << 10
	}
	stdout, stderr := &capped{max: maxOut}, &capped{max: maxOut}
	lim := opts.Limits
	d := DefaultLimits()
	if lim.Wall == 0 {
		lim.Wall = d.Wall
	}
	if lim.CPU == 0 {
		lim.CPU = d.CPU
	}
	if lim.TmpSize == 0 {
		lim.TmpSize = d.TmpSize
	}
	cfg := sandbox.Config{
		// In the child: the model is fd 3, the audit pipe fd 4.
		Command:     []string{python, "-I", "-", "4", "3", string(opts.Loader)},
		Stdin:       bytes.NewReader(loaderScript),
		Stdout:      stdout,
		Stderr:      stderr,
		ExtraFiles:  []*os.File{model, auditW},
		NoExec:      opts.NoExec,
		AllowWeaker: opts.AllowWeaker,
		Limits:      lim,
	}
	if prefix := pythonPrefix(python); prefix != "" {
		cfg.ReadOnly = []string{prefix}
	}
	res, runErr := sandbox.Run(ctx, cfg)
	auditW.Close()
	p := <-parsedCh
	if runErr != nil {
		return nil, runErr
	}
	out := &Outcome{
		Loader: opts.Loader, Events: p.events, BadLines: p.bad,
		Truncated: errors.Is(p.err, ErrTooManyEvents),
		Sandbox:   res, Stdout: stdout.Bytes(), Stderr: stderr.Bytes(),
	}
	return out, nil
}

// pythonPrefix returns the installation folder to make visible for an
// interpreter outside the sandbox's system folders ("" for /usr/bin/python3).
func pythonPrefix(python string) string {
	abs, err := filepath.EvalSymlinks(python)
	if err != nil {
		return ""
	}
	for _, sys := range []string{"/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/etc/"} {
		if strings.HasPrefix(abs, sys) {
			return ""
		}
	}
	return filepath.Dir(filepath.Dir(abs))
}

// capped keeps the first max bytes written to it and counts the rest.
type capped struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	max     int
	dropped int64
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := min(max(c.max-c.buf.Len(), 0), len(p))
	c.buf.Write(p[:n])
	c.dropped += int64(len(p) - n)
	return len(p), nil
}

func (c *capped) Bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := bytes.Clone(c.buf.Bytes())
	if c.dropped > 0 {
		b = append(b, "\n[… "+strconv.FormatInt(c.dropped, 10)+" more bytes not kept]\n"...)
	}
	return b
}

var _ io.Writer = (*capped)(nil)
