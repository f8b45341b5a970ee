// Package pysrc reads Python source without running it: a small
// tokenizer (names, strings, numbers, operators, logical lines, brackets)
// and an analysis that resolves imports and aliases and lists the calls a
// file makes to code-running, network, deserialising and remote-code
// APIs. It is a lexer, not a parser: it cannot be fooled into executing
// anything, and it errs on the side of reporting.
package pysrc

import (
	"errors"
	"strings"
)

// Kind is a token kind.
type Kind uint8

// Token kinds.
const (
	Name Kind = iota
	Op
	String
	Number
	Newline // end of a logical line
	EOF
)

// Token is one lexical token.
type Token struct {
	Kind Kind
	// Text is the token as written (a string with its prefix and quotes).
	Text string
	// Line and Col (bytes, from 0) locate its start; Offset is its byte
	// offset in the source.
	Line, Col, Offset int
}

// ErrUnterminated is reported for a string that runs to the end of its
// line or file; the tokenizer recovers and goes on.
var ErrUnterminated = errors.New("unterminated string")

// lexer turns source into tokens, one at a time.
type lexer struct {
	src       []byte
	i         int
	line, col int // of src[i]
	depth     int // bracket nesting
	lastNL    bool
	err       error
}

func newLexer(src []byte) *lexer { return &lexer{src: src, line: 1, lastNL: true} }

func (l *lexer) advance(n int) {
	for k := 0; k < n && l.i < len(l.src); k++ {
		if l.src[l.i] == '\n' {
			l.line++
			l.col = 0
		} else {
			l.col++
		}
		l.i++
	}
}

var ops3 = []string{"**=", "//=", ">>=", "<<=", "...", "!=="}
var ops2 = []string{"==", "!=", "<=", ">=", ":=", "->", "**", "//", "<<", ">>", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@="}

// next returns the next token.
func (l *lexer) next() Token {
	for l.i < len(l.src) {
		c := l.src[l.i]
		switch {
		case c == ' ' || c == '\t' || c == '\f':
			l.advance(1)
		case c == '\\' && l.i+1 < len(l.src) && (l.src[l.i+1] == '\n' || l.src[l.i+1] == '\r'):
			l.advance(2)
			if l.i < len(l.src) && l.src[l.i-1] == '\r' && l.src[l.i] == '\n' {
				l.advance(1)
			}
		case c == '#':
			for l.i < len(l.src) && l.src[l.i] != '\n' && l.src[l.i] != '\r' {
				l.advance(1)
			}
		case c == '\n' || c == '\r':
			line, col := l.line, l.col
			l.advance(1)
			if l.depth == 0 && !l.lastNL {
				l.lastNL = true
				return Token{Kind: Newline, Text: "\n", Line: line, Col: col, Offset: l.i - 1}
			}
		default:
			l.lastNL = false
			return l.token()
		}
	}
	if !l.lastNL {
		l.lastNL = true
		return Token{Kind: Newline, Text: "\n", Line: l.line, Col: l.col, Offset: l.i}
	}
	return Token{Kind: EOF, Line: l.line, Col: l.col, Offset: l.i}
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdent(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func (l *lexer) token() Token {
	start, line, col := l.i, l.line, l.col
	c := l.src[l.i]
	switch {
	case isIdentStart(c):
		j := l.i
		for j < len(l.src) && isIdent(l.src[j]) {
			j++
		}
		word := string(l.src[l.i:j])
		if j < len(l.src) && (l.src[j] == '"' || l.src[j] == '\'') && isStringPrefix(word) {
			l.advance(j - l.i)
			l.str()
			return Token{Kind: String, Text: string(l.src[start:l.i]), Line: line, Col: col, Offset: start}
		}
		l.advance(j - l.i)
		return Token{Kind: Name, Text: word, Line: line, Col: col, Offset: start}
	case c == '"' || c == '\'':
		l.str()
		return Token{Kind: String, Text: string(l.src[start:l.i]), Line: line, Col: col, Offset: start}
	case c >= '0' && c <= '9' || c == '.' && l.i+1 < len(l.src) && l.src[l.i+1] >= '0' && l.src[l.i+1] <= '9':
		j := l.i + 1
		for j < len(l.src) {
			d := l.src[j]
			if isIdent(d) || d == '.' || (d == '+' || d == '-') && (l.src[j-1] == 'e' || l.src[j-1] == 'E') && !strings.HasPrefix(strings.ToLower(string(l.src[l.i:j])), "0x") {
				j++
				continue
			}
			break
		}
		l.advance(j - l.i)
		return Token{Kind: Number, Text: string(l.src[start:l.i]), Line: line, Col: col, Offset: start}
	}
	rest := l.src[l.i:]
	for _, set := range [][]string{ops3, ops2} {
		for _, op := range set {
			if len(rest) >= len(op) && string(rest[:len(op)]) == op {
				l.advance(len(op))
				return Token{Kind: Op, Text: op, Line: line, Col: col, Offset: start}
			}
		}
	}
	switch c {
	case '(', '[', '{':
		l.depth++
	case ')', ']', '}':
		if l.depth > 0 {
			l.depth--
		}
	}
	l.advance(1)
	return Token{Kind: Op, Text: string(c), Line: line, Col: col, Offset: start}
}

func isStringPrefix(w string) bool {
	switch strings.ToLower(w) {
	case "r", "u", "b", "f", "t", "br", "rb", "fr", "rf", "tr", "rt":
		return true
	}
	return false
}

// str consumes a string literal starting at its opening quote.
func (l *lexer) str() {
	q := l.src[l.i]
	triple := l.i+2 < len(l.src) && l.src[l.i+1] == q && l.src[l.i+2] == q
	if triple {
		l.advance(3)
	} else {
		l.advance(1)
	}
	for l.i < len(l.src) {
		c := l.src[l.i]
		switch {
		case c == '\\':
			l.advance(2)
		case c == q && !triple:
			l.advance(1)
			return
		case c == q && triple && l.i+2 < len(l.src) && l.src[l.i+1] == q && l.src[l.i+2] == q:
			l.advance(3)
			return
		case (c == '\n' || c == '\r') && !triple:
			if l.err == nil {
				l.err = ErrUnterminated
			}
			return // recover at the end of the line
		default:
			l.advance(1)
		}
	}
	if l.err == nil {
		l.err = ErrUnterminated
	}
}

// literal returns the content of a plain string token (no f-string, no
// escapes), and whether it is one: a value the analysis may trust.
func literal(t Token) (string, bool) {
	if t.Kind != String {
		return "", false
	}
	s := t.Text
	prefix := strings.ToLower(s[:strings.IndexAny(s, `'"`)])
	if strings.Contains(prefix, "f") || strings.Contains(prefix, "t") || strings.Contains(prefix, "b") {
		return "", false
	}
	s = s[len(prefix):]
	for _, q := range []string{`"""`, `'''`, `"`, `'`} {
		if len(s) >= 2*len(q) && strings.HasPrefix(s, q) && strings.HasSuffix(s, q) {
			body := s[len(q) : len(s)-len(q)]
			if strings.Contains(body, `\`) {
				return "", false
			}
			return body, true
		}
	}
	return "", false
}
