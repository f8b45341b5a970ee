package pysrc

import (
	"fmt"
	"slices"
	"strings"
)

// Call is a use of a dangerous API.
type Call struct {
	// Name is the qualified name used, e.g. "subprocess.run".
	Name     string
	Category Category
	// Line is 1-based; Offset is the byte offset of the name.
	Line, Offset int
	// AtImport is set for module-level code, which runs as soon as the
	// file is imported (for custom model code: when the model loads).
	AtImport bool
	// Detail adds what made the call notable: "trust_remote_code=True",
	// "computed attribute", a repository name.
	Detail string
	// Snippet is the source line, trimmed (not redacted).
	Snippet string
}

// RelImport is a relative import (from .x import y): files of the same
// package that are loaded with this one.
type RelImport struct {
	Level  int    // number of leading dots
	Module string // "x.y", or "" for "from . import name"
	Names  []string
}

// Result is what Analyze found in a file.
type Result struct {
	Imports  []string // absolute modules imported, in order, unique
	Relative []RelImport
	Calls    []Call
	// Err is set when the file could not be read to the end cleanly
	// (an unterminated string); what came before was analyzed.
	Err error
	// Truncated is set when a limit stopped the analysis.
	Truncated bool
}

// Limits of one analysis.
const (
	maxTokens     = 4_000_000
	maxLineTokens = 200_000
	maxCalls      = 10_000
)

// Analyze reads Python source and lists its imports and dangerous calls.
func Analyze(src []byte) *Result {
	a := &analysis{res: &Result{}, alias: map[string]string{}, src: src, seenImport: map[string]bool{}}
	lx := newLexer(src)
	var line []Token
	for n := 0; ; n++ {
		if n >= maxTokens {
			a.res.Truncated = true
			break
		}
		t := lx.next()
		if t.Kind == EOF {
			break
		}
		if t.Kind != Newline {
			line = append(line, t)
			if len(line) < maxLineTokens {
				continue
			}
			a.res.Truncated = true // a huge literal: analyzed in pieces
		}
		a.logical(line)
		line = line[:0]
		if len(a.res.Calls) >= maxCalls {
			a.res.Truncated = true
			break
		}
	}
	if len(line) > 0 {
		a.logical(line)
	}
	a.res.Err = lx.err
	return a.res
}

type analysis struct {
	res        *Result
	src        []byte
	alias      map[string]string // bound name → qualified name
	star       []string          // modules imported with *
	blocks     []block           // enclosing def/class blocks
	seenImport map[string]bool
	lineStarts []int // byte offset of each line, built on first use
	depth      int   // f-strings within f-strings
}

type block struct {
	indent int
	def    bool
}

// logical analyzes one logical line.
func (a *analysis) logical(toks []Token) {
	if len(toks) == 0 {
		return
	}
	indent := toks[0].Col
	for len(a.blocks) > 0 && a.blocks[len(a.blocks)-1].indent >= indent {
		a.blocks = a.blocks[:len(a.blocks)-1]
	}
	atImport := !slices.ContainsFunc(a.blocks, func(b block) bool { return b.def })
	first := toks[0].Text
	if first == "async" && len(toks) > 1 {
		first = toks[1].Text
	}
	switch first {
	case "def", "class":
		a.blocks = append(a.blocks, block{indent: indent, def: first == "def"})
		// Default arguments and decorators run at definition time; the
		// body runs later. Calls on the def line are few; treat them as
		// part of the enclosing scope.
	}
	// Statements can be joined by ';'.
	start := 0
	for i := 0; i <= len(toks); i++ {
		if i == len(toks) || toks[i].Kind == Op && toks[i].Text == ";" {
			stmt := toks[start:i]
			start = i + 1
			if len(stmt) == 0 {
				continue
			}
			if stmt[0].Kind == Name && (stmt[0].Text == "import" || stmt[0].Text == "from") {
				a.imports(stmt)
				continue
			}
			a.calls(stmt, atImport)
		}
	}
}

// imports records the names an import statement binds.
func (a *analysis) imports(t []Token) {
	if t[0].Text == "import" {
		for _, part := range splitTop(t[1:], ",") {
			mod, as := dotted(part)
			if mod == "" {
				continue
			}
			a.addImport(mod)
			if as != "" {
				a.alias[as] = mod
			} else {
				head, _, _ := strings.Cut(mod, ".")
				a.alias[head] = head
			}
		}
		return
	}
	// from [.]*module import names
	i, level := 1, 0
	for i < len(t) && t[i].Kind == Op && (t[i].Text == "." || t[i].Text == "...") {
		level += len(t[i].Text)
		i++
	}
	var mod []string
	for i < len(t) && !(t[i].Kind == Name && t[i].Text == "import") {
		if t[i].Kind == Name {
			mod = append(mod, t[i].Text)
		}
		i++
	}
	if i >= len(t) {
		return
	}
	module := strings.Join(mod, ".")
	var names []string
	for _, part := range splitTop(t[i+1:], ",") {
		part = trimParens(part)
		if len(part) == 1 && part[0].Text == "*" {
			if level == 0 {
				a.star = append(a.star, module)
			}
			names = append(names, "*")
			continue
		}
		name, as := dotted(part)
		if name == "" {
			continue
		}
		names = append(names, name)
		if as == "" {
			as = name
		}
		if level == 0 {
			a.alias[as] = module + "." + name
		} else {
			delete(a.alias, as)
		}
	}
	if level > 0 {
		a.res.Relative = append(a.res.Relative, RelImport{Level: level, Module: module, Names: names})
		return
	}
	a.addImport(module)
}

