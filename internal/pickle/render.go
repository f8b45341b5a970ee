package pickle

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Renderer writes values as Python expressions, bounded in length.
type Renderer struct {
	// Name, if set, may name a value (explain's _varN); an empty result
	// renders the value inline.
	Name func(v *Value) string
	// Max bounds the length of one rendering (default 200 bytes).
	Max int
}

// Repr renders v as a Python expression of at most about r.Max bytes.
func (r *Renderer) Repr(v *Value) string {
	max := r.Max
	if max <= 0 {
		max = 200
	}
	var b strings.Builder
	r.write(&b, v, max, 0)
	return b.String()
}

// Repr renders v inline with the default bound.
func Repr(v *Value) string { return (&Renderer{}).Repr(v) }

func (r *Renderer) write(b *strings.Builder, v *Value, max, depth int) {
	if b.Len() >= max {
		return
	}
	if v == nil {
		b.WriteString("?")
		return
	}
	if r.Name != nil {
		if n := r.Name(v); n != "" {
			b.WriteString(n)
			return
		}
	}
	if depth > 8 {
		b.WriteString("…")
		return
	}
	switch v.Kind {
	case KindNone:
		b.WriteString("None")
	case KindBool:
		if v.Int != 0 {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case KindInt:
		b.WriteString(strconv.FormatInt(v.Int, 10))
	case KindBigInt:
		b.WriteString(v.Str)
	case KindFloat:
		f := v.Float()
		switch {
		case math.IsInf(f, 1):
			b.WriteString("float('inf')")
		case math.IsInf(f, -1):
			b.WriteString("float('-inf')")
		case math.IsNaN(f):
			b.WriteString("float('nan')")
		default:
			b.WriteString(PyFloat(f))
		}
	case KindStr:
		writeQuoted(b, v.Str, false, max-b.Len())
		if v.Truncated {
			fmt.Fprintf(b, "…(%d bytes)", v.Len())
		}
	case KindBytes, KindByteArray:
		if v.Kind == KindByteArray {
			b.WriteString("bytearray(")
		}
		writeQuoted(b, v.Str, true, max-b.Len())
		if v.Truncated {
			fmt.Fprintf(b, "…(%d bytes)", v.Len())
		}
		if v.Kind == KindByteArray {
			b.WriteString(")")
		}
	case KindTuple, KindList, KindSet, KindFrozenSet:
		open, close := "(", ")"
		switch v.Kind {
		case KindList:
			open, close = "[", "]"
		case KindSet:
			open, close = "{", "}"
			if len(v.Items) == 0 {
				open, close = "set(", ")"
			}
		case KindFrozenSet:
			open, close = "frozenset({", "})"
		}
		b.WriteString(open)
		for i, it := range v.Items {
			if i > 0 {
				b.WriteString(", ")
			}
			if b.Len() >= max {
				b.WriteString("…")
				break
			}
			r.write(b, it, max, depth+1)
		}
		if v.Truncated {
			b.WriteString(", …")
		}
		if v.Kind == KindTuple && len(v.Items) == 1 {
			b.WriteString(",")
		}
		b.WriteString(close)
	case KindDict:
		b.WriteString("{")
		for i := 0; i+1 < len(v.Items); i += 2 {
			if i > 0 {
				b.WriteString(", ")
			}
			if b.Len() >= max {
				b.WriteString("…")
				break
			}
			r.write(b, v.Items[i], max, depth+1)
			b.WriteString(": ")
			r.write(b, v.Items[i+1], max, depth+1)
		}
		if v.Truncated {
			b.WriteString(", …")
		}
		b.WriteString("}")
	case KindGlobal:
		b.WriteString(GlobalExpr(v.Global))
	case KindObject:
		r.writeCall(b, v.Call, max, depth)
	case KindPersistent:
		b.WriteString("persistent_load(")
		if len(v.Items) > 0 {
			r.write(b, v.Items[0], max, depth+1)
		}
		b.WriteString(")")
	case KindBuffer:
		b.WriteString("<out-of-band buffer>")
	}
}

// writeCall renders a call expression: callee(args).
func (r *Renderer) writeCall(b *strings.Builder, c *Call, max, depth int) {
	if c == nil {
		b.WriteString("?")
		return
	}
	r.write(b, c.Callee, max, depth+1)
	if c.New {
		b.WriteString(".__new__")
	}
	b.WriteString("(")
	n := 0
	if c.New {
		r.write(b, c.Callee, max, depth+1)
		n++
	}
	if c.Args != nil {
		if c.Args.Kind == KindTuple || c.Args.Kind == KindList {
			for _, a := range c.Args.Items {
				if n > 0 {
					b.WriteString(", ")
				}
				n++
				if b.Len() >= max {
					b.WriteString("…")
					break
				}
				r.write(b, a, max, depth+1)
			}
		} else {
			if n > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*")
			r.write(b, c.Args, max, depth+1)
		}
	}
	if c.Kwargs != nil && c.Kwargs.Kind == KindDict {
		for i := 0; i+1 < len(c.Kwargs.Items); i += 2 {
			if n > 0 {
				b.WriteString(", ")
			}
			n++
			if k := c.Kwargs.Items[i]; k.Kind == KindStr {
				b.WriteString(k.Str)
				b.WriteString("=")
			} else {
				b.WriteString("**{")
				r.write(b, k, max, depth+1)
				b.WriteString(": …}")
				continue
			}
			r.write(b, c.Kwargs.Items[i+1], max, depth+1)
		}
	} else if c.Kwargs != nil {
		b.WriteString(", **")
		r.write(b, c.Kwargs, max, depth+1)
	}
	b.WriteString(")")
}

// CallExpr renders a call as callee(args).
func (r *Renderer) CallExpr(c *Call) string {
	max := r.Max
	if max <= 0 {
		max = 200
	}
	var b strings.Builder
	r.writeCall(&b, c, max, 0)
	return b.String()
}

// GlobalExpr renders what a global names: module.name, or a description of
// a computed or EXT lookup.
func GlobalExpr(g *Global) string {
	switch {
	case g == nil:
		return "?"
	case g.ExtCode != 0:
		return fmt.Sprintf("copyreg._inverted_registry[%d]", g.ExtCode)
	case g.Computed:
		return fmt.Sprintf("find_class(%s, %s)", Repr(g.ModuleVal), Repr(g.NameVal))
	}
	return g.QualName()
}

// writeQuoted writes s as a Python string (or bytes) literal, escaping
// control characters, so attacker strings can't break a terminal.
func writeQuoted(b *strings.Builder, s string, isBytes bool, room int) {
	if isBytes {
		b.WriteByte('b')
	}
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	b.WriteByte(q)
	start := b.Len()
	for i := 0; i < len(s); {
		if b.Len()-start > room && room > 0 {
			b.WriteString("…")
			break
		}
		c := s[i]
		switch {
		case c == q || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
			i++
		case c == '\n':
			b.WriteString(`\n`)
			i++
		case c == '\r':
			b.WriteString(`\r`)
			i++
		case c == '\t':
			b.WriteString(`\t`)
			i++
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(b, `\x%02x`, c)
			i++
		case c < 0x80:
			b.WriteByte(c)
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			switch {
			case isBytes || (r == utf8.RuneError && n == 1):
				fmt.Fprintf(b, `\x%02x`, c)
				i++
				continue
			case !strconv.IsPrint(r) && r < 0x100:
				fmt.Fprintf(b, `\x%02x`, r)
			case !strconv.IsPrint(r) && r < 0x10000:
				fmt.Fprintf(b, `\u%04x`, r)
			case !strconv.IsPrint(r):
				fmt.Fprintf(b, `\U%08x`, r)
			default:
				b.WriteString(s[i : i+n])
			}
			i += n
		}
	}
	b.WriteByte(q)
}

// PyFloat formats a finite float as Python's repr does: the shortest
// round-tripping digits, in positional notation for exponents from -4 to
// 15 and scientific notation otherwise.
func PyFloat(f float64) string {
	e := strconv.FormatFloat(f, 'e', -1, 64)
	i := strings.IndexByte(e, 'e')
	exp, _ := strconv.Atoi(e[i+1:])
	if exp >= -4 && exp < 16 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	mant := e[:i]
	sign := "+"
	if exp < 0 {
		sign, exp = "-", -exp
	}
	return fmt.Sprintf("%se%s%02d", mant, sign, exp)
}
