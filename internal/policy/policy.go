// Package policy decides how safe each pickle global is, which findings are
// raised or lowered, and which are suppressed. The default policy is
// embedded (default.toml and the generated frameworks.toml); a user policy
// file in TOML or YAML adds to it.
package policy

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"

	"modelgate/internal/finding"
	"modelgate/internal/limits"
)

//go:embed default.toml
var defaultTOML []byte

//go:embed frameworks.toml
var frameworksTOML []byte

// File is a policy file as written by a user (or embedded).
type File struct {
	// Name identifies the policy in reports, e.g. "acme-prod".
	Name string `toml:"name,omitempty" yaml:"name,omitempty" json:"name,omitempty"`
	// FailOn is the default --fail-on threshold.
	FailOn string     `toml:"fail_on,omitempty" yaml:"fail_on,omitempty" json:"fail_on,omitempty"`
	Pickle PickleFile `toml:"pickle" yaml:"pickle" json:"pickle"`
	// Severity overrides a rule's severity: rule ID → severity name.
	Severity map[string]string `toml:"severity,omitempty" yaml:"severity,omitempty" json:"severity,omitempty"`
	// Suppress drops matching findings from reports and exit codes.
	Suppress []Suppression `toml:"suppress,omitempty" yaml:"suppress,omitempty" json:"suppress,omitempty"`
	// Limits overrides scan limits by field name (see limits.Limits).
	Limits map[string]int64 `toml:"limits,omitempty" yaml:"limits,omitempty" json:"limits,omitempty"`
	// TensorFlow sets how TensorFlow graph ops are reported.
	TensorFlow TensorFlowFile `toml:"tensorflow,omitempty" yaml:"tensorflow,omitempty" json:"tensorflow,omitempty"`
}

// TensorFlowFile maps graph op names to the severity of a finding for
// them, or "ignore". See default.toml.
type TensorFlowFile struct {
	Ops map[string]string `toml:"ops,omitempty" yaml:"ops,omitempty" json:"ops,omitempty"`
}

// Ignore is the TensorFlow op severity that reports nothing for ordinary use.
const Ignore = "ignore"

// PickleFile lists globals by safety level. See default.toml for the syntax.
type PickleFile struct {
	Innocuous  []string            `toml:"innocuous,omitempty" yaml:"innocuous,omitempty" json:"innocuous,omitempty"`
	Suspicious []string            `toml:"suspicious,omitempty" yaml:"suspicious,omitempty" json:"suspicious,omitempty"`
	Dangerous  []string            `toml:"dangerous,omitempty" yaml:"dangerous,omitempty" json:"dangerous,omitempty"`
	Wrappers   map[string]int      `toml:"wrappers,omitempty" yaml:"wrappers,omitempty" json:"wrappers,omitempty"`
	Loaders    []string            `toml:"loaders,omitempty" yaml:"loaders,omitempty" json:"loaders,omitempty"`
	Resolvers  map[string][]string `toml:"resolvers,omitempty" yaml:"resolvers,omitempty" json:"resolvers,omitempty"`
}

// Suppression drops findings of Rule whose path matches Path (a glob where
// ** spans folders; empty matches all) and whose evidence matches Evidence.
type Suppression struct {
	Rule     string `toml:"rule" yaml:"rule" json:"rule"`
	Path     string `toml:"path,omitempty" yaml:"path,omitempty" json:"path,omitempty"`
	Evidence string `toml:"evidence,omitempty" yaml:"evidence,omitempty" json:"evidence,omitempty"`
	Reason   string `toml:"reason,omitempty" yaml:"reason,omitempty" json:"reason,omitempty"`
}

// neverAllow can't be made innocuous by any policy file, as PyTorch's own
// weights-only unpickler refuses to allowlist os, posix, nt and sys.
var neverAllow = []string{
	"os.*", "posix.*", "nt.*", "sys.*", "subprocess.*", "pty.*", "runpy.*", "importlib.*", "marshal.*",
	"ctypes.*", "pickle.*", "_pickle.*", "socket.*", "code.*",
	"builtins.eval", "builtins.exec", "builtins.compile", "builtins.__import__", "builtins.getattr",
	"builtins.setattr", "builtins.open", "builtins.breakpoint",
}

