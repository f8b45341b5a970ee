package h2o

import (
	"bufio"
	"io"
	"unicode"
)

// javaReader yields the characters of Java source after the translation
// Java performs before lexing (JLS 3.3): \uXXXX escapes are decoded
// everywhere, inside comments and strings too. "// \u000a Runtime…" is
// a comment to a text search and code to javac.
type javaReader struct {
	br      *bufio.Reader
	slashes int  // raw backslashes just read, for escape eligibility
	peeked  rune // a rune read ahead, or -1
	offset  int64
	// badEscape records a \u not followed by four hex digits, which javac
	// rejects.
	badEscape bool
}

func newJavaReader(r io.Reader) *javaReader {
	return &javaReader{br: bufio.NewReaderSize(r, 64<<10), peeked: -1}
}

func (j *javaReader) raw() (rune, error) {
	if j.peeked >= 0 {
		r := j.peeked
		j.peeked = -1
		return r, nil
	}
	r, n, err := j.br.ReadRune()
	j.offset += int64(n)
	return r, err
}

// next returns the next translated character.
func (j *javaReader) next() (rune, error) {
	r, err := j.raw()
	if err != nil {
		return 0, err
	}
	if r != '\\' {
		j.slashes = 0
		return r, nil
	}
	j.slashes++
	if j.slashes%2 == 0 {
		return r, nil // escaped backslash: not an escape start
	}
	u, err := j.raw()
	if err != nil {
		return r, nil
	}
	if u != 'u' {
		j.peeked = u
		return r, nil
	}
	for {
		u, err = j.raw()
		if err != nil || u != 'u' {
			break
		}
	}
	v := rune(0)
	for i := range 4 {
		if i > 0 || err != nil {
			u, err = j.raw()
		}
		if err != nil {
			j.badEscape = true
			return 0, err
		}
		d := hexVal(u)
		if d < 0 {
			j.badEscape = true
			j.peeked = u
			return '\\', nil
		}
		v = v*16 + rune(d)
	}
	j.slashes = 0
	return v, nil
}

func hexVal(r rune) int {
	switch {
	case r >= '0' && r <= '9':
		return int(r - '0')
	case r >= 'a' && r <= 'f':
		return int(r-'a') + 10
	case r >= 'A' && r <= 'F':
		return int(r-'A') + 10
	}
	return -1
}

// javaToken is an identifier, or a single punctuation character.
type javaToken struct {
	ident string
	punct rune
	off   int64
}

// lexJava calls emit for each identifier and punctuation character of
// code, skipping comments, string, character and text-block literals.
// Literals are passed to lit (their contents, for checks on class names
// given as strings).
func lexJava(r io.Reader, emit func(javaToken), lit func(string)) (badEscape bool, err error) {
	j := newJavaReader(r)
	var (
		id    []rune
		idOff int64
		prev  rune
	)
	flush := func() {
		if len(id) > 0 {
			emit(javaToken{ident: string(id), off: idOff})
			id = id[:0]
		}
	}
	const maxLit = 4096
	for {
		c, err := j.next()
		if err != nil {
			flush()
			if err == io.EOF {
				return j.badEscape, nil
			}
			return j.badEscape, err
		}
		switch {
		case isJavaIdentPart(c) && (len(id) > 0 || isJavaIdentStart(c)):
			if len(id) == 0 {
				idOff = j.offset
			}
			id = append(id, c)
		case c == '/' && prev == '/':
			flush()
			for c != '\n' && c != '\r' {
				if c, err = j.next(); err != nil {
					break
				}
			}
			c = 0
		case c == '*' && prev == '/':
			flush()
			var last rune
			for {
				if c, err = j.next(); err != nil || last == '*' && c == '/' {
					break
				}
				last = c
			}
			c = 0
		case c == '"' || c == '\'':
			flush()
			quote := c
			var s []rune
			esc := false
			for {
				if c, err = j.next(); err != nil {
					break
				}
				if esc {
					esc = false
				} else if c == '\\' {
					esc = true
				} else if c == quote || quote == '\'' && c == '\n' {
					break
				}
				if len(s) < maxLit {
					s = append(s, c)
				}
			}
			// Text blocks ("""…""") read as an empty string followed by
			// a string that ends at the closing quotes: their contents
			// are still seen as literal text.
			lit(string(s))
			c = 0
		default:
			flush()
			if c != '/' && !unicode.IsSpace(c) {
				emit(javaToken{punct: c, off: j.offset})
			}
		}
		prev = c
	}
}

func isJavaIdentStart(r rune) bool {
	return r == '_' || r == '$' || unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Sc, r) || unicode.Is(unicode.Pc, r)
}

func isJavaIdentPart(r rune) bool {
	return isJavaIdentStart(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r)
}
