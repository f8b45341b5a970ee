// Package jinja checks Jinja2 templates, the chat templates that GGUF files
// (tokenizer.chat_template) and Hugging Face tokenizer configs carry, for
// server-side template injection, without rendering them.
//
// A loader that renders a chat template outside Jinja's sandbox runs
// whatever the template reaches (CVE-2024-34359: llama-cpp-python), and
// every such payload has to get from a template value to Python's
// internals: a dunder attribute (__class__, __globals__, __subclasses__,
// __builtins__), a private one, or a global whose attributes lead there
// (cycler, joiner, lipsum, self, request, config). Check looks for those by
// every route Jinja offers: attributes, subscripts, the attr filter,
// attribute= arguments, str.format fields, and names assembled from pieces
// with ~, +, %, format, join, replace, slicing, reversing or characters
// picked out of stringified objects, which it folds as Python would.
//
// It works in two passes. A lexer that follows Jinja2's own reads every
// string literal (decoding its escapes) and name, and checks them; this
// pass always runs, so a template the parser rejects is still checked
// token by token. Then gonja (github.com/nikolalohinski/gonja/v2) parses
// the template, with every literal replaced by a placeholder so that
// gonja's lexer cannot disagree with Jinja's about strings, and the checker
// walks the AST, folding constants and following {% set %}, {% for %} and
// namespace() assignments until they stop changing.
//
// Usage:
//
//	res, err := jinja.Check(ctx, template, jinja.Options{})
//	fs := res.Findings(rules, `GGUF key "tokenizer.chat_template"`, fileOffset)
//
// err is non-nil only for cancellation and limits (errors.Is(err,
// limits.ErrLimit)); res is valid either way and holds what was found.
package jinja

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"modelgate/internal/finding"
	"modelgate/internal/limits"
)

// Issue is one thing found in a template.
type Issue struct {
	// Rule is a finding rule ID (finding.RuleJinja…).
	Rule string
	// Name is what the issue is about: the attribute, global or string,
	// or the expression for computed names.
	Name string
	// Message says what was found, in a sentence.
	Message string
	// Offset is the byte offset in the template, or -1.
	Offset int
	// Snippet is the template tag around Offset, shortened.
	Snippet string
}

// Result is what Check found.
type Result struct {
	Issues []Issue
	// Parsed reports that the template parsed, so the structural checks
	// (assembled names, assignments) ran as well as the token checks.
	Parsed bool
}

// Options bound a check. Zero fields take the defaults.
type Options struct {
	// MaxBytes is the largest template parsed (default 4 MiB; real chat
	// templates are under 100 KiB). Larger ones are checked token by
	// token and reported as over a limit.
	MaxBytes int
	// MaxTagTokens bounds the tokens in one {{ }} or {% %} tag, and
	// MaxNesting the depth of brackets and of block tags: together they
	// bound the parser's recursion (defaults 4096 and 128).
	MaxTagTokens int
	MaxNesting   int
}

func (o Options) withDefaults() Options {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 4 << 20
	}
	if o.MaxTagTokens <= 0 {
		o.MaxTagTokens = 4096
	}
	if o.MaxNesting <= 0 {
		o.MaxNesting = 128
	}
	return o
}

// maxPasses bounds how often the AST is walked to let assignments settle.
const maxPasses = 4

