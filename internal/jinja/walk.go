package jinja

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	cs "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/tokens"

	"modelgate/internal/finding"
)

// The walker visits gonja's AST by reflection. gonja's own nodes.Walk
// stops at the top level, and its control structures keep their
// expressions in unexported fields (a {% set %}'s value, an {% include %}'s
// name), which reflection can read but not convert back to Go values, so
// the walk identifies nodes by type and reads fields by name, read-only.

var (
	tToken        = reflect.TypeFor[tokens.Token]()
	tData         = reflect.TypeFor[nodes.Data]()
	tComment      = reflect.TypeFor[nodes.Comment]()
	tString       = reflect.TypeFor[nodes.String]()
	tInteger      = reflect.TypeFor[nodes.Integer]()
	tName         = reflect.TypeFor[nodes.Name]()
	tList         = reflect.TypeFor[nodes.List]()
	tTuple        = reflect.TypeFor[nodes.Tuple]()
	tCall         = reflect.TypeFor[nodes.Call]()
	tGetItem      = reflect.TypeFor[nodes.GetItem]()
	tGetSlice     = reflect.TypeFor[nodes.GetSlice]()
	tGetAttribute = reflect.TypeFor[nodes.GetAttribute]()
	tUnary        = reflect.TypeFor[nodes.UnaryExpression]()
	tBinary       = reflect.TypeFor[nodes.BinaryExpression]()
	tFiltered     = reflect.TypeFor[nodes.FilteredExpression]()
	tVariable     = reflect.TypeFor[nodes.Variable]()
	tSet          = reflect.TypeFor[cs.SetControlStructure]()
	tFor          = reflect.TypeFor[cs.ForControlStructure]()
	tWith         = reflect.TypeFor[cs.WithControlStructure]()
	tInclude      = reflect.TypeFor[cs.IncludeControlStructure]()
	tImport       = reflect.TypeFor[cs.ImportControlStructure]()
	tFromImport   = reflect.TypeFor[cs.FromImportControlStructure]()
	tExtends      = reflect.TypeFor[extendsTag]()
)

// maxWalkNodes bounds one pass over the AST; the AST is bounded by the
// template size already, this guards against sharing and cycles.
const maxWalkNodes = 2_000_000

type walker struct {
	ctx    context.Context
	c      *checker
	env    map[string]fval
	seen   map[uintptr]bool
	nodes  int
	errCtx error
}

// walk visits any value in the AST and returns what it folds to.
func (w *walker) walk(v reflect.Value) fval {
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return unknown
		}
		v = v.Elem()
	}
	w.nodes++
	if w.nodes > maxWalkNodes || w.errCtx != nil {
		return unknown
	}
	if w.nodes%4096 == 0 {
		if err := w.ctx.Err(); err != nil {
			w.errCtx = err
			return unknown
		}
	}
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			w.walk(v.Index(i))
		}
		return unknown
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if k := it.Key(); k.Kind() == reflect.String {
				w.checkName(k.String(), fixed(-1))
			}
			w.walk(it.Value())
		}
		return unknown
	case reflect.Struct:
	default:
		return unknown
	}
	switch v.Type() {
	case tToken, tData, tComment:
		return unknown
	case tString:
		return w.str(v)
	case tInteger:
		return intVal(v.FieldByName("Val").Int())
	case tName:
		return w.name(v)
	case tList, tTuple:
		return w.list(v.FieldByName("Val"))
	case tGetAttribute:
		return w.getAttr(v)
	case tGetItem:
		return w.getItem(v)
	case tGetSlice:
		return w.getSlice(v)
	case tUnary:
		t := w.walk(v.FieldByName("Term"))
		if v.FieldByName("Negative").Bool() && t.k == kInt && t.known {
			return intVal(-t.n)
		}
		return fval{k: t.k}
	case tBinary:
		return w.binary(v)
	case tFiltered:
		return w.filtered(v)
	case tCall:
		return w.call(v)
	case tVariable:
		return w.variable(v)
	case tSet:
		w.set(v)
		return unknown
	case tFor:
		w.forLoop(v)
		return unknown
	case tWith:
		w.with(v)
		return unknown
	case tInclude, tImport, tFromImport, tExtends:
		w.c.add(finding.RuleJinjaTemplateLoad, "{% "+loadTagName(v.Type())+" %}",
			"the template loads another template ({% include %}, {% import %}, {% from %} or {% extends %}); chat templates are self-contained, and what is loaded was not checked",
			w.pos(v))
	}
	// Any other node: visit every field. Pointers to structs are visited
	// once, as gonja links some nodes back to their parents.
	if v.CanAddr() {
		p := v.Addr().Pointer()
		if w.seen[p] {
			return unknown
		}
		w.seen[p] = true
	}
	for i := range v.NumField() {
		w.walk(v.Field(i))
	}
	return unknown
}

