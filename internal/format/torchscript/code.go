package torchscript

import (
	"strings"
)

// Call is a call found in TorchScript source.
type Call struct {
	Name string // the dotted callee, e.g. "torch.linear"
	Line int
	// Danger is set for callees that reach the system or evaluate code.
	Danger bool
	// CustomOp is set for operators outside PyTorch's own namespaces.
	CustomOp bool
}

// Problem is a call or import outside TorchScript.
type Problem struct {
	Call
	Import bool
}

// dangerousRoots are names whose call in Python reaches the system or runs
// code. TorchScript cannot call them; their presence marks a crafted file.
var dangerousRoots = map[string]bool{
	"os": true, "posix": true, "nt": true, "subprocess": true, "sys": true, "builtins": true, "__builtins__": true,
	"__builtin__": true, "importlib": true, "pickle": true, "_pickle": true, "marshal": true, "socket": true,
	"shutil": true, "ctypes": true, "runpy": true, "pty": true, "code": true, "codeop": true, "types": true,
	"inspect": true, "io": true, "_io": true, "pathlib": true, "urllib": true, "requests": true, "http": true,
	"eval": true, "exec": true, "compile": true, "open": true, "__import__": true, "setattr": true, "delattr": true,
	"globals": true, "locals": true, "vars": true, "input": true, "breakpoint": true, "exit": true, "quit": true,
	"help": true, "memoryview": true, "execfile": true, "reload": true, "dill": true, "cloudpickle": true,
	"multiprocessing": true, "threading": true, "asyncio": true, "signal": true, "webbrowser": true,
	"tempfile": true, "glob": true, "platform": true, "pdb": true, "timeit": true, "functools": true, "operator": true,
}

// builtinRoots are what serialized TorchScript calls: torch and its
// operators, the archive's own __torch__ classes, and TorchScript's
// builtin functions (torch/jit/_builtins.py, the frontend's special forms).
var builtinRoots = map[string]bool{
	"torch": true, "__torch__": true, "ops": true, "math": true, "self": true, "CONSTANTS": true,
	"annotate": true, "uninitialized": true, "unchecked_cast": true, "isinstance": true, "fork": true, "wait": true,
	"len": true, "int": true, "float": true, "bool": true, "str": true, "complex": true, "list": true, "dict": true,
	"tuple": true, "range": true, "enumerate": true, "zip": true, "min": true, "max": true, "abs": true, "sum": true,
	"all": true, "any": true, "print": true, "round": true, "divmod": true, "sorted": true, "reversed": true,
	"chr": true, "ord": true, "hex": true, "oct": true, "bin": true, "hash": true, "id": true, "hasattr": true,
	"getattr": true, "iter": true, "next": true, "slice": true, "pow": true, "format": true,
	"Exception": true, "RuntimeError": true, "ValueError": true, "AssertionError": true, "NotImplementedError": true,
	"StopIteration": true, "TypeError": true, "KeyError": true, "IndexError": true, "ZeroDivisionError": true,
	"ArithmeticError": true, "AttributeError": true, "OverflowError": true, "ImportError": true,
	"Future": true, "Await": true, "_awaitable": true, "_awaitable_wait": true, "_awaitable_nowait": true,
	"Optional": true, "List": true, "Dict": true, "Tuple": true, "NamedTuple": true, "Union": true, "Enum": true,
	"Tensor": true, "Device": true, "NoneType": true, "warnings": true, "_": true,
}

// opNamespaces are PyTorch's own operator namespaces.
var opNamespaces = map[string]bool{
	"aten": true, "prim": true, "quantized": true, "_quantized": true, "_caffe2": true, "profiler": true,
	"_c10d_functional": true, "c10d": true, "_c10d_functional_autograd": true, "_dist_autograd": true,
	"fbgemm": false, "mkldnn": true, "sparse": true, "cuda": true, "_nnapi": true, "xnnpack": true,
	"mkl": true, "onednn": true, "_native_multi_head_attention": true, "_test": false, "prepacked": true,
	"_prim": true, "rngprims": true, "higher_order": true, "debugprims": true, "inductor": true, "quantized_decomposed": true,
}

