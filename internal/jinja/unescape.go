package jinja

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// errBadEscape is a string literal Jinja itself would refuse to compile.
var errBadEscape = errors.New("invalid escape in string literal")

// unescape decodes the body of a Jinja string literal the way Jinja does
// (Python's "unicode-escape" codec after backslashreplace): \n, \xhh,
// \uXXXX, \UXXXXXXXX, octal \ooo and \N{NAME}. hidden reports that an
// escape spelled an identifier character (a letter, digit, "_" or "."),
// which ordinary templates never do and SSTI payloads do to hide names
// such as "\x5f\x5fclass\x5f\x5f" from scanners.
func unescape(s string) (out string, hidden bool, err error) {
	if !strings.Contains(s, `\`) {
		return s, false, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return b.String(), hidden, errBadEscape // "\" at end of string
		}
		e := s[i+1]
		i += 2
		var r rune = -1
		switch e {
		case '\n':
			continue // line continuation
		case '\\', '\'', '"':
			b.WriteByte(e)
			continue
		case 'a':
			r = 7
		case 'b':
			r = 8
		case 'f':
			r = 12
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		case 'v':
			r = 11
		case '0', '1', '2', '3', '4', '5', '6', '7':
			n := int(e - '0')
			for k := 0; k < 2 && i < len(s) && s[i] >= '0' && s[i] <= '7'; k++ {
				n = n*8 + int(s[i]-'0')
				i++
			}
			r = rune(n)
			hidden = hidden || spellsIdent(r)
		case 'x', 'u', 'U':
			width := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if i+width > len(s) {
				return b.String(), hidden, errBadEscape
			}
			v, perr := strconv.ParseUint(s[i:i+width], 16, 32)
			if perr != nil || v > utf8.MaxRune {
				return b.String(), hidden, errBadEscape
			}
			i += width
			r = rune(v)
			hidden = hidden || spellsIdent(r)
		case 'N':
			end := strings.IndexByte(s[i:], '}')
			if i >= len(s) || s[i] != '{' || end < 0 {
				return b.String(), hidden, errBadEscape
			}
			name := strings.ToUpper(s[i+1 : i+end])
			i += end + 1
			r = unicodeByName(name)
			// Any named escape in a chat template is odd; one we cannot
			// resolve is treated as hiding something.
			hidden = hidden || r < 0 || spellsIdent(r)
			if r < 0 {
				r = utf8.RuneError
			}
		default:
			b.WriteByte('\\') // Python keeps unknown escapes as they are
			b.WriteByte(e)
			continue
		}
		b.WriteRune(r)
	}
	return b.String(), hidden, nil
}

func spellsIdent(r rune) bool { return r < utf8.RuneSelf && (isIdentChar(byte(r)) || r == '.') }

// unicodeByName resolves the \N{} names of the characters that matter to
// attribute names (ASCII letters, digits, "_", "."), or returns -1.
func unicodeByName(name string) rune {
	switch name {
	case "LOW LINE", "LOWLINE", "UNDERSCORE", "SPACING UNDERSCORE":
		return '_'
	case "FULL STOP", "PERIOD", "DOT":
		return '.'
	case "SPACE":
		return ' '
	}
	if l, ok := strings.CutPrefix(name, "LATIN SMALL LETTER "); ok && len(l) == 1 && l[0] >= 'A' && l[0] <= 'Z' {
		return rune(l[0] - 'A' + 'a')
	}
	if l, ok := strings.CutPrefix(name, "LATIN CAPITAL LETTER "); ok && len(l) == 1 && l[0] >= 'A' && l[0] <= 'Z' {
		return rune(l[0])
	}
	digits := []string{"ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"}
	if d, ok := strings.CutPrefix(name, "DIGIT "); ok {
		for i, n := range digits {
			if d == n {
				return rune('0' + i)
			}
		}
	}
	return -1
}
