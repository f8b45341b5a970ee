package jinja

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This lexer follows Jinja2's own (jinja2/lexer.py, default delimiters, no
// line statements: the settings of transformers and llama-cpp-python), so
// that what it calls a string, a name or an operator is what Jinja will
// compile. It is the ground truth for string literals: gonja's lexer
// decodes only \' and \" and mis-reads '\\', a parser differential an
// attacker could use, so every literal is replaced by a placeholder before
// gonja sees the template (see rewrite).

type tokKind uint8

const (
	tkName tokKind = iota
	tkString
	tkNumber
	tkOp
	tkBegin // {{ or {%
	tkEnd   // }} or %}
)

type token struct {
	kind tokKind
	val  string // names and operators as written; strings decoded
	off  int    // byte offset of the token in the template
	end  int    // byte offset just past it
	// hidden marks a string whose escapes spell identifier characters.
	hidden bool
	// block marks tkBegin/tkEnd of {% %} rather than {{ }}.
	block bool
}

// lexed is a template cut into expression tokens. Data, comments and raw
// blocks are output as they are and hold no tokens.
type lexed struct {
	toks []token
	// maxDepth is the deepest bracket nesting, maxTag the most tokens in
	// one tag, maxBlocks the deepest block-tag nesting: they bound the
	// recursion of the parser that runs next.
	maxDepth, maxTag, maxBlocks int
}

// lexError is a template Jinja would refuse to compile.
type lexError struct {
	off int
	msg string
}

func (e *lexError) Error() string { return fmt.Sprintf("offset %d: %s", e.off, e.msg) }

// blockOpeners are the tags that start a block closed by an end tag.
var blockOpeners = map[string]bool{
	"for": true, "if": true, "macro": true, "call": true, "filter": true, "with": true,
	"block": true, "autoescape": true, "trans": true, "generation": true,
}

// lex cuts src into tokens. On a syntax error it returns the tokens read so
// far with the error, so callers can still check them.
func lex(src string) (*lexed, error) {
	lx := &lexed{}
	pos := 0
	blocks := 0
	for pos < len(src) {
		i := nextTagStart(src, pos)
		if i < 0 {
			break
		}
		switch src[i+1] {
		case '#':
			end := strings.Index(src[i+2:], "#}")
			if end < 0 {
				return lx, &lexError{i, "missing end of comment tag"}
			}
			pos = i + 2 + end + 2
			continue
		case '%':
			if end, ok := rawBlockEnd(src, i); ok {
				if end < 0 {
					return lx, &lexError{i, "missing end of raw directive"}
				}
				pos = end
				continue
			}
		}
		block := src[i+1] == '%'
		start := len(lx.toks)
		n := 2 // "{{-" and "{%+" carry whitespace control
		if i+2 < len(src) && (src[i+2] == '-' || src[i+2] == '+') {
			n = 3
		}
		lx.toks = append(lx.toks, token{kind: tkBegin, val: src[i : i+n], off: i, end: i + n, block: block})
		next, err := lx.expr(src, i+n, block)
		if err != nil {
			return lx, err
		}
		pos = next
		lx.maxTag = max(lx.maxTag, len(lx.toks)-start)
		if block && start+1 < len(lx.toks) && lx.toks[start+1].kind == tkName {
			name := lx.toks[start+1].val
			switch {
			case strings.HasPrefix(name, "end"):
				blocks--
			case blockOpeners[name] || name == "set" && !hasAssign(lx.toks[start:]):
				blocks++
				lx.maxBlocks = max(lx.maxBlocks, blocks)
			}
		}
	}
	return lx, nil
}

// nextTagStart finds the next "{{", "{%" or "{#" at or after pos.
func nextTagStart(src string, pos int) int {
	for {
		j := strings.IndexByte(src[pos:], '{')
		if j < 0 || pos+j+1 >= len(src) {
			return -1
		}
		i := pos + j
		if c := src[i+1]; c == '{' || c == '%' || c == '#' {
			return i
		}
		pos = i + 1
	}
}

// rawBlockEnd reports whether the block tag at i is {% raw %}, and if so
// where the text after its {% endraw %} starts (-1: no end).
func rawBlockEnd(src string, i int) (int, bool) {
	p, ok := matchTag(src, i, "raw")
	if !ok {
		return 0, false
	}
	for {
		j := strings.Index(src[p:], "{%")
		if j < 0 {
			return -1, true
		}
		if e, ok := matchTag(src, p+j, "endraw"); ok {
			return e, true
		}
		p += j + 2
	}
}

// matchTag matches `{%[-+]?\s*word\s*[-+]?%}` at i and returns the end.
func matchTag(src string, i int, word string) (int, bool) {
	p := i + 2
	if p < len(src) && (src[p] == '-' || src[p] == '+') {
		p++
	}
	p = skipSpace(src, p)
	if !strings.HasPrefix(src[p:], word) {
		return 0, false
	}
	p = skipSpace(src, p+len(word))
	if p < len(src) && (src[p] == '-' || src[p] == '+') {
		p++
	}
	if !strings.HasPrefix(src[p:], "%}") {
		return 0, false
	}
	return p + 2, true
}

