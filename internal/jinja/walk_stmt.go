package jinja

import (
	"fmt"
	"reflect"
	"strings"

	"modelgate/internal/finding"
)

// Filters, calls and statements: the parts of the walk that fold values
// through Jinja's filters and Python's string methods, and that track what
// {% set %}, {% for %} and {% with %} assign.

type callArgs struct {
	args   []fval
	kwargs map[string]fval
}

func (w *walker) callArgs(args, kwargs reflect.Value) callArgs {
	ca := callArgs{kwargs: map[string]fval{}}
	for i := range args.Len() {
		ca.args = append(ca.args, w.walk(args.Index(i)))
	}
	if kwargs.IsValid() && !kwargs.IsNil() {
		it := kwargs.MapRange()
		for it.Next() {
			k := it.Key().String()
			w.checkName(k, fixed(-1))
			ca.kwargs[k] = w.walk(it.Value())
		}
	}
	return ca
}

func (w *walker) filtered(v reflect.Value) fval {
	val := w.walk(v.FieldByName("Expression"))
	fs := v.FieldByName("Filters")
	for i := range fs.Len() {
		fc := fs.Index(i)
		if fc.IsNil() {
			continue
		}
		fc = fc.Elem()
		name := fc.FieldByName("Name").String()
		ca := w.callArgs(fc.FieldByName("Args"), fc.FieldByName("Kwargs"))
		pos := w.at(fc)
		val = w.filter(name, val, ca, pos)
		if val.k == kStr && val.known {
			w.c.checkString(val.s, pos, true)
		}
	}
	return val
}

// attrArg checks an argument that names attributes to fetch.
func (w *walker) attrArg(filter string, a fval, pos at) {
	switch {
	case a.k == kStr && a.known:
		for _, part := range attrPath(a.s) {
			w.c.checkAttr(part, "the "+filter+" filter's attribute", pos)
		}
	case a.computed || filter == "attr" && a.k != kInt:
		off := pos()
		w.c.add(finding.RuleJinjaComputedName, w.c.snippet(off),
			fmt.Sprintf("the %s filter fetches an attribute whose name is decided at render time", filter), off)
	}
}

func (w *walker) filter(name string, val fval, ca callArgs, pos at) fval {
	arg := func(i int, kw string) (fval, bool) {
		if i < len(ca.args) {
			return ca.args[i], true
		}
		v, ok := ca.kwargs[kw]
		return v, ok
	}
	if idx, ok := attrFilters[name]; ok {
		if idx >= 0 && idx < len(ca.args) {
			w.attrArg(name, ca.args[idx], pos)
		}
		if a, ok := ca.kwargs["attribute"]; ok {
			w.attrArg(name, a, pos)
		}
	}
	if name == "map" && len(ca.args) > 1 && ca.args[0].known && ca.args[0].s == "attr" {
		w.attrArg("attr", ca.args[1], pos) // map('attr', name)
	}
	known := val.k == kStr && val.known
	derived := func() fval {
		if val.k == kStr || val.k == kList || val.computed {
			return computedStr()
		}
		return unknown
	}
	switch name {
	case "join":
		sep := ""
		if a, ok := arg(0, "d"); ok {
			s, sok := a.asStr()
			if !sok {
				return computedStr()
			}
			sep = s
		}
		if items, ok := val.strs(); ok {
			return assembled(strings.Join(items, sep))
		}
		return derived()
	case "format":
		if known {
			args := ca.args
			if len(args) == 0 && len(ca.kwargs) > 0 {
				return computedStr()
			}
			if s, ok := percentFormat(val.s, args); ok {
				return assembled(s)
			}
		}
		return derived()
	case "replace":
		o, ok1 := arg(0, "old")
		n, ok2 := arg(1, "new")
		count := int64(-1)
		if c, ok := arg(2, "count"); ok && c.k == kInt && c.known {
			count = c.n
		}
		if known && ok1 && ok2 && o.known && n.known && o.k == kStr && n.k == kStr && count >= -1 {
			return assembled(strings.Replace(val.s, o.s, n.s, int(min(count, 1<<20))))
		}
		return derived()
	case "lower", "upper", "trim":
		if known {
			f := map[string]func(string) string{"lower": strings.ToLower, "upper": strings.ToUpper, "trim": strings.TrimSpace}[name]
			return assembled(f(val.s))
		}
		return derived()
	case "reverse":
		switch {
		case known:
			return assembled(reverseString(val.s))
		case val.k == kList && val.known:
			out := make([]fval, len(val.list))
			for i, e := range val.list {
				out[len(out)-1-i] = e
			}
			return listVal(out)
		}
		return derived()
	case "first", "last":
		items, ok := val.strs()
		switch {
		case ok && len(items) > 0 && name == "first":
			return assembled(items[0])
		case ok && len(items) > 0:
			return assembled(items[len(items)-1])
		case val.k == kList && val.known && len(val.list) > 0 && name == "first":
			return val.list[0]
		case val.k == kList && val.known && len(val.list) > 0:
			return val.list[len(val.list)-1]
		}
		return derived()
	case "list":
		if known {
			var out []fval
			for _, r := range val.s {
				out = append(out, strVal(string(r)))
			}
			return listVal(out)
		}
		if val.k == kList {
			return val
		}
		return derived()
	case "string":
		if s, ok := val.asStr(); ok {
			return strVal(s)
		}
		// str() of an object: its repr holds characters ("_" in
		// "<generator object select_or_reject at …>") that payloads pick
		// out by index.
		return computedStr()
	case "tojson", "pprint", "urlencode", "xmlattr", "title", "capitalize", "center", "indent",
		"wordwrap", "truncate", "striptags", "e", "escape", "forceescape", "safe":
		return derived()
	}
	if stringFilters[name] && val.computed {
		return fval{k: val.k, computed: true}
	}
	return unknown
}