// Check checks one template. It never renders or executes it.
func Check(ctx context.Context, src string, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	c := &checker{src: src, index: map[issueKey]int{}, omap: &offsetMap{}}
	res := &Result{}
	defer func() { res.Issues = c.issues }()

	lx, lerr := lex(src)
	c.lx = lx
	c.tokenChecks()
	if lerr != nil {
		c.add(finding.RuleJinjaParseError, "", "Jinja would refuse this template ("+lerr.Error()+"); it was checked token by token only", -1)
		return res, nil
	}
	switch {
	case len(src) > opts.MaxBytes:
		return res, limits.Exceeded("MaxTemplateBytes", int64(len(src)), int64(opts.MaxBytes), -1)
	case lx.maxTag > opts.MaxTagTokens:
		return res, limits.Exceeded("MaxTemplateTagTokens", int64(lx.maxTag), int64(opts.MaxTagTokens), -1)
	case max(lx.maxDepth, lx.maxBlocks) > opts.MaxNesting:
		return res, limits.Exceeded("MaxTemplateNesting", int64(max(lx.maxDepth, lx.maxBlocks)), int64(opts.MaxNesting), -1)
	}
	rewritten, omap := lx.rewrite(src)
	c.omap = omap
	tpl, perr := parse(rewritten)
	if perr != nil {
		c.add(finding.RuleJinjaParseError, "", "the template could not be parsed ("+shorten(perr.Error(), 200)+"); it was checked token by token only", -1)
		return res, nil
	}
	w := &walker{ctx: ctx, c: c, env: map[string]fval{}}
	for range maxPasses {
		before := snapshot(w.env)
		w.seen = map[uintptr]bool{}
		w.nodes = 0
		w.walk(reflectValue(tpl))
		if w.errCtx != nil {
			return res, w.errCtx
		}
		if w.nodes > maxWalkNodes {
			return res, limits.Exceeded("MaxTemplateNodes", int64(w.nodes), maxWalkNodes, -1)
		}
		if sameEnv(before, w.env) {
			break
		}
	}
	res.Parsed = true
	return res, nil
}

func snapshot(env map[string]fval) map[string]fval {
	out := make(map[string]fval, len(env))
	for k, v := range env {
		out[k] = v
	}
	return out
}

func sameEnv(a, b map[string]fval) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !equal(v, w) {
			return false
		}
	}
	return true
}

// Findings turns the issues into findings. where names the template in
// messages (`GGUF key "tokenizer.chat_template"`); base is the byte offset
// of the template's first byte in the file, or finding.NoOffset when
// template offsets do not map to file offsets (a JSON string with escapes).
func (r *Result) Findings(rules *finding.Catalogue, where string, base int64) []finding.Finding {
	out := make([]finding.Finding, 0, len(r.Issues))
	for _, is := range r.Issues {
		off := finding.NoOffset
		if base != finding.NoOffset && is.Offset >= 0 {
			off = base + int64(is.Offset)
		}
		msg := is.Message
		if where != "" {
			msg = where + ": " + msg
		}
		ev := is.Snippet
		if ev == "" {
			ev = is.Name
		}
		out = append(out, rules.New(is.Rule, msg, ev, off))
	}
	return out
}

type issueKey struct{ rule, name string }

// at gives the template offset of what is being checked. The walker
// computes offsets by reflection, so only when an issue is reported.
type at func() int

func fixed(off int) at { return func() int { return off } }

// checker collects issues, one per rule and name.
type checker struct {
	src    string
	lx     *lexed
	omap   *offsetMap
	issues []Issue
	index  map[issueKey]int
}

func (c *checker) add(rule, name, msg string, off int) {
	k := issueKey{rule, name}
	if _, dup := c.index[k]; dup {
		return
	}
	c.index[k] = len(c.issues)
	c.issues = append(c.issues, Issue{Rule: rule, Name: name, Message: msg, Offset: off, Snippet: c.snippet(off)})
}

// checkString flags a string (a literal, or one the template assembles)
// that can serve as a name reaching Python internals: the whole string is
// an attribute name or dotted path with a dunder in it, or it holds a
// str.format field that fetches one ("{0.__class__}"). Prose that merely
// mentions __init__ is not a name; a template that cuts a name out of it
// is caught where the cut is folded.
func (c *checker) checkString(s string, pos at, assembled bool) {
	d := ""
	if t := strings.TrimSpace(s); isNamePath(t) {
		d = dunderIn(t, !assembled)
	} else if f := formatFieldDunder(s); f != "" {
		d = f
	}
	if d == "" {
		return
	}
	msg := fmt.Sprintf("a string literal names %q", d)
	if assembled {
		msg = fmt.Sprintf("the template assembles the name %q from pieces (%q)", d, shorten(s, 80))
	}
	c.add(finding.RuleJinjaDunder, d, msg, pos())
}