func loadTagName(t reflect.Type) string {
	switch t {
	case tInclude:
		return "include"
	case tImport:
		return "import"
	case tFromImport:
		return "from"
	}
	return "extends"
}

// at returns v's template offset, computed on demand.
func (w *walker) at(v reflect.Value) at { return func() int { return w.pos(v) } }

// pos returns the template offset of a node, from its first token field.
func (w *walker) pos(v reflect.Value) int {
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Kind() == reflect.Pointer && f.Type().Elem() == tToken && !f.IsNil() {
			return w.c.omap.orig(int(f.Elem().FieldByName("Pos").Int()))
		}
	}
	for i := range v.NumField() {
		f := v.Field(i)
		for f.Kind() == reflect.Interface || f.Kind() == reflect.Pointer {
			if f.IsNil() {
				break
			}
			f = f.Elem()
		}
		if f.Kind() == reflect.Struct && f.Type() != tToken {
			if p := w.pos(f); p >= 0 {
				return p
			}
		}
	}
	return -1
}

func (w *walker) str(v reflect.Value) fval {
	s := v.FieldByName("Val").String()
	if i := literalIndex(s); i >= 0 && i < len(w.c.lx.toks) && w.c.lx.toks[i].kind == tkString {
		return strVal(w.c.lx.toks[i].val)
	}
	// A literal the Jinja-faithful lexer did not see as one: check it too.
	w.c.checkString(s, w.at(v), false)
	return strVal(s)
}

func (w *walker) name(v reflect.Value) fval {
	n := v.FieldByName("Name").Elem().FieldByName("Val").String()
	w.checkName(n, w.at(v))
	if gadgetGlobals[n] {
		w.c.add(finding.RuleJinjaGadgetGlobal, n,
			fmt.Sprintf("the template uses the global %q, whose attributes lead to Python's globals and builtins (cycler.__init__.__globals__, lipsum.__globals__)", n),
			w.pos(v))
	}
	if val, ok := w.lookup(n); ok {
		return val
	}
	return unknown
}

// checkName flags variable and keyword names that are dunders
// (__builtins__, dict(__class__=1)|list).
func (w *walker) checkName(n string, pos at) {
	if strings.HasPrefix(n, "__") {
		w.c.add(finding.RuleJinjaDunder, n, fmt.Sprintf("the template uses the name %q", n), pos())
	}
}

func (w *walker) list(v reflect.Value) fval {
	items := make([]fval, 0, v.Len())
	known := true
	for i := range v.Len() {
		e := w.walk(v.Index(i))
		known = known && e.known
		items = append(items, e)
	}
	l := listVal(items)
	l.known = l.known && known
	return l
}

// nameOf returns the variable a node stands for: "ns" for a name, or
// "ns.field" for a name's attribute (what {% set ns.field = … %} assigns),
// used as the key of assigned values; "" for anything else.
func nameOf(v reflect.Value) string {
	v = deref(v)
	if !v.IsValid() {
		return ""
	}
	switch v.Type() {
	case tName:
		return v.FieldByName("Name").Elem().FieldByName("Val").String()
	case tGetAttribute:
		if base := deref(v.FieldByName("Node")); base.IsValid() && base.Type() == tName {
			return nameOf(base) + "." + v.FieldByName("Attribute").String()
		}
	}
	return ""
}

// deref follows interfaces and pointers; it returns the zero Value for nil.
func deref(v reflect.Value) reflect.Value {
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return reflect.Value{}
		}
		v = v.Elem()
	}
	return v
}

func (w *walker) getAttr(v reflect.Value) fval {
	node := v.FieldByName("Node")
	attr := v.FieldByName("Attribute").String()
	base := w.walk(node)
	if attr == "" {
		return unknown // x.0: an index
	}
	w.c.checkAttr(attr, "attribute", w.at(v))
	if n := nameOf(v); n != "" {
		if val, ok := w.lookup(n); ok {
			return val
		}
	}
	if base.k == kNamespace {
		if f, ok := base.fields[attr]; ok {
			return f
		}
	}
	return unknown
}

