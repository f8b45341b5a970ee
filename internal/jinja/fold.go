package jinja

import (
	"strconv"
	"strings"
)

// The checker folds constant expressions the way Python would, so that an
// attribute name assembled from harmless-looking pieces ('_'~'_'~'class',
// '%c%c'|format(95,95), 'ssalc__'[::-1], ['__cl','ass__']|join) is seen
// whole. Values it cannot know stay unknown, with a note of whether string
// operations built them: a name computed at render time.

type kind uint8

const (
	kUnknown kind = iota
	kStr
	kInt
	kList
	kNamespace
)

// maxFold bounds folded strings and lists; longer ones become unknown.
const maxFold = 4096

type fval struct {
	k     kind
	known bool // for kStr, kInt, kList: the value is known
	s     string
	n     int64
	list  []fval
	// fields of a namespace(...) object, by name.
	fields map[string]fval
	// computed marks a value built at render time by string operations
	// (concatenation, format, join, slicing, stringified objects).
	computed bool
}

var unknown = fval{}

func strVal(s string) fval {
	if len(s) > maxFold {
		return fval{k: kStr, computed: true}
	}
	return fval{k: kStr, known: true, s: s}
}

func intVal(n int64) fval { return fval{k: kInt, known: true, n: n} }

// computedStr is a string built at render time whose value is not known.
func computedStr() fval { return fval{k: kStr, computed: true} }

func listVal(items []fval) fval {
	if len(items) > maxFold {
		return fval{k: kList, computed: true}
	}
	return fval{k: kList, known: true, list: items}
}

// asStr renders v as Python's str() would, if known.
func (v fval) asStr() (string, bool) {
	switch {
	case v.k == kStr && v.known:
		return v.s, true
	case v.k == kInt && v.known:
		return strconv.FormatInt(v.n, 10), true
	}
	return "", false
}