// Policy is an immutable, merged policy.
type Policy struct {
	layers    []layer
	wrappers  map[string]int
	loaders   map[string]bool
	resolvers map[string][]string
	severity  map[string]finding.Severity
	tfOps     map[string]tfOp
	suppress  []suppression
	failOn    finding.Severity
	hasFailOn bool
	limits    *limits.Limits
	merged    File
	version   string
	sources   []string
}

type suppression struct {
	Suppression
	path, evidence *regexp.Regexp
}

type layer struct {
	exact    map[string]finding.Safety
	patterns []pattern
}

type pattern struct {
	prefix string
	safety finding.Safety
}

// Default returns the embedded policy. It is parsed once: a Policy is
// immutable, so every caller can share it.
func Default() *Policy { return defaultPolicy() }

var defaultPolicy = sync.OnceValue(func() *Policy {
	p, err := Load()
	if err != nil {
		panic("policy: embedded default is invalid: " + err.Error())
	}
	return p
})

// Load merges the embedded default with the given policy files, in order.
func Load(paths ...string) (*Policy, error) {
	var files []File
	var sources []string
	for _, b := range [][]byte{defaultTOML, frameworksTOML} {
		f, err := Parse(b, ".toml")
		if err != nil {
			return nil, err
		}
		files = append(files, *f)
	}
	sources = append(sources, "embedded default")
	for _, p := range paths {
		f, err := ReadFile(p)
		if err != nil {
			return nil, err
		}
		files = append(files, *f)
		sources = append(sources, p)
	}
	return build(files, sources)
}

// ReadFile parses one policy file, TOML or YAML by extension (or content).
func ReadFile(p string) (*File, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	f, err := Parse(b, filepath.Ext(p))
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", p, err)
	}
	return f, nil
}

// Parse parses policy text; ext (".toml", ".yaml", ".yml" or "") picks the
// syntax, and without one TOML is tried before YAML.
func Parse(b []byte, ext string) (*File, error) {
	var f File
	switch strings.ToLower(ext) {
	case ".yaml", ".yml":
		return &f, decodeYAML(b, &f)
	case ".toml":
		md, err := toml.Decode(string(b), &f)
		if err != nil {
			return nil, err
		}
		return &f, undecoded(md)
	}
	md, terr := toml.Decode(string(b), &f)
	if terr == nil {
		return &f, undecoded(md)
	}
	f = File{}
	if yerr := decodeYAML(b, &f); yerr != nil {
		return nil, fmt.Errorf("neither TOML (%v) nor YAML (%v)", terr, yerr)
	}
	return &f, nil
}

func decodeYAML(b []byte, f *File) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil && err.Error() != "EOF" {
		return err
	}
	return nil
}

func undecoded(md toml.MetaData) error {
	if keys := md.Undecoded(); len(keys) > 0 {
		return fmt.Errorf("unknown keys: %v", keys)
	}
	return nil
}