func skipSpace(src string, p int) int {
	for p < len(src) && isSpace(src[p]) {
		p++
	}
	return p
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func hasAssign(toks []token) bool {
	for _, t := range toks {
		if t.kind == tkOp && t.val == "=" {
			return true
		}
	}
	return false
}

var twoCharOps = []string{"//", "**", "==", "!=", ">=", "<="}

// expr reads the tokens of one tag up to its end delimiter and returns the
// offset after it.
func (lx *lexed) expr(src string, pos int, block bool) (int, error) {
	var stack []byte // open brackets, for Jinja's balancing rule
	for {
		pos = skipSpace(src, pos)
		if pos >= len(src) {
			return pos, &lexError{pos, "unexpected end of template inside a tag"}
		}
		// Jinja matches the end delimiter only when brackets balance.
		if len(stack) == 0 {
			if n := tagEnd(src, pos, block); n > 0 {
				lx.toks = append(lx.toks, token{kind: tkEnd, val: src[pos : pos+n], off: pos, end: pos + n, block: block})
				return pos + n, nil
			}
		}
		c := src[pos]
		switch {
		case c == '\'' || c == '"':
			end := stringEnd(src, pos)
			if end < 0 {
				return pos, &lexError{pos, "unterminated string literal"}
			}
			val, hidden, err := unescape(src[pos+1 : end-1])
			if err != nil {
				return pos, &lexError{pos, err.Error()}
			}
			// Jinja joins adjacent literals ("__cla" "ss__") into one.
			if n := len(lx.toks); n > 0 && lx.toks[n-1].kind == tkString {
				last := &lx.toks[n-1]
				last.val += val
				last.end = end
				last.hidden = last.hidden || hidden
			} else {
				lx.toks = append(lx.toks, token{kind: tkString, val: val, off: pos, end: end, hidden: hidden})
			}
			pos = end
		case c >= '0' && c <= '9':
			end := numberEnd(src, pos, len(lx.toks) > 0 && lx.toks[len(lx.toks)-1].val == ".")
			lx.toks = append(lx.toks, token{kind: tkNumber, val: src[pos:end], off: pos, end: end})
			pos = end
		case isNameStart(src, pos):
			end := nameEnd(src, pos)
			lx.toks = append(lx.toks, token{kind: tkName, val: src[pos:end], off: pos, end: end})
			pos = end
		default:
			n := 1
			for _, op := range twoCharOps {
				if strings.HasPrefix(src[pos:], op) {
					n = 2
					break
				}
			}
			op := src[pos : pos+n]
			if n == 1 && !strings.Contains("+-/*%~[](){}.,:|=<>;", op) {
				return pos, &lexError{pos, "unexpected character " + strconv.Quote(op)}
			}
			switch op {
			case "(", "[", "{":
				stack = append(stack, op[0])
				lx.maxDepth = max(lx.maxDepth, len(stack))
			case ")", "]", "}":
				want := map[string]byte{")": '(', "]": '[', "}": '{'}[op]
				if len(stack) == 0 || stack[len(stack)-1] != want {
					return pos, &lexError{pos, "unbalanced " + op}
				}
				stack = stack[:len(stack)-1]
			}
			lx.toks = append(lx.toks, token{kind: tkOp, val: op, off: pos, end: pos + n})
			pos += n
		}
	}
}

// tagEnd returns the length of the end delimiter at pos (with its "-" or
// "+" modifier), or 0.
func tagEnd(src string, pos int, block bool) int {
	end := "}}"
	if block {
		end = "%}"
	}
	p := pos
	if p < len(src) && (src[p] == '-' || src[p] == '+') {
		p++
	}
	if strings.HasPrefix(src[p:], end) {
		return p + 2 - pos
	}
	return 0
}

// stringEnd returns the offset after the closing quote of the literal at
// pos, or -1. Backslash escapes any character, newlines included.
func stringEnd(src string, pos int) int {
	q := src[pos]
	for i := pos + 1; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case q:
			return i + 1
		}
	}
	return -1
}

// numberEnd returns the end of the number at pos: Python-style digits
// with "_" separators, base prefixes, a fraction (not after a ".", where
// Jinja reads "a.0.1" as two subscripts) and an exponent.
func numberEnd(src string, pos int, afterDot bool) int {
	run := func(p int) int {
		for p < len(src) && isIdentChar(src[p]) {
			if (src[p] == 'e' || src[p] == 'E') && p+2 < len(src) && (src[p+1] == '+' || src[p+1] == '-') {
				p += 2
			}
			p++
		}
		return p
	}
	p := run(pos)
	if !afterDot && p+1 < len(src) && src[p] == '.' && src[p+1] >= '0' && src[p+1] <= '9' {
		p = run(p + 1)
	}
	return p
}

func isNameStart(src string, pos int) bool {
	c := src[pos]
	if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		return true
	}
	if c < utf8.RuneSelf {
		return false
	}
	r, _ := utf8.DecodeRuneInString(src[pos:])
	return unicode.IsLetter(r)
}

