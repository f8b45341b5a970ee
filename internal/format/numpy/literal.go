package numpy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// lit is a Python literal from an .npy header: numpy reads the header with
// ast.literal_eval, so only literals can appear.
type lit struct {
	kind  litKind
	str   string
	num   int64
	items []lit // tuple and list items; dict keys and values alternate
}

type litKind uint8

const (
	litStr litKind = iota
	litInt
	litBool
	litNone
	litTuple
	litList
	litDict
)

const maxLitDepth = 32

// parseLiteral parses one Python literal (dict, tuple, list, str, int,
// bool, None) filling all of s but surrounding whitespace.
func parseLiteral(s string) (lit, error) {
	p := &litParser{s: s}
	v, err := p.value(0)
	if err != nil {
		return lit{}, err
	}
	p.space()
	if p.i != len(p.s) {
		return lit{}, fmt.Errorf("unexpected %q after the literal", p.rest())
	}
	return v, nil
}

type litParser struct {
	s string
	i int
}

func (p *litParser) rest() string {
	r := p.s[p.i:]
	if len(r) > 20 {
		r = r[:20]
	}
	return r
}

func (p *litParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *litParser) peek() byte {
	p.space()
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *litParser) value(depth int) (lit, error) {
	if depth > maxLitDepth {
		return lit{}, errors.New("literal nested too deeply")
	}
	switch c := p.peek(); {
	case c == '{':
		p.i++
		return p.seq(litDict, '}', depth)
	case c == '(':
		p.i++
		return p.seq(litTuple, ')', depth)
	case c == '[':
		p.i++
		return p.seq(litList, ']', depth)
	case c == '\'' || c == '"':
		return p.str()
	case c == 'u' || c == 'b' || c == 'U' || c == 'B':
		if p.i+1 < len(p.s) && (p.s[p.i+1] == '\'' || p.s[p.i+1] == '"') {
			p.i++
			return p.str()
		}
	case c == '-' || c == '+' || (c >= '0' && c <= '9'):
		return p.int()
	}
	for _, w := range []struct {
		word string
		v    lit
	}{{"True", lit{kind: litBool, num: 1}}, {"False", lit{kind: litBool}}, {"None", lit{kind: litNone}}} {
		if strings.HasPrefix(p.s[p.i:], w.word) && !identAt(p.s, p.i+len(w.word)) {
			p.i += len(w.word)
			return w.v, nil
		}
	}
	return lit{}, fmt.Errorf("not a literal at %q", p.rest())
}

func identAt(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	c := s[i]
	return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') || (c >= '0' && c <= '9')
}

// seq parses items up to close; a dict alternates key ':' value.
func (p *litParser) seq(kind litKind, close byte, depth int) (lit, error) {
	v := lit{kind: kind}
	n := 0
	for {
		if p.peek() == close {
			p.i++
			if kind == litTuple && n == 1 {
				return v.items[0], nil // (x) is x; "(x,)" returned at its comma
			}
			return v, nil
		}
		if n > 0 {
			if p.peek() != ',' {
				return lit{}, fmt.Errorf("expected ',' at %q", p.rest())
			}
			p.i++
			if p.peek() == close {
				p.i++
				return v, nil
			}
		}
		item, err := p.value(depth + 1)
		if err != nil {
			return lit{}, err
		}
		v.items = append(v.items, item)
		if kind == litDict {
			if p.peek() != ':' {
				return lit{}, fmt.Errorf("expected ':' at %q", p.rest())
			}
			p.i++
			val, err := p.value(depth + 1)
			if err != nil {
				return lit{}, err
			}
			v.items = append(v.items, val)
		}
		n++
	}
}

func (p *litParser) str() (lit, error) {
	q := p.s[p.i]
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return lit{kind: litStr, str: b.String()}, nil
		case c == '\\' && p.i+1 < len(p.s):
			p.i++
			switch e := p.s[p.i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case '\\', '\'', '"':
				b.WriteByte(e)
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
			p.i++
		case c == '\n':
			return lit{}, errors.New("unterminated string")
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return lit{}, errors.New("unterminated string")
}

func (p *litParser) int() (lit, error) {
	j := p.i
	if p.s[j] == '-' || p.s[j] == '+' {
		j++
	}
	for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
		j++
	}
	n, err := strconv.ParseInt(p.s[p.i:j], 10, 64)
	if err != nil {
		return lit{}, fmt.Errorf("bad integer %q", p.s[p.i:j])
	}
	if j < len(p.s) && (p.s[j] == 'L' || p.s[j] == 'l') { // Python 2 longs, which numpy still accepts
		j++
	}
	p.i = j
	return lit{kind: litInt, num: n}, nil
}