func build(files []File, sources []string) (*Policy, error) {
	p := &Policy{
		wrappers:  map[string]int{},
		loaders:   map[string]bool{},
		resolvers: map[string][]string{},
		severity:  map[string]finding.Severity{},
		tfOps:     map[string]tfOp{},
		limits:    limits.Default(),
		failOn:    finding.High,
		sources:   sources,
	}
	cat := finding.Default()
	for i, f := range files {
		// The two embedded files form one layer.
		if i == 0 || i >= 2 {
			p.layers = append(p.layers, layer{exact: map[string]finding.Safety{}})
		}
		l := &p.layers[len(p.layers)-1]
		user := i >= 2
		for _, e := range []struct {
			list []string
			s    finding.Safety
		}{{f.Pickle.Innocuous, finding.Innocuous}, {f.Pickle.Suspicious, finding.Suspicious}, {f.Pickle.Dangerous, finding.Dangerous}} {
			for _, name := range e.list {
				if err := l.add(strings.TrimSpace(name), e.s); err != nil {
					return nil, fmt.Errorf("%s: %w", sources[min(len(sources)-1, max(0, i-1))], err)
				}
			}
		}
		for k, v := range f.Pickle.Wrappers {
			p.wrappers[k] = v
			if _, ok := l.exact[k]; !ok {
				l.exact[k] = finding.Innocuous
			}
		}
		for _, k := range f.Pickle.Loaders {
			p.loaders[k] = true
		}
		for k, v := range f.Pickle.Resolvers {
			p.resolvers[k] = v
			if _, ok := l.exact[k]; !ok {
				l.exact[k] = finding.Innocuous
			}
		}
		for rule, sev := range f.Severity {
			if _, ok := cat.Lookup(rule); !ok {
				return nil, fmt.Errorf("severity override for unknown rule %q", rule)
			}
			s, err := finding.ParseSeverity(sev)
			if err != nil {
				return nil, err
			}
			p.severity[rule] = s
		}
		for op, sev := range f.TensorFlow.Ops {
			if strings.EqualFold(sev, Ignore) {
				p.tfOps[op] = tfOp{ignore: true}
				continue
			}
			s, err := finding.ParseSeverity(sev)
			if err != nil {
				return nil, fmt.Errorf("tensorflow op %s: %w", op, err)
			}
			p.tfOps[op] = tfOp{severity: s}
		}
		for _, s := range f.Suppress {
			if _, ok := cat.Lookup(s.Rule); !ok && s.Rule != "*" {
				return nil, fmt.Errorf("suppression of unknown rule %q", s.Rule)
			}
			c := suppression{Suppression: s}
			var err error
			if s.Path != "" {
				if c.path, err = globRegexp(s.Path); err != nil {
					return nil, fmt.Errorf("suppression path %q: %w", s.Path, err)
				}
			}
			if s.Evidence != "" {
				if c.evidence, err = globRegexp(s.Evidence); err != nil {
					return nil, fmt.Errorf("suppression evidence %q: %w", s.Evidence, err)
				}
			}
			p.suppress = append(p.suppress, c)
		}
		if f.FailOn != "" {
			s, err := finding.ParseSeverity(f.FailOn)
			if err != nil {
				return nil, fmt.Errorf("fail_on: %w", err)
			}
			p.failOn, p.hasFailOn = s, true
		}
		if err := applyLimits(p.limits, f.Limits); err != nil {
			return nil, err
		}
		if user && f.Name != "" {
			p.merged.Name = f.Name
		}
		mergeFile(&p.merged, f)
	}
	sum, err := json.Marshal(p.merged)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(sum)
	p.version = hex.EncodeToString(h[:6])
	if p.merged.Name != "" {
		p.version = p.merged.Name + "@" + p.version
	}
	return p, nil
}

func (l *layer) add(name string, s finding.Safety) error {
	if name == "" {
		return fmt.Errorf("empty global name")
	}
	if strings.HasSuffix(name, "*") {
		l.patterns = append(l.patterns, pattern{prefix: strings.TrimSuffix(name, "*"), safety: s})
		return nil
	}
	if strings.Contains(name, "*") {
		return fmt.Errorf("%q: * is only allowed at the end", name)
	}
	if old, ok := l.exact[name]; !ok || s > old {
		l.exact[name] = s
	}
	return nil
}

func mergeFile(dst *File, f File) {
	if f.FailOn != "" {
		dst.FailOn = f.FailOn
	}
	dst.Pickle.Innocuous = append(dst.Pickle.Innocuous, f.Pickle.Innocuous...)
	dst.Pickle.Suspicious = append(dst.Pickle.Suspicious, f.Pickle.Suspicious...)
	dst.Pickle.Dangerous = append(dst.Pickle.Dangerous, f.Pickle.Dangerous...)
	dst.Pickle.Loaders = append(dst.Pickle.Loaders, f.Pickle.Loaders...)
	for k, v := range f.Pickle.Wrappers {
		if dst.Pickle.Wrappers == nil {
			dst.Pickle.Wrappers = map[string]int{}
		}
		dst.Pickle.Wrappers[k] = v
	}
	for k, v := range f.Pickle.Resolvers {
		if dst.Pickle.Resolvers == nil {
			dst.Pickle.Resolvers = map[string][]string{}
		}
		dst.Pickle.Resolvers[k] = v
	}
	for k, v := range f.Severity {
		if dst.Severity == nil {
			dst.Severity = map[string]string{}
		}
		dst.Severity[k] = v
	}
	for k, v := range f.TensorFlow.Ops {
		if dst.TensorFlow.Ops == nil {
			dst.TensorFlow.Ops = map[string]string{}
		}
		dst.TensorFlow.Ops[k] = v
	}
	dst.Suppress = append(dst.Suppress, f.Suppress...)
	for k, v := range f.Limits {
		if dst.Limits == nil {
			dst.Limits = map[string]int64{}
		}
		dst.Limits[k] = v
	}
}