// assembled is a string built from pieces at render time.
func assembled(s string) fval {
	v := strVal(s)
	v.computed = true
	return v
}

func (w *walker) call(v reflect.Value) fval {
	fn := v.FieldByName("Func")
	ca := w.callArgs(v.FieldByName("Args"), v.FieldByName("Kwargs"))
	pos := w.at(v)
	f := fn
	for f.Kind() == reflect.Interface || f.Kind() == reflect.Pointer {
		if f.IsNil() {
			return unknown
		}
		f = f.Elem()
	}
	switch f.Type() {
	case tName:
		switch nameOf(f) {
		case "namespace":
			return fval{k: kNamespace, fields: ca.kwargs}
		case "dict":
			if len(ca.kwargs) == 1 && len(ca.args) == 0 {
				for k := range ca.kwargs {
					return listVal([]fval{strVal(k)})
				}
			}
			w.walk(fn)
			return fval{k: kList, computed: len(ca.kwargs) > 0}
		}
	case tGetAttribute:
		recv := w.walk(f.FieldByName("Node"))
		method := f.FieldByName("Attribute").String()
		w.c.checkAttr(method, "attribute", w.at(f))
		res := w.method(recv, method, ca, pos)
		if res.k == kStr && res.known {
			w.c.checkString(res.s, pos, true)
		}
		return res
	}
	w.walk(fn)
	return unknown
}

// method folds Python's str methods on a known receiver.
func (w *walker) method(recv fval, m string, ca callArgs, pos at) fval {
	if recv.k != kStr {
		return unknown
	}
	known := recv.known
	strArg := func(i int) (string, bool) {
		if i >= len(ca.args) {
			return "", false
		}
		return ca.args[i].asStr()
	}
	switch m {
	case "format", "format_map":
		attrs := func(a string) { w.c.checkAttr(a, "a str.format field", pos) }
		if known {
			if s, ok := strFormat(recv.s, ca.args, ca.kwargs, attrs); ok {
				return assembled(s)
			}
		}
		return computedStr()
	case "join":
		if len(ca.args) == 1 && known {
			if items, ok := ca.args[0].strs(); ok {
				return assembled(strings.Join(items, recv.s))
			}
		}
		return computedStr()
	case "replace":
		o, ok1 := strArg(0)
		n, ok2 := strArg(1)
		if known && ok1 && ok2 && len(ca.args) == 2 {
			return assembled(strings.ReplaceAll(recv.s, o, n))
		}
		return computedStr()
	case "lower", "upper", "strip", "lstrip", "rstrip", "casefold", "swapcase", "title", "capitalize":
		if known && len(ca.args) == 0 {
			switch m {
			case "lower", "casefold":
				return assembled(strings.ToLower(recv.s))
			case "upper":
				return assembled(strings.ToUpper(recv.s))
			case "strip":
				return assembled(strings.TrimSpace(recv.s))
			case "lstrip":
				return assembled(strings.TrimLeft(recv.s, " \t\n\r\f\v"))
			case "rstrip":
				return assembled(strings.TrimRight(recv.s, " \t\n\r\f\v"))
			}
		}
		return computedStr()
	case "split", "rsplit", "splitlines", "partition", "rpartition":
		if known && m == "split" {
			if sep, ok := strArg(0); ok && sep != "" && len(ca.args) == 1 {
				var out []fval
				for _, p := range strings.Split(recv.s, sep) {
					out = append(out, strVal(p))
				}
				l := listVal(out)
				l.computed = true
				return l
			}
		}
		return fval{k: kList, computed: true}
	case "center", "ljust", "rjust", "zfill", "expandtabs", "removeprefix", "removesuffix", "translate", "encode", "decode":
		return computedStr()
	}
	return unknown
}

