package jinja

import (
	"slices"
	"strings"
)

// pythonDunders are the special attributes an SSTI payload walks through to
// get from a template value to Python's runtime: class hierarchy, function
// globals, the builtins module, the import machinery, frames and code
// objects. A name that starts with "__" is flagged whether or not it is
// listed here; the list decides only how strings are judged, where an
// unknown "__x__" (a marker such as "<__media__>") is left alone.
var pythonDunders = map[string]bool{
	"__class__": true, "__mro__": true, "__base__": true, "__bases__": true, "__subclasses__": true,
	"__globals__": true, "__builtins__": true, "__import__": true, "__init__": true, "__new__": true,
	"__dict__": true, "__getattribute__": true, "__getattr__": true, "__setattr__": true, "__delattr__": true,
	"__reduce__": true, "__reduce_ex__": true, "__getitem__": true, "__setitem__": true, "__call__": true,
	"__code__": true, "__closure__": true, "__func__": true, "__self__": true, "__module__": true,
	"__loader__": true, "__spec__": true, "__name__": true, "__qualname__": true, "__doc__": true,
	"__file__": true, "__path__": true, "__package__": true, "__weakref__": true, "__slots__": true,
	"__dir__": true, "__repr__": true, "__str__": true, "__format__": true, "__init_subclass__": true,
	"__subclasshook__": true, "__instancecheck__": true, "__enter__": true, "__exit__": true,
	"__iter__": true, "__next__": true, "__len__": true, "__contains__": true, "__add__": true,
	"__eq__": true, "__hash__": true, "__defaults__": true, "__kwdefaults__": true,
	"__annotations__": true, "__wrapped__": true, "__traceback__": true, "__context__": true,
	"__cause__": true, "__objclass__": true, "__set_name__": true, "__prepare__": true,
	"__class_getitem__": true, "__getstate__": true, "__setstate__": true, "__sizeof__": true,
}

// dunderNames is pythonDunders in a fixed order, for deterministic results.
var dunderNames = sortedKeys(pythonDunders)

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// introspectionAttrs are non-dunder attributes that expose interpreter
// internals (frames, code objects, function globals in Python 2 spelling,
// the method resolution order). No chat template has a reason to touch them.
var introspectionAttrs = map[string]bool{
	"mro": true, "func_globals": true, "func_code": true, "func_closure": true, "im_func": true,
	"im_self": true, "im_class": true, "f_globals": true, "f_locals": true, "f_builtins": true,
	"f_back": true, "f_code": true, "gi_frame": true, "gi_code": true, "cr_frame": true,
	"cr_code": true, "ag_frame": true, "ag_code": true, "tb_frame": true, "tb_next": true,
	"co_code": true, "co_consts": true, "co_names": true,
}

// runtimeAttrs name Python modules and functions that run commands, load
// code or read the environment. As attribute names they only make sense
// after a template has already escaped to Python objects.
var runtimeAttrs = map[string]bool{
	"os": true, "popen": true, "subprocess": true, "posix": true, "nt": true, "eval": true,
	"exec": true, "execfile": true, "compile": true, "builtins": true, "globals": true,
	"getattr": true, "setattr": true, "delattr": true, "import_module": true, "modules": true,
	"environ": true, "check_output": true, "check_call": true, "getoutput": true,
	"getstatusoutput": true, "spawnl": true, "spawnlp": true, "spawnv": true, "spawnvp": true,
	"execl": true, "execlp": true, "execv": true, "execve": true, "execvp": true, "fork": true,
	"load_module": true, "exec_module": true,
	// "system" is missing on purpose: it is a chat role, and a property
	// name some templates read.
}

