package torchscript

type tokKind uint8

const (
	tokName tokKind = iota
	tokOp
	tokNewline
	tokString
	tokNumber
)

type token struct {
	kind tokKind
	text string
	line int
}

// maxTokens bounds the tokens kept from one source file.
const maxTokens = 4 << 20

// tokenize splits Python-like source into names, operators, numbers,
// strings (contents dropped) and newlines; comments are dropped. It never
// fails: unknown bytes become one-byte operators.
func tokenize(src []byte) []token {
	var out []token
	line := 1
	i := 0
	for i < len(src) && len(out) < maxTokens {
		c := src[i]
		switch {
		case c == '\n':
			out = append(out, token{kind: tokNewline, text: "\n", line: line})
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\\':
			i++
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'':
			start := line
			i, line = skipString(src, i, line)
			out = append(out, token{kind: tokString, line: start})
		case isIdentStart(c):
			j := i
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			// String prefixes: r"…", b'…', f"…", rb"…".
			if j < len(src) && (src[j] == '"' || src[j] == '\'') && j-i <= 2 && isStrPrefix(src[i:j]) {
				start := line
				i, line = skipString(src, j, line)
				out = append(out, token{kind: tokString, line: start})
				continue
			}
			out = append(out, token{kind: tokName, text: string(src[i:j]), line: line})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && (isIdentPart(src[j]) || src[j] == '.') {
				j++
			}
			out = append(out, token{kind: tokNumber, line: line})
			i = j
		default:
			n := 1
			if i+1 < len(src) && src[i+1] == '=' && (c == '=' || c == '!' || c == '<' || c == '>' || c == '+' || c == '-' ||
				c == '*' || c == '/' || c == '%' || c == '&' || c == '|' || c == '^') {
				n = 2
			} else if i+1 < len(src) && c == '-' && src[i+1] == '>' {
				n = 2
			}
			out = append(out, token{kind: tokOp, text: string(src[i : i+n]), line: line})
			i += n
		}
	}
	return out
}

func isIdentStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') || c >= 0x80 }
func isIdentPart(c byte) bool  { return isIdentStart(c) || (c >= '0' && c <= '9') }

func isStrPrefix(p []byte) bool {
	for _, c := range p {
		switch c | 0x20 {
		case 'r', 'b', 'f', 'u':
		default:
			return false
		}
	}
	return true
}

// skipString skips a quoted string starting at src[i] (single or triple
// quotes, backslash escapes) and returns the index after it.
func skipString(src []byte, i, line int) (int, int) {
	q := src[i]
	triple := i+2 < len(src) && src[i+1] == q && src[i+2] == q
	if triple {
		i += 3
		for i < len(src) {
			switch {
			case src[i] == '\\':
				i += 2
				continue
			case src[i] == '\n':
				line++
			case src[i] == q && i+2 < len(src) && src[i+1] == q && src[i+2] == q:
				return i + 3, line
			}
			i++
		}
		return len(src), line
	}
	i++
	for i < len(src) {
		switch src[i] {
		case '\\':
			i += 2
			continue
		case q:
			return i + 1, line
		case '\n':
			return i, line // unterminated: the line ends it
		}
		i++
	}
	return len(src), line
}