func (a *analysis) addImport(mod string) {
	if !a.seenImport[mod] {
		a.seenImport[mod] = true
		a.res.Imports = append(a.res.Imports, mod)
	}
}

// dotted reads "a.b.c [as x]" from tokens.
func dotted(t []Token) (name, as string) {
	var parts []string
	for i := 0; i < len(t); i++ {
		switch {
		case t[i].Kind == Name && t[i].Text == "as" && i+1 < len(t):
			return strings.Join(parts, "."), t[i+1].Text
		case t[i].Kind == Name:
			parts = append(parts, t[i].Text)
		}
	}
	return strings.Join(parts, "."), ""
}

func trimParens(t []Token) []Token {
	for len(t) > 0 && t[0].Kind == Op && t[0].Text == "(" {
		t = t[1:]
	}
	for len(t) > 0 && t[len(t)-1].Kind == Op && t[len(t)-1].Text == ")" {
		t = t[:len(t)-1]
	}
	return t
}

// splitTop splits tokens at sep outside brackets.
func splitTop(t []Token, sep string) [][]Token {
	var out [][]Token
	depth, start := 0, 0
	for i, tok := range t {
		if tok.Kind != Op {
			continue
		}
		switch tok.Text {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			depth--
		case sep:
			if depth == 0 {
				out = append(out, t[start:i])
				start = i + 1
			}
		}
	}
	return append(out, t[start:])
}

// qualify resolves a dotted name written in the file to what it refers
// to, through the import aliases; "" when its head is not an import.
func (a *analysis) qualify(parts []string) string {
	if q, ok := a.alias[parts[0]]; ok {
		return strings.Join(append([]string{q}, parts[1:]...), ".")
	}
	if len(parts) == 1 {
		if builtinCalls[parts[0]] {
			return "builtins." + parts[0]
		}
		for _, m := range a.star {
			if _, ok := lookup(m + "." + parts[0]); ok {
				return m + "." + parts[0]
			}
		}
	}
	if parts[0] == "__builtins__" && len(parts) > 1 {
		return "builtins." + strings.Join(parts[1:], ".")
	}
	return ""
}

// calls finds references to dangerous names in a logical line, and the
// keyword arguments that make calls notable.
func (a *analysis) calls(t []Token, atImport bool) {
	add := func(name string, c Category, tok Token, detail string) {
		a.res.Calls = append(a.res.Calls, Call{Name: name, Category: c, Line: tok.Line, Offset: tok.Offset, AtImport: atImport, Detail: detail, Snippet: a.lineText(tok.Line)})
	}
	for i := 0; i < len(t); i++ {
		tok := t[i]
		if tok.Kind == String {
			a.fstring(tok, atImport)
			continue
		}
		if tok.Kind != Name || (i > 0 && t[i-1].Kind == Op && t[i-1].Text == ".") {
			continue
		}
		if tok.Text == "__builtins__" {
			add("__builtins__", Exec, tok, "reaches builtins dynamically")
		}
		// Read the dotted chain a.b.c starting here.
		parts := []string{tok.Text}
		j := i + 1
		for j+1 < len(t) && t[j].Kind == Op && t[j].Text == "." && t[j+1].Kind == Name {
			parts = append(parts, t[j+1].Text)
			j += 2
		}
		isCall := j < len(t) && t[j].Kind == Op && t[j].Text == "("
		var args [][]Token
		if isCall {
			args = callArgs(t, j)
		}
		if kw, ok := keyword(args, "trust_remote_code"); ok && kw == "True" {
			detail := "trust_remote_code=True"
			if len(args) > 0 && len(args[0]) == 1 {
				if s, ok := literal(args[0][0]); ok {
					detail += fmt.Sprintf(" (loads %q)", s)
				}
			}
			add(strings.Join(parts, "."), RemoteCode, tok, detail)
		}
		if len(parts) == 1 && parts[0] == "getattr" && isCall {
			a.getattr(args, tok, add)
		}
		if a.qualify(parts) == "" {
			i = j - 1
			continue
		}
		// Any prefix of the chain may be the dangerous name
		// (subprocess.run.__call__, os.system.__doc__).
		for k := len(parts); k >= 1; k-- {
			q := a.qualify(parts[:k])
			if c, ok := lookup(q); ok {
				if detail, skip := a.qualifiers(q, args, isCall && k == len(parts)); !skip {
					add(q, c, tok, detail)
				}
				break
			}
		}
		i = j - 1
	}
}