// isNamePath reports whether s is an identifier or a dotted path of them.
func isNamePath(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdentChar(s[i]) && s[i] != '.' {
			return false
		}
	}
	return true
}

// formatFieldDunder returns the dunder a str.format replacement field in s
// reaches ("{0.__class__}", "{x[__globals__]}"), or "".
func formatFieldDunder(s string) string {
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			return ""
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return ""
		}
		if d := dunderIn(s[i+1:i+j], false); d != "" && !strings.ContainsAny(s[i+1:i+j], " {") {
			return d
		}
		s = s[i+1:]
	}
}

// checkAttr flags an attribute name fetched by route.
func (c *checker) checkAttr(name, route string, pos at) {
	if why := badAttr(name); why != "" {
		if route == "subscript" && why == "a private name" && !strings.Contains(name[1:], "__") {
			return // x['_key']: a dict lookup, not an attribute
		}
		c.add(finding.RuleJinjaDunder, name, fmt.Sprintf("%s %q reaches Python internals (%s)", route, name, why), pos())
		return
	}
	if runtimeAttrs[name] {
		c.add(finding.RuleJinjaRuntimeAttr, name, fmt.Sprintf("%s %q names a Python module or code-running function", route, name), pos())
	}
}

// tokenChecks is the pass over the Jinja-faithful tokens.
func (c *checker) tokenChecks() {
	toks := c.lx.toks
	for i, t := range toks {
		switch t.kind {
		case tkString:
			if t.hidden {
				c.add(finding.RuleJinjaObfuscated, c.src[t.off:t.end], "a string literal spells identifier characters with escape sequences", t.off)
			}
			c.checkString(t.val, fixed(t.off), false)
		case tkName:
			prev, next := opAt(toks, i-1), opAt(toks, i+1)
			if prev == "." {
				c.checkAttr(t.val, "attribute", fixed(t.off))
				continue
			}
			if strings.HasPrefix(t.val, "__") {
				c.add(finding.RuleJinjaDunder, t.val, fmt.Sprintf("the template uses the name %q", t.val), t.off)
			}
			if !gadgetGlobals[t.val] || prev == "|" || next == "=" || t.val == "namespace" && next == "(" {
				continue
			}
			if i > 0 && toks[i-1].kind == tkName && toks[i-1].val == "is" {
				continue // a test name
			}
			c.add(finding.RuleJinjaGadgetGlobal, t.val,
				fmt.Sprintf("the template uses the global %q, whose attributes lead to Python's globals and builtins (cycler.__init__.__globals__, lipsum.__globals__)", t.val), t.off)
		}
	}
}

func opAt(toks []token, i int) string {
	if i < 0 || i >= len(toks) || toks[i].kind != tkOp {
		return ""
	}
	return toks[i].val
}

// snippet returns the tag around off, shortened, for evidence.
func (c *checker) snippet(off int) string {
	if off < 0 || off > len(c.src) || c.lx == nil {
		return ""
	}
	toks := c.lx.toks
	i := sort.Search(len(toks), func(i int) bool { return toks[i].off > off })
	start, end := off, min(len(c.src), off+1)
	for j := i - 1; j >= 0; j-- {
		if toks[j].kind == tkBegin {
			start = toks[j].off
			break
		}
	}
	for j := i; j < len(toks); j++ {
		if toks[j].kind == tkEnd {
			end = toks[j].end
			break
		}
	}
	s := c.src[start:end]
	if len(s) > 160 {
		lo := max(0, off-start-60)
		s = "…" + shorten(s[lo:], 100)
	}
	return s
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