// lookup returns what a variable path holds: an assignment seen so far, or
// a field of the namespace() it names.
func (w *walker) lookup(key string) (fval, bool) {
	if v, ok := w.env[key]; ok {
		return v, true
	}
	if base, field, ok := strings.Cut(key, "."); ok {
		if ns, ok := w.env[base]; ok && ns.k == kNamespace {
			v, ok := ns.fields[field]
			return v, ok
		}
	}
	return unknown, false
}

func (w *walker) assign(key string, v fval) {
	if key == "" {
		return
	}
	if old, ok := w.lookup(key); ok {
		v = merge(old, v)
	}
	w.env[key] = v
}

func (w *walker) set(v reflect.Value) {
	val := w.walk(v.FieldByName("expression"))
	if c := v.FieldByName("condition"); c.IsValid() && !c.IsNil() {
		w.walk(c)
		val = merge(val, w.walk(v.FieldByName("alternative")))
	}
	if body := v.FieldByName("body"); body.IsValid() && !body.IsNil() {
		w.walk(body)
		val = w.capture(body.Elem())
	}
	target := v.FieldByName("target")
	key := nameOf(target)
	if t := target; t.IsValid() && !t.IsNil() && t.Elem().Kind() == reflect.Pointer && t.Elem().Elem().Type() != tName {
		w.walk(target) // ns.attr targets, tuples
	}
	w.assign(key, val)
}

// capture folds what a block {% set x %}…{% endset %} captures: its text,
// when the body is text only.
func (w *walker) capture(wrapper reflect.Value) fval {
	ns := wrapper.FieldByName("Nodes")
	var b strings.Builder
	for i := range ns.Len() {
		n := ns.Index(i)
		for n.Kind() == reflect.Interface || n.Kind() == reflect.Pointer {
			if n.IsNil() {
				return computedStr()
			}
			n = n.Elem()
		}
		if n.Type() != tData {
			return computedStr()
		}
		b.WriteString(n.FieldByName("Data").Elem().FieldByName("Val").String())
	}
	s := b.String()
	w.c.checkString(s, w.at(wrapper), true)
	return assembled(strings.TrimSpace(s))
}

func (w *walker) forLoop(v reflect.Value) {
	obj := w.walk(v.FieldByName("ObjectEvaluator"))
	var elem fval
	switch {
	case obj.k == kList && obj.known && len(obj.list) > 0:
		elem = obj.list[0]
		for _, e := range obj.list[1:] {
			elem = merge(elem, e)
		}
	case obj.k == kStr:
		elem = fval{k: kStr, computed: obj.computed}
	case obj.computed:
		elem = computedStr()
	}
	if k := v.FieldByName("Key").String(); k != "" {
		w.checkName(k, w.at(v))
		w.assign(k, elem)
	}
	if k := v.FieldByName("Value").String(); k != "" {
		w.checkName(k, w.at(v))
		w.assign(k, unknown)
	}
	w.walk(v.FieldByName("IfCondition"))
	w.walk(v.FieldByName("BodyWrapper"))
	w.walk(v.FieldByName("EmptyWrapper"))
}

func (w *walker) with(v reflect.Value) {
	it := v.FieldByName("pairs").MapRange()
	for it.Next() {
		k := it.Key().String()
		w.checkName(k, fixed(-1))
		w.assign(k, w.walk(it.Value()))
	}
	w.walk(v.FieldByName("wrapper"))
}

func (w *walker) variable(v reflect.Value) fval {
	parts := v.FieldByName("Parts")
	pos := w.at(v)
	for i := range parts.Len() {
		p := parts.Index(i)
		if p.IsNil() {
			continue
		}
		p = p.Elem()
		if s := p.FieldByName("S").String(); s != "" {
			if i == 0 {
				w.checkName(s, pos)
			} else {
				w.c.checkAttr(s, "attribute", pos)
			}
		}
		w.callArgs(p.FieldByName("Args"), p.FieldByName("Kwargs"))
	}
	return unknown
}