func (w *walker) getItem(v reflect.Value) fval {
	base := w.walk(v.FieldByName("Node"))
	arg := w.walk(v.FieldByName("Arg"))
	switch {
	case arg.k == kStr && arg.known:
		// Jinja's getitem falls back to getattr for strings.
		w.c.checkAttr(arg.s, "subscript", w.at(v))
	case arg.computed:
		off := w.pos(v)
		w.c.add(finding.RuleJinjaComputedName, w.c.snippet(off),
			"a subscript takes its key from a string built at render time; Jinja falls back to getattr for string keys, so this can reach any attribute",
			off)
	}
	if arg.k == kInt && arg.known {
		switch {
		case base.k == kStr && base.known:
			r := []rune(base.s)
			if i, ok := pyIndex(arg.n, len(r)); ok {
				return strVal(string(r[i]))
			}
		case base.k == kList && base.known:
			if i, ok := pyIndex(arg.n, len(base.list)); ok {
				return base.list[i]
			}
		}
	}
	if base.computed && (base.k == kStr || base.k == kList) {
		return computedStr()
	}
	return unknown
}

func (w *walker) getSlice(v reflect.Value) fval {
	base := w.walk(v.FieldByName("Node"))
	bound := func(name string) (*int64, bool) {
		f := v.FieldByName(name)
		if f.IsNil() {
			return nil, true
		}
		b := w.walk(f)
		if b.k != kInt || !b.known {
			return nil, false
		}
		return &b.n, true
	}
	start, ok1 := bound("Start")
	stop, ok2 := bound("End")
	step, ok3 := bound("Step")
	if ok1 && ok2 && ok3 {
		switch {
		case base.k == kStr && base.known:
			r := []rune(base.s)
			if idx, ok := pySlice(len(r), start, stop, step); ok {
				out := make([]rune, len(idx))
				for i, j := range idx {
					out[i] = r[j]
				}
				res := strVal(string(out))
				res.computed = true
				w.c.checkString(res.s, w.at(v), true)
				return res
			}
		case base.k == kList && base.known:
			if idx, ok := pySlice(len(base.list), start, stop, step); ok {
				out := make([]fval, len(idx))
				for i, j := range idx {
					out[i] = base.list[j]
				}
				return listVal(out)
			}
		}
	}
	if base.k == kStr {
		return computedStr()
	}
	return fval{k: base.k, computed: base.computed}
}

func (w *walker) binary(v reflect.Value) fval {
	l := w.walk(v.FieldByName("Left"))
	r := w.walk(v.FieldByName("Right"))
	op := v.FieldByName("Operator").Elem().FieldByName("Token").Elem().FieldByName("Val").String()
	res := fold2(op, l, r)
	if res.k == kStr && res.known {
		w.c.checkString(res.s, w.at(v), true)
	}
	return res
}

// fold2 applies a binary operator.
func fold2(op string, l, r fval) fval {
	ls, lok := l.asStr()
	rs, rok := r.asStr()
	switch op {
	case "~":
		if lok && rok {
			v := strVal(ls + rs)
			v.computed = true
			return v
		}
		return computedStr()
	case "+":
		switch {
		case l.k == kStr && r.k == kStr && l.known && r.known:
			v := strVal(l.s + r.s)
			v.computed = true
			return v
		case l.k == kInt && r.k == kInt && l.known && r.known:
			return intVal(l.n + r.n)
		case l.k == kList && r.k == kList && l.known && r.known:
			return listVal(append(append([]fval{}, l.list...), r.list...))
		case l.k == kStr || r.k == kStr:
			return computedStr()
		case l.k == kList || r.k == kList:
			return fval{k: kList, computed: l.computed || r.computed}
		}
		return fval{k: l.k}
	case "-":
		if l.k == kInt && r.k == kInt && l.known && r.known {
			return intVal(l.n - r.n)
		}
	case "*":
		s, n := l, r
		if s.k == kInt {
			s, n = r, l
		}
		if s.k == kStr && s.known && n.k == kInt && n.known && n.n >= 0 && int64(len(s.s))*n.n <= maxFold {
			v := strVal(strings.Repeat(s.s, int(n.n)))
			v.computed = true
			return v
		}
		if s.k == kStr {
			return computedStr()
		}
		if l.k == kInt && r.k == kInt && l.known && r.known {
			return intVal(l.n * r.n)
		}
	case "%":
		if l.k == kStr {
			args := []fval{r}
			if r.k == kList && r.known {
				args = r.list
			}
			if l.known {
				if s, ok := percentFormat(l.s, args); ok {
					v := strVal(s)
					v.computed = true
					return v
				}
			}
			return computedStr()
		}
	case "or", "and":
		if l.computed || r.computed {
			return fval{k: l.k, computed: true}
		}
	}
	return unknown
}

func reflectValue(x any) reflect.Value { return reflect.ValueOf(x) }