// Version identifies the effective policy: a content hash, prefixed by the
// user policy's name when it has one. Verdicts are cached per version.
func (p *Policy) Version() string { return p.version }

// Sources lists where the policy came from.
func (p *Policy) Sources() []string { return p.sources }

// FailOn returns the policy's fail threshold and whether it set one.
func (p *Policy) FailOn() (finding.Severity, bool) { return p.failOn, p.hasFailOn }

// Limits returns the scan limits (defaults with the policy's overrides).
// Callers must not modify them.
func (p *Policy) Limits() *limits.Limits { return p.limits }

// TOML renders the merged policy.
func (p *Policy) TOML() ([]byte, error) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Effective modelgate policy %s (from %s).\n", p.version, strings.Join(p.sources, ", "))
	m := p.merged
	m.Pickle.Innocuous = sortedUnique(m.Pickle.Innocuous)
	m.Pickle.Dangerous = sortedUnique(m.Pickle.Dangerous)
	m.Pickle.Suspicious = sortedUnique(m.Pickle.Suspicious)
	m.Pickle.Loaders = sortedUnique(m.Pickle.Loaders)
	enc := toml.NewEncoder(&buf)
	enc.Indent = ""
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sortedUnique(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

type tfOp struct {
	severity finding.Severity
	ignore   bool
}

// TensorFlowOp returns how a TensorFlow graph op is reported: listed is
// false for ops the policy does not name, ignore is true for ops reported
// only when something else about them is odd (a path argument).
func (p *Policy) TensorFlowOp(op string) (sev finding.Severity, ignore, listed bool) {
	o, ok := p.tfOps[op]
	return o.severity, o.ignore, ok
}

// Severity applies the policy's severity override for a rule.
func (p *Policy) Severity(rule string, def finding.Severity) finding.Severity {
	if s, ok := p.severity[rule]; ok {
		return s
	}
	return def
}

// Suppressed reports whether a finding is suppressed, and why.
func (p *Policy) Suppressed(f *finding.Finding) (bool, string) {
	for _, s := range p.suppress {
		if s.Rule != "*" && s.Rule != f.Rule {
			continue
		}
		if s.path != nil && !s.path.MatchString(filepath.ToSlash(f.Path)) {
			continue
		}
		if s.evidence != nil && !s.evidence.MatchString(f.Evidence) {
			continue
		}
		return true, s.Reason
	}
	return false, ""
}

// globRegexp compiles a glob where ** spans path separators, * and ? do not.
func globRegexp(pat string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; {
		case c == '*' && i+1 < len(pat) && pat[i+1] == '*':
			b.WriteString(".*")
			i++
			if i+1 < len(pat) && pat[i+1] == '/' {
				b.WriteString("/?")
				i++
			}
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

func applyLimits(l *limits.Limits, m map[string]int64) error {
	for k, v := range m {
		switch k {
		case "MaxFileSize":
			l.MaxFileSize = v
		case "MaxDepth":
			l.MaxDepth = int(v)
		case "MaxMembers":
			l.MaxMembers = int(v)
		case "MaxMemberSize":
			l.MaxMemberSize = v
		case "MaxTotalBytes":
			l.MaxTotalBytes = v
		case "MaxRatio":
			l.MaxRatio = v
		case "MaxPickleOps":
			l.MaxPickleOps = v
		case "MaxPickleStack":
			l.MaxPickleStack = int(v)
		case "MaxPickleMemo":
			l.MaxPickleMemo = int(v)
		case "MaxPickleStringBytes":
			l.MaxPickleStringBytes = v
		case "MaxPickleValues":
			l.MaxPickleValues = v
		case "MaxPickleStreams":
			l.MaxPickleStreams = int(v)
		case "MaxTrailingScan":
			l.MaxTrailingScan = v
		case "PerFileTimeoutMs":
			l.PerFileTimeout = time.Duration(v) * time.Millisecond
		default:
			return fmt.Errorf("unknown limit %q", k)
		}
		if v <= 0 {
			return fmt.Errorf("limit %s must be positive", k)
		}
	}
	return nil
}