func nameEnd(src string, pos int) int {
	for pos < len(src) {
		c := src[pos]
		if c < utf8.RuneSelf {
			if !isIdentChar(c) {
				return pos
			}
			pos++
			continue
		}
		r, n := utf8.DecodeRuneInString(src[pos:])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r) && !unicode.Is(unicode.Mc, r) && !unicode.Is(unicode.Pc, r) {
			return pos
		}
		pos += n
	}
	return pos
}

// placeholder is what a string literal becomes in the text handed to
// gonja: private-use code points around the literal's token index, which
// gonja's lexer reads back unchanged.
func placeholder(i int) string { return "\uE000" + strconv.Itoa(i) + "\uE001" }

// literalIndex decodes a placeholder, or returns -1.
func literalIndex(s string) int {
	body, ok := strings.CutPrefix(s, "\uE000")
	if !ok {
		return -1
	}
	body, ok = strings.CutSuffix(body, "\uE001")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(body)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// rewrite returns src prepared for gonja, and a map from offsets in the
// result back to offsets in src:
//   - every string literal becomes its placeholder;
//   - conditional expressions ("a if b else c"), which gonja accepts only
//     once at the top of {{ }} and {% set %}, have their "if" and "else"
//     replaced by the same-length "or" and "or  ": every operand is still
//     walked, only the choice between them is lost. The tag's own keyword
//     ({% if %}, {% else %}) and a for-loop's filter ({% for x in y if z
//     %}) stay;
//   - a trailing comma before a closing bracket ([1, 2,]) becomes a space;
//   - carriage returns become spaces (gonja normalises line ends, which
//     would shift offsets).
func (lx *lexed) rewrite(src string) (string, *offsetMap) {
	var b strings.Builder
	b.Grow(len(src))
	m := &offsetMap{}
	prev, depth, tagName, assignAt, commaAt := 0, 0, "", -1, -1
	replace := func(t token, with string) {
		b.WriteString(src[prev:t.off])
		b.WriteString(with)
		prev = t.end
	}
	toks := lx.toks
	for i, t := range toks {
		switch {
		case t.kind == tkBegin:
			depth, tagName, assignAt, commaAt = 0, "", -1, -1
			if t.block && i+1 < len(toks) && toks[i+1].kind == tkName {
				tagName = toks[i+1].val
			}
			if tagName == "set" {
				assignAt, commaAt = topLevel(toks, i, "="), topLevel(toks, i, ",")
			}
		case t.kind == tkOp && strings.Contains("([{", t.val):
			depth++
		case t.kind == tkOp && strings.Contains(")]}", t.val):
			depth--
		case t.kind == tkOp && t.val == "," && i+1 < len(toks) && toks[i+1].kind == tkOp && strings.Contains(")]}", toks[i+1].val):
			replace(t, " ")
		case tagName == "set" && commaAt >= 0 && commaAt < assignAt && i >= commaAt && i < assignAt:
			// {% set a, b = … %}: gonja takes one target; keep the first.
			replace(t, strings.Repeat(" ", t.end-t.off))
		case tagName == "set" && depth == 0 && assignAt >= 0 && i > assignAt && t.val == "," && t.kind == tkOp:
			// … = 1, 2: gonja wants a single value; join the items.
			replace(t, "~")
		case t.kind == tkName && (t.val == "if" || t.val == "else"):
			first := i > 0 && toks[i-1].kind == tkBegin
			if !first && !(tagName == "for" && depth == 0) {
				replace(t, map[string]string{"if": "or", "else": "or  "}[t.val])
			}
		case t.kind == tkString:
			b.WriteString(src[prev:t.off])
			b.WriteByte('"')
			b.WriteString(placeholder(i))
			b.WriteByte('"')
			prev = t.end
			m.add(b.Len(), t.end)
		}
	}
	b.WriteString(src[prev:])
	return strings.ReplaceAll(b.String(), "\r", " "), m
}

// topLevel returns the index of the first operator op outside brackets in
// the tag that starts at begin, or -1.
func topLevel(toks []token, begin int, op string) int {
	depth := 0
	for j := begin + 1; j < len(toks) && toks[j].kind != tkEnd; j++ {
		if toks[j].kind != tkOp {
			continue
		}
		switch toks[j].val {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			depth--
		case op:
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// offsetMap maps offsets in a rewritten template to the original.
type offsetMap struct {
	newOff, oldOff []int
}

func (m *offsetMap) add(newOff, oldOff int) {
	m.newOff = append(m.newOff, newOff)
	m.oldOff = append(m.oldOff, oldOff)
}

func (m *offsetMap) orig(off int) int {
	// Segments are few (one per literal) and sorted.
	lo, hi := 0, len(m.newOff)
	for lo < hi {
		mid := (lo + hi) / 2
		if m.newOff[mid] <= off {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return off
	}
	return m.oldOff[lo-1] + off - m.newOff[lo-1]
}