// CheckSource lists the calls and imports in TorchScript source that
// TorchScript's own serializer would not write.
func CheckSource(src []byte) []Problem {
	toks := tokenize(src)
	locals := collectLocals(toks)
	var out []Problem
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind == tokName && (t.text == "import" || t.text == "from") && (i == 0 || toks[i-1].kind == tokNewline) {
			j := i + 1
			name, _ := dotted(toks, j)
			if name != "" && name != "__torch__" && !strings.HasPrefix(name, "__torch__.") && name != "torch" && !strings.HasPrefix(name, "torch.") {
				root := strings.SplitN(name, ".", 2)[0]
				out = append(out, Problem{Call: Call{Name: name, Line: t.line, Danger: dangerousRoots[root]}, Import: true})
			}
			continue
		}
		if t.kind != tokName || isKeyword(t.text) {
			continue
		}
		if i > 0 {
			p := toks[i-1]
			if p.kind == tokOp && (p.text == "." || p.text == ")" || p.text == "]") {
				continue // a method of an expression
			}
			if p.kind == tokName && (p.text == "def" || p.text == "class") {
				continue
			}
		}
		name, j := dotted(toks, i)
		if j >= len(toks) || toks[j].kind != tokOp || toks[j].text != "(" {
			i = j - 1
			continue
		}
		root := strings.SplitN(name, ".", 2)[0]
		c := Call{Name: name, Line: t.line}
		switch {
		case dangerousRoots[root] && !locals[root]:
			c.Danger = true
			out = append(out, Problem{Call: c})
		case root == "ops":
			parts := strings.Split(name, ".")
			if len(parts) >= 2 && !opNamespaces[parts[1]] {
				c.CustomOp = true
				out = append(out, Problem{Call: c})
			}
		case builtinRoots[root] || locals[root]:
		default:
			out = append(out, Problem{Call: c})
		}
		i = j - 1
	}
	return out
}

// dotted reads NAME(.NAME)* from toks[i] and returns it and the index
// after it.
func dotted(toks []token, i int) (string, int) {
	if i >= len(toks) || toks[i].kind != tokName {
		return "", i
	}
	var b strings.Builder
	b.WriteString(toks[i].text)
	j := i + 1
	for j+1 < len(toks) && toks[j].kind == tokOp && toks[j].text == "." && toks[j+1].kind == tokName {
		b.WriteByte('.')
		b.WriteString(toks[j+1].text)
		j += 2
	}
	return b.String(), j
}

var keywords = map[string]bool{
	"def": true, "class": true, "return": true, "if": true, "elif": true, "else": true, "for": true, "while": true,
	"in": true, "not": true, "and": true, "or": true, "is": true, "None": true, "True": true, "False": true,
	"pass": true, "break": true, "continue": true, "raise": true, "assert": true, "with": true, "as": true,
	"lambda": true, "try": true, "except": true, "finally": true, "global": true, "nonlocal": true, "yield": true,
	"del": true, "import": true, "from": true, "await": true, "async": true,
}

func isKeyword(s string) bool { return keywords[s] }

// collectLocals gathers names the source binds: assignment and loop
// targets, parameters, with/except aliases, and its own defs and classes.
// A call of a local is a call of a value, not of an outside name.
func collectLocals(toks []token) map[string]bool {
	loc := map[string]bool{}
	for i, t := range toks {
		if t.kind != tokName || isKeyword(t.text) {
			if t.kind == tokName && (t.text == "def" || t.text == "class") && i+1 < len(toks) && toks[i+1].kind == tokName {
				loc[toks[i+1].text] = true
			}
			if t.kind == tokName && t.text == "as" && i+1 < len(toks) && toks[i+1].kind == tokName {
				loc[toks[i+1].text] = true
			}
			if t.kind == tokName && t.text == "for" {
				for j := i + 1; j < len(toks) && !(toks[j].kind == tokName && toks[j].text == "in"); j++ {
					if toks[j].kind == tokName {
						loc[toks[j].text] = true
					}
				}
			}
			continue
		}
		if i > 0 && toks[i-1].kind == tokOp && toks[i-1].text == "." {
			continue
		}
		// name = …, name : T = …, name += …, a, b = …
		for j := i + 1; j < len(toks); j++ {
			n := toks[j]
			if n.kind == tokOp && (n.text == "=" || (len(n.text) == 2 && n.text[1] == '=' && !strings.ContainsAny(n.text[:1], "=!<>"))) {
				loc[t.text] = true
				break
			}
			if n.kind == tokOp && (n.text == "," || n.text == ":") && j == i+1 {
				continue
			}
			if n.kind == tokName && j > i+1 && toks[j-1].kind == tokOp && (toks[j-1].text == "," || toks[j-1].text == ":") {
				continue
			}
			if n.kind == tokOp && (n.text == "[" || n.text == "]" || n.text == ".") && j > i+1 {
				continue
			}
			break
		}
	}
	// Parameters: def f(a: T, b: T = v) — names directly after "(" or ","
	// at the definition's top level and followed by ":", "=", "," or ")".
	for i := 0; i+2 < len(toks); i++ {
		if toks[i].kind != tokName || toks[i].text != "def" {
			continue
		}
		depth := 0
	params:
		for j := i + 2; j < len(toks); j++ {
			t := toks[j]
			if t.kind == tokOp {
				switch t.text {
				case "(", "[":
					depth++
				case ")", "]":
					depth--
				}
				if depth <= 0 && t.text == ")" {
					break params
				}
				continue
			}
			if t.kind == tokName && depth == 1 {
				p := toks[j-1]
				if p.kind == tokOp && (p.text == "(" || p.text == ",") {
					loc[t.text] = true
				}
			}
			if t.kind == tokNewline && depth <= 0 {
				break params
			}
		}
	}
	return loc
}
