// Package repocheck runs the repository checks over the files of a scan:
// custom code wired in by auto_map and the Python files it loads, Hydra
// configs that instantiate callables (also inside .nemo archives),
// Dockerfiles of Space-style apps, and secrets in any text file. Unlike
// format analyzers these checks may use file names as hints (a
// Dockerfile, *.py, .env), since builders and frameworks find these files
// by name; model formats stay content-detected by the analyzers.
package repocheck

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"modelgate/internal/jinja"
	"strings"
	"sync"

	"modelgate/internal/finding"
	"modelgate/internal/scan"
	"modelgate/internal/secrets"
)

// Limits of the checks.
const (
	// MaxText: text files up to this size are read in full for secrets.
	MaxText = 32 << 20
	// MaxJSON: JSON configs up to this size are parsed for auto_map.
	MaxJSON = 4 << 20
	// MaxPython: Python files up to this size are analyzed.
	MaxPython = 8 << 20
	// headSize is how much of every file is read to tell text from binary.
	headSize = 8 << 10
	// workers read files at once: remote reads wait on the network.
	workers = 8
)

// Check is the repository check (a scan.RepoCheck).
type Check struct{}

// New returns the check.
func New() *Check { return &Check{} }

// Name implements scan.RepoCheck.
func (*Check) Name() string { return "repository" }

// run is one Check over one scan's files. Files are read by several
// goroutines; mu guards what they share (the findings sink, py, maps).
type run struct {
	repo   *scan.Repo
	byPath map[string]scan.Entry // read-only once built
	sink   func(finding.Finding)
	mu     sync.Mutex
	py     map[string]*pyFile
	maps   []autoMap
}

// emit reports a finding. Evidence and messages quote files: a secret
// never goes through.
func (r *run) emit(f finding.Finding) {
	f.Evidence = secrets.Redact(f.Evidence)
	f.Message = secrets.Redact(f.Message)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sink(f)
}

// Check implements scan.RepoCheck: one pass over the files, reading each
// at most once (text files in full, others only their head), then the
// checks that need the whole repository.
func (c *Check) Check(ctx context.Context, repo *scan.Repo, emit func(finding.Finding)) {
	r := &run{repo: repo, byPath: map[string]scan.Entry{}, py: map[string]*pyFile{}, sink: emit}
	for _, e := range repo.Files {
		r.byPath[e.Path] = e
	}
	work := make(chan scan.Entry)
	var wg sync.WaitGroup
	for range min(workers, len(repo.Files)) {
		wg.Go(func() {
			for e := range work {
				r.file(ctx, e)
			}
		})
	}
	for _, e := range repo.Files {
		if ctx.Err() != nil {
			break
		}
		if e.Err != nil || e.Open == nil || e.Size == 0 {
			continue
		}
		work <- e
	}
	close(work)
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	r.customCode()
}

// finding builds a finding about a file.
func (r *run) finding(rule string, e scan.Entry, msg, evidence string, offset int64) finding.Finding {
	f := r.repo.Rules.New(rule, msg, evidence, offset)
	f.Path = e.Path
	return f
}

// file reads one file and runs the checks that apply to it.
func (r *run) file(ctx context.Context, e scan.Entry) {
	c, err := e.Open(ctx)
	if err != nil {
		return // the scan of the file itself reports it
	}
	defer c.Close()
	head := make([]byte, min(e.Size, headSize))
	n, err := c.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return
	}
	head = head[:n]
	name := baseName(e.Path)
	if isArchive(head, name) {
		r.nemo(e, c)
		return
	}
	if !secrets.IsText(head) {
		return
	}
	if e.Size > MaxText {
		f := r.finding(finding.RuleSecretSkipped, e, fmt.Sprintf("the file is %d bytes of text, over the %d-byte limit of the secrets check", e.Size, MaxText), "", finding.NoOffset)
		r.emit(f)
		if isPython(name, head) {
			r.emit(r.finding(finding.RulePythonUnreadable, e, "the Python file is over the size limit; its calls were not listed", "", finding.NoOffset))
		}
		return
	}
	data := make([]byte, e.Size)
	if _, err := c.ReadAt(data, 0); err != nil && err != io.EOF {
		r.emit(r.finding(finding.RuleIOError, e, "the repository checks could not read the file: "+err.Error(), "", finding.NoOffset))
		return
	}
	r.secrets(e, name, data)
	if isDockerfile(name, data) {
		r.dockerfile(e, data)
	}
	if isPython(name, head) {
		r.python(e, data)
	}
	if bytes.Contains(data, []byte("auto_map")) || bytes.Contains(data, []byte("custom_pipelines")) {
		r.configJSON(e, data)
	}
	if isConfig(name) && bytes.Contains(data, []byte("_target_")) {
		r.hydraFile(e, data)
	}
	if isTemplate(name) {
		r.template(ctx, e, data)
	}
}

// isTemplate matches chat templates saved as files beside the tokenizer
// (chat_template.jinja, additional_chat_templates/*.jinja) and other
// Jinja files a repository ships.
func isTemplate(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".jinja") || strings.HasSuffix(n, ".jinja2") || strings.HasSuffix(n, ".j2")
}

// template checks a Jinja file as the chat-template check does for GGUF
// metadata and tokenizer configs: parsed, never rendered.
func (r *run) template(ctx context.Context, e scan.Entry, data []byte) {
	res, err := jinja.Check(ctx, string(data), jinja.Options{})
	for _, f := range res.Findings(r.repo.Rules, "Jinja template", 0) {
		f.Path = e.Path
		r.emit(f)
	}
	if err != nil && ctx.Err() == nil {
		r.emit(r.finding(finding.RuleParseError, e, "Jinja template: "+err.Error(), "", finding.NoOffset))
	}
}

// secrets reports the credentials in a text file.
func (r *run) secrets(e scan.Entry, name string, data []byte) {
	for _, m := range secrets.Find(data, name) {
		msg := fmt.Sprintf("%s on line %d", m.Kind, m.Line)
		f := r.finding(m.Rule, e, msg, m.Redacted, m.Offset)
		switch {
		case m.Placeholder:
			f.Severity = finding.Low
			f.Message += " (looks like a placeholder)"
		case m.Encrypted:
			f.Severity = finding.Medium
			f.Message += " (passphrase-protected)"
		}
		r.emit(f)
	}
}

// baseName is the last element of a local path or hf:// address.
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// dirName is everything before the last element ("" for none).
func dirName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[:i]
	}
	return ""
}

// join appends a slash-separated relative path to a directory.
func join(dir, rel string) string {
	if dir == "" {
		return rel
	}
	return dir + "/" + rel
}

// lineOffset is the byte offset where 1-based line n starts.
func lineOffset(data []byte, n int) int64 {
	if n <= 1 {
		return 0
	}
	off := 0
	for line := 1; line < n; line++ {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return finding.NoOffset
		}
		off += i + 1
	}
	return int64(off)
}
