package pymarshal

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Summary is what a marshalled code object would do, as far as it can be
// told without running it: the names it looks up (globals, attributes,
// imports) and the string constants it uses, for every nested function.
type Summary struct {
	// Functions lists each code object as "qualname (filename)".
	Functions []string
	Layout    string
	// Names are co_names across all code objects, in first-seen order:
	// the globals, attributes and modules the code touches.
	Names []string
	// Strings are the str and bytes constants.
	Strings []string
	// Risky are the Names (and string constants naming modules) that run
	// commands, evaluate code, import or touch files and the network.
	Risky []string
}

// riskyNames are names whose use in a Lambda is a strong sign of a payload.
var riskyNames = map[string]bool{
	"__import__": true, "eval": true, "exec": true, "compile": true, "open": true, "system": true,
	"popen": true, "Popen": true, "spawn": true, "spawnv": true, "execv": true, "execve": true,
	"subprocess": true, "os": true, "posix": true, "nt": true, "sys": true, "builtins": true,
	"__builtins__": true, "getattr": true, "setattr": true, "globals": true, "locals": true,
	"importlib": true, "import_module": true, "socket": true, "urllib": true, "urlopen": true,
	"requests": true, "http": true, "check_output": true, "check_call": true, "call": true, "run": true,
	"remove": true, "unlink": true, "rmtree": true, "shutil": true, "pickle": true, "marshal": true,
	"loads": true, "ctypes": true, "pty": true, "write": true, "__class__": true, "__subclasses__": true,
	"__globals__": true, "__code__": true, "__reduce__": true, "breakpoint": true, "input": true,
}

// Summarize walks a decoded value for code objects.
func Summarize(v Value) Summary {
	var s Summary
	seenName, seenStr := map[string]bool{}, map[string]bool{}
	budget := 10_000 // values visited; decoded input is already bounded
	var walk func(v Value, depth int)
	walk = func(v Value, depth int) {
		if budget--; budget < 0 || depth > 64 {
			return
		}
		switch x := v.(type) {
		case *Code:
			if s.Layout == "" {
				s.Layout = x.Layout
			}
			name := x.QualName
			if name == "" {
				name = x.Name
			}
			s.Functions = append(s.Functions, fmt.Sprintf("%s (%s)", name, x.Filename))
			for _, n := range x.Names {
				if !seenName[n] {
					seenName[n] = true
					s.Names = append(s.Names, n)
				}
			}
			for _, c := range x.Consts {
				walk(c, depth+1)
			}
		case string:
			addString(&s, seenStr, x)
		case Bytes:
			addString(&s, seenStr, string(x))
		case Tuple:
			for _, e := range x {
				walk(e, depth+1)
			}
		case List:
			for _, e := range x {
				walk(e, depth+1)
			}
		case Set:
			for _, e := range x {
				walk(e, depth+1)
			}
		case Dict:
			for _, kv := range x {
				walk(kv[0], depth+1)
				walk(kv[1], depth+1)
			}
		}
	}
	walk(v, 0)
	for _, n := range s.Names {
		if riskyNames[n] {
			s.Risky = append(s.Risky, n)
		}
	}
	for _, c := range s.Strings {
		if riskyNames[c] && !slices.Contains(s.Risky, c) {
			s.Risky = append(s.Risky, c)
		}
	}
	return s
}

func addString(s *Summary, seen map[string]bool, v string) {
	if seen[v] || len(s.Strings) >= 100 {
		return
	}
	seen[v] = true
	s.Strings = append(s.Strings, v)
}

// String renders the summary on one line, for a finding's evidence.
func (s Summary) String() string {
	var b strings.Builder
	if len(s.Functions) == 0 {
		return "no code object"
	}
	fmt.Fprintf(&b, "code %s", strings.Join(capList(s.Functions, 5), ", "))
	if s.Layout != "" {
		fmt.Fprintf(&b, " [Python %s layout]", s.Layout)
	}
	if len(s.Names) > 0 {
		fmt.Fprintf(&b, "; names: %s", strings.Join(capList(s.Names, 30), ", "))
	}
	if len(s.Strings) > 0 {
		q := make([]string, 0, len(s.Strings))
		for _, x := range capList(s.Strings, 20) {
			if len(x) > 200 {
				x = x[:200] + "…"
			}
			q = append(q, strconv.Quote(x))
		}
		fmt.Fprintf(&b, "; strings: %s", strings.Join(q, ", "))
	}
	return b.String()
}

func capList(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(slices.Clone(s[:n]), fmt.Sprintf("… %d more", len(s)-n))
}

// DecodeBase64 decodes base64 the way Python's binascii.a2b_base64 does by
// default (what Keras' func_load calls): characters outside the alphabet,
// such as the newlines base64.encodebytes inserts, are skipped, and
// decoding stops at the padding.
func DecodeBase64(s string) ([]byte, error) {
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			clean = append(clean, c)
		case c == '=':
			i = len(s) // padding ends the data
		}
	}
	if len(clean)%4 == 1 {
		return nil, fmt.Errorf("base64: %d data characters cannot be a whole number of bytes", len(clean))
	}
	return base64.RawStdEncoding.DecodeString(string(clean))
}