// strings returns the elements of a known list (or the characters of a
// known string) as strings, if all are known.
func (v fval) strs() ([]string, bool) {
	switch {
	case v.k == kStr && v.known:
		var out []string
		for _, r := range v.s {
			out = append(out, string(r))
		}
		return out, true
	case v.k == kList && v.known:
		out := make([]string, 0, len(v.list))
		for _, e := range v.list {
			s, ok := e.asStr()
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// merge joins two values a variable may hold; it is monotone, so walking a
// template again with a merged environment converges.
func merge(a, b fval) fval {
	if equal(a, b) {
		return a
	}
	out := fval{computed: a.computed || b.computed}
	if a.k == b.k && a.k != kNamespace {
		out.k = a.k
	}
	if a.k == kNamespace && b.k == kNamespace {
		return fval{k: kNamespace, fields: map[string]fval{}}
	}
	return out
}

func equal(a, b fval) bool {
	if a.k != b.k || a.known != b.known || a.computed != b.computed || a.s != b.s || a.n != b.n || len(a.list) != len(b.list) || len(a.fields) != len(b.fields) {
		return false
	}
	for i := range a.list {
		if !equal(a.list[i], b.list[i]) {
			return false
		}
	}
	for k, v := range a.fields {
		if w, ok := b.fields[k]; !ok || !equal(v, w) {
			return false
		}
	}
	return true
}

// pyIndex resolves a Python index into a sequence of length n.
func pyIndex(i int64, n int) (int, bool) {
	if i < 0 {
		i += int64(n)
	}
	if i < 0 || i >= int64(n) {
		return 0, false
	}
	return int(i), true
}

// pySlice returns the indices s[start:stop:step] selects, as Python does.
// nil bounds are the defaults.
func pySlice(n int, start, stop, step *int64) ([]int, bool) {
	st := int64(1)
	if step != nil {
		st = *step
	}
	if st == 0 {
		return nil, false // ValueError in Python
	}
	clamp := func(p *int64, def int64, lo, hi int64) int64 {
		if p == nil {
			return def
		}
		v := *p
		if v < 0 {
			v += int64(n)
			if v < lo {
				v = lo
			}
		} else if v > hi {
			v = hi
		}
		return v
	}
	var lo, hi int64
	if st > 0 {
		lo, hi = clamp(start, 0, 0, int64(n)), clamp(stop, int64(n), 0, int64(n))
	} else {
		lo, hi = clamp(start, int64(n)-1, -1, int64(n)-1), clamp(stop, -1, -1, int64(n)-1)
		if stop == nil {
			hi = -1
		}
	}
	var out []int
	for i := lo; (st > 0 && i < hi) || (st < 0 && i > hi); i += st {
		out = append(out, int(i))
		if len(out) > maxFold {
			return nil, false
		}
	}
	return out, true
}

// percentFormat applies Python's "fmt % args" for the conversions an
// attacker uses to spell characters: %s %r %c %d %i %x %o and %%.
func percentFormat(fmt string, args []fval) (string, bool) {
	var b strings.Builder
	ai := 0
	for i := 0; i < len(fmt); i++ {
		if fmt[i] != '%' {
			b.WriteByte(fmt[i])
			continue
		}
		i++
		for i < len(fmt) && strings.IndexByte("#0- +.123456789", fmt[i]) >= 0 {
			i++ // flags, width, precision: they do not change characters
		}
		if i >= len(fmt) {
			return "", false
		}
		c := fmt[i]
		if c == '%' {
			b.WriteByte('%')
			continue
		}
		if ai >= len(args) {
			return "", false
		}
		a := args[ai]
		ai++
		switch c {
		case 's', 'r':
			s, ok := a.asStr()
			if !ok {
				return "", false
			}
			b.WriteString(s)
		case 'c':
			switch {
			case a.k == kInt && a.known && a.n >= 0 && a.n <= 0x10FFFF:
				b.WriteRune(rune(a.n))
			case a.k == kStr && a.known:
				b.WriteString(a.s)
			default:
				return "", false
			}
		case 'd', 'i', 'x', 'o', 'X':
			if a.k != kInt || !a.known {
				return "", false
			}
			base := map[byte]int{'d': 10, 'i': 10, 'x': 16, 'X': 16, 'o': 8}[c]
			b.WriteString(strconv.FormatInt(a.n, base))
		default:
			return "", false
		}
		if b.Len() > maxFold {
			return "", false
		}
	}
	return b.String(), true
}

// strFormat applies Python's str.format. attrs receives every attribute
// or index a replacement field reaches into ("{0.__class__}", "{x[key]}"),
// which str.format resolves with getattr: a route to Python internals of
// its own.
func strFormat(fmt string, args []fval, kwargs map[string]fval, attrs func(string)) (string, bool) {
	var b strings.Builder
	auto, ok := 0, true
	for i := 0; i < len(fmt); i++ {
		c := fmt[i]
		if c == '}' {
			if i+1 < len(fmt) && fmt[i+1] == '}' {
				i++
			}
			b.WriteByte('}')
			continue
		}
		if c != '{' {
			b.WriteByte(c)
			continue
		}
		if i+1 < len(fmt) && fmt[i+1] == '{' {
			b.WriteByte('{')
			i++
			continue
		}
		end := strings.IndexByte(fmt[i:], '}')
		if end < 0 {
			return "", false
		}
		field := fmt[i+1 : i+end]
		i += end
		if k := strings.IndexAny(field, "!:"); k >= 0 {
			field = field[:k]
		}
		name, rest := field, ""
		if k := strings.IndexAny(field, ".["); k >= 0 {
			name, rest = field[:k], field[k:]
		}
		for _, part := range strings.FieldsFunc(rest, func(r rune) bool { return r == '.' || r == '[' || r == ']' }) {
			attrs(part)
		}
		var v fval
		switch {
		case name == "":
			if auto < len(args) {
				v = args[auto]
			}
			auto++
		case name[0] >= '0' && name[0] <= '9':
			if n, err := strconv.Atoi(name); err == nil && n < len(args) {
				v = args[n]
			}
		default:
			v = kwargs[name]
		}
		s, known := v.asStr()
		if rest != "" || !known {
			ok = false
			continue
		}
		b.WriteString(s)
		if b.Len() > maxFold {
			return "", false
		}
	}
	return b.String(), ok
}

func reverseString(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}