// fstring analyzes the expressions inside an f-string's braces, which
// run when the string is built.
func (a *analysis) fstring(tok Token, atImport bool) {
	q := strings.IndexAny(tok.Text, `'"`)
	if q <= 0 || !strings.ContainsAny(tok.Text[:q], "fFtT") || a.depth >= 3 {
		return
	}
	a.depth++
	defer func() { a.depth-- }()
	body := tok.Text
	for i := 0; i < len(body); i++ {
		if body[i] != '{' {
			continue
		}
		if i+1 < len(body) && body[i+1] == '{' {
			i++ // an escaped brace
			continue
		}
		depth, j := 1, i+1
		for ; j < len(body) && depth > 0; j++ {
			switch body[j] {
			case '{':
				depth++
			case '}':
				depth--
			}
		}
		expr := body[i+1 : max(i+1, j-1)]
		lx := newLexer([]byte(expr))
		var sub []Token
		for n := 0; n < maxLineTokens; n++ {
			st := lx.next()
			if st.Kind == EOF {
				break
			}
			if st.Kind != Newline {
				st.Line += tok.Line - 1
				st.Offset += tok.Offset + i + 1
				sub = append(sub, st)
			}
		}
		if len(sub) > 0 {
			a.calls(sub, atImport)
		}
		i = j - 1
	}
}

// qualifiers applies the arguments that make a call safe (torch.load
// with weights_only=True) or dangerous.
func (a *analysis) qualifiers(q string, args [][]Token, direct bool) (detail string, skip bool) {
	if !direct {
		return "", false
	}
	switch q {
	case "torch.load":
		if v, ok := keyword(args, "weights_only"); ok && v == "True" {
			return "", true
		}
		return "without weights_only=True", false
	case "numpy.load":
		if v, ok := keyword(args, "allow_pickle"); ok && v == "True" {
			return "allow_pickle=True", false
		}
		return "", true
	case "yaml.load", "yaml.load_all":
		if v, ok := keyword(args, "Loader"); ok && strings.Contains(v, "Safe") || ok && strings.HasSuffix(v, "BaseLoader") {
			return "", true
		}
		if len(args) > 1 && strings.Contains(joinText(args[1]), "Safe") {
			return "", true
		}
	}
	return "", false
}

// getattr flags getattr(module, "name") on dangerous names, and
// getattr(module, <computed>) on sensitive modules.
func (a *analysis) getattr(args [][]Token, tok Token, add func(string, Category, Token, string)) {
	if len(args) < 2 {
		return
	}
	var parts []string
	for _, t := range args[0] {
		if t.Kind == Name {
			parts = append(parts, t.Text)
		} else if !(t.Kind == Op && t.Text == ".") {
			return // not a plain dotted name
		}
	}
	if len(parts) == 0 {
		return
	}
	mod := a.qualify(parts)
	if mod == "" {
		return
	}
	if len(args[1]) == 1 {
		if s, ok := literal(args[1][0]); ok {
			if c, ok := lookup(mod + "." + s); ok {
				add(mod+"."+s, c, tok, "through getattr")
			}
			return
		}
	}
	head, _, _ := strings.Cut(mod, ".")
	if sensitiveModules[head] {
		add(mod+".<computed>", Exec, tok, "computed attribute of "+mod)
	}
}

// callArgs splits the arguments of the call whose "(" is at t[open].
func callArgs(t []Token, open int) [][]Token {
	depth := 0
	for k := open; k < len(t); k++ {
		if t[k].Kind != Op {
			continue
		}
		switch t[k].Text {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			depth--
			if depth == 0 {
				if k == open+1 {
					return nil
				}
				return splitTop(t[open+1:k], ",")
			}
		}
	}
	return splitTop(t[open+1:], ",")
}

// keyword returns the text of keyword argument name=value.
func keyword(args [][]Token, name string) (string, bool) {
	for _, arg := range args {
		if len(arg) >= 3 && arg[0].Kind == Name && arg[0].Text == name && arg[1].Kind == Op && arg[1].Text == "=" {
			return joinText(arg[2:]), true
		}
	}
	return "", false
}

func joinText(t []Token) string {
	var b strings.Builder
	for _, x := range t {
		b.WriteString(x.Text)
	}
	return b.String()
}

// lineText returns a source line, trimmed and shortened.
func (a *analysis) lineText(n int) string {
	if a.lineStarts == nil {
		a.lineStarts = []int{0}
		for i, c := range a.src {
			if c == '\n' {
				a.lineStarts = append(a.lineStarts, i+1)
			}
		}
	}
	if n < 1 || n > len(a.lineStarts) {
		return ""
	}
	start, end := a.lineStarts[n-1], len(a.src)
	if n < len(a.lineStarts) {
		end = a.lineStarts[n] - 1
	}
	out := strings.TrimSpace(string(a.src[start:end]))
	if len(out) > 200 {
		out = out[:200] + "…"
	}
	return out
}