// gadgetGlobals are names Jinja (and Flask) put in every template's globals
// whose objects lead to Python internals: cycler.__init__.__globals__,
// lipsum.__globals__, self._TemplateReference__context, request.application,
// config.from_pyfile… Chat templates never use them. namespace() is the
// exception that real templates call; only the bare name is flagged.
var gadgetGlobals = map[string]bool{
	"cycler": true, "joiner": true, "lipsum": true, "self": true, "request": true,
	"config": true, "url_for": true, "get_flashed_messages": true, "session": true,
	"namespace": true,
}

// attrFilters are filters whose arguments name attributes to fetch from
// each item, and which argument does (-1: only the attribute= keyword).
// Jinja resolves "a.b.c" paths in them, and falls back to getattr.
var attrFilters = map[string]int{
	"attr": 0, "map": -1, "selectattr": 0, "rejectattr": 0, "sort": -1, "groupby": 0,
	"sum": -1, "unique": -1, "min": -1, "max": -1, "join": -1, "dictsort": -1,
}

// stringFilters return strings (or lists of characters) computed from
// their input: a name built through them is decided at render time.
var stringFilters = map[string]bool{
	"join": true, "format": true, "replace": true, "string": true, "lower": true, "upper": true,
	"reverse": true, "first": true, "last": true, "list": true, "trim": true, "title": true,
	"capitalize": true, "center": true, "indent": true, "striptags": true, "urlencode": true,
	"truncate": true, "wordwrap": true, "xmlattr": true, "safe": true, "e": true, "escape": true,
	"forceescape": true, "random": true, "batch": true, "slice": true, "sort": true,
	"unique": true, "map": true, "select": true, "reject": true, "pprint": true,
	"filesizeformat": true, "items": true,
}

// isIdentChar reports whether b can appear in a Python identifier (ASCII).
func isIdentChar(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// badAttr says why an attribute name reaches Python internals, or "".
// name is what a template fetches with ., [], |attr or attribute=.
func badAttr(name string) string {
	switch {
	case strings.HasPrefix(name, "__"):
		return "a dunder name"
	case strings.HasPrefix(name, "_"):
		// Jinja's sandbox refuses every _-prefixed attribute; mangled
		// privates such as _TemplateReference__context lead to the
		// template context.
		return "a private name"
	case introspectionAttrs[name]:
		return "an introspection attribute"
	}
	return ""
}

// attrPath splits an attribute= argument the way Jinja does ("a.b.0").
func attrPath(s string) []string { return strings.Split(s, ".") }

// dunderIn returns the first Python dunder name in s, or "". s is any
// string a template holds or builds: a literal, or a name assembled from
// pieces. An identifier-like run that is a known dunder, or is in the
// mangled private form _Class__attr, counts; "__x__" runs that are not
// Python's (template markers such as "<__media__>") do not. With
// fragments, an unfinished run such as "__cla" counts too: that is how a
// literal looks when it is one piece of an assembled name (the
// intermediate results of assembling one are not reported).
func dunderIn(s string, fragments bool) string {
	for i := 0; i < len(s); {
		if !isIdentChar(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isIdentChar(s[j]) {
			j++
		}
		if w := dunderWord(s[i:j], fragments); w != "" {
			return w
		}
		i = j
	}
	return ""
}

// dunderWord judges one identifier-like run.
func dunderWord(w string, fragments bool) string {
	if strings.HasPrefix(w, "__") && len(w) > 2 {
		if pythonDunders[w] {
			return w
		}
		// A run containing a known dunder ("x__class__y" cannot be an
		// attribute, but "__class__" inside "a.__class__" is split by
		// the dot already): look for any known dunder as a prefix.
		for _, d := range dunderNames {
			if strings.HasPrefix(w, d) {
				return d
			}
		}
		if fragments && !strings.HasSuffix(w, "__") {
			return w // a fragment: "__cla", "__glo"
		}
		return ""
	}
	if i := strings.Index(w, "__"); i > 1 && w[0] == '_' && i+2 < len(w) {
		return w // _TemplateReference__context
	}
	for _, d := range dunderNames {
		if strings.Contains(w, d) {
			return d
		}
	}
	return ""
}
