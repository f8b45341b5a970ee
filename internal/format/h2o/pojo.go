// Package h2o analyzes H2O's model exports: POJOs, Java source generated
// from a model (code by nature: compiling and loading one runs it), and
// MOJOs, zip archives of a model.ini and data files read by h2o-genmodel.
package h2o

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"modelgate/internal/finding"
	"modelgate/internal/format"
)

// POJO is the analyzer for H2O POJOs.
type POJO struct{}

// NewPOJO returns the POJO analyzer.
func NewPOJO() *POJO { return &POJO{} }

// Name implements format.Analyzer.
func (*POJO) Name() string { return "h2o-pojo" }

// Match implements format.Analyzer: text (no NUL bytes) that refers to
// hex.genmodel and declares a class extending GenModel or annotated
// @ModelPojo, as every generated POJO does near its top.
func (*POJO) Match(p *format.Probe) bool {
	h := p.Head
	if bytes.IndexByte(h, 0) >= 0 || !bytes.Contains(h, []byte("hex.genmodel")) {
		return false
	}
	return bytes.Contains(h, []byte("GenModel")) && (bytes.Contains(h, []byte("extends ")) || bytes.Contains(h, []byte("@ModelPojo")))
}

// allowedImports are the packages generated POJOs import from.
var allowedImports = []string{"java.util.", "hex.genmodel.", "hex.ModelCategory"}

// dangerousPackages are packages whose use means I/O, reflection, native
// code or scripting.
var dangerousPackages = []string{
	"java.io.", "java.nio.", "java.net.", "java.lang.reflect.", "java.lang.invoke.",
	"java.rmi.", "javax.", "sun.", "com.sun.", "jdk.", "java.lang.management.",
}

// harmless names inside the packages above that generated POJOs use.
var harmless = map[string]bool{"java.io.Serializable": true}

// dangerousNames are identifiers for process execution, class loading,
// reflection, native code, deserialization, scripting and I/O.
var dangerousNames = map[string]string{
	"Runtime": "process execution", "ProcessBuilder": "process execution", "ProcessHandle": "process execution",
	"exec": "process execution", "forName": "class loading", "ClassLoader": "class loading",
	"URLClassLoader": "class loading", "defineClass": "class loading", "loadClass": "class loading",
	"getDeclaredMethod": "reflection", "getDeclaredField": "reflection", "getMethod": "reflection",
	"setAccessible": "reflection", "MethodHandles": "reflection", "invoke": "reflection",
	"loadLibrary": "native code", "native": "native code", "Unsafe": "native memory",
	"ScriptEngine": "scripting", "ScriptEngineManager": "scripting",
	"ObjectInputStream": "deserialization", "readObject": "deserialization",
	"Socket": "network", "ServerSocket": "network", "URL": "network", "URLConnection": "network",
	"HttpURLConnection": "network", "HttpClient": "network", "InetAddress": "network",
	"File": "file I/O", "Files": "file I/O", "Paths": "file I/O", "FileOutputStream": "file I/O",
	"FileInputStream": "file I/O", "FileWriter": "file I/O", "FileReader": "file I/O",
	"RandomAccessFile": "file I/O", "getenv": "environment", "setProperty": "environment",
	"setSecurityManager": "security manager", "exit": "process exit", "halt": "process exit",
	"Thread": "threads", "Executors": "threads",
}

// maxFindings bounds the dangerous-API findings listed per file.
const maxFindings = 50

// Analyze implements format.Analyzer.
func (*POJO) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	out.Finding(in.Rules.New(finding.RuleH2OPOJO, "H2O POJO: Java source that runs when compiled and loaded", "", finding.NoOffset))
	c := &pojoChecker{in: in, out: out, seen: map[string]bool{}}
	bad, err := lexJava(io.NewSectionReader(in.R, 0, in.Size), c.token, c.literal)
	if err != nil {
		return err
	}
	c.flush()
	if bad {
		out.Finding(in.Rules.New(finding.RuleH2OPOJODangerous, "the source has a malformed \\u escape, which javac rejects; text after it may be hidden", "", finding.NoOffset))
	}
	return ctx.Err()
}

type pojoChecker struct {
	in   *format.Input
	out  format.Emitter
	seen map[string]bool
	// qualified is the dotted name being read, and qOff its offset.
	qualified []string
	qOff      int64
	dot       bool
	// lastWord is the identifier before the current name ("import").
	lastWord string
	inImport bool
	n        int
}

func (c *pojoChecker) report(rule, msg, evidence string, off int64) {
	key := rule + "\x00" + evidence
	if c.seen[key] || c.n >= maxFindings {
		return
	}
	c.seen[key] = true
	c.n++
	c.out.Finding(c.in.Rules.New(rule, msg, evidence, off))
}

func (c *pojoChecker) token(t javaToken) {
	switch {
	case t.ident != "":
		if len(c.qualified) > 0 && !c.dot {
			c.flush()
		}
		if len(c.qualified) == 0 {
			c.qOff = t.off
		}
		c.qualified = append(c.qualified, t.ident)
		c.dot = false
		if why, ok := dangerousNames[t.ident]; ok {
			c.report(finding.RuleH2OPOJODangerous, fmt.Sprintf("the POJO uses %s (%s), which generated POJOs never do", t.ident, why), t.ident, t.off)
		}
	case t.punct == '.' && len(c.qualified) > 0:
		c.dot = true
	case t.punct == '*' && c.dot && c.inImport:
		c.qualified = append(c.qualified, "*")
		c.dot = false
	default:
		c.flush()
		if t.punct == ';' {
			c.inImport = false
		}
	}
}

// flush checks the dotted name just read.
func (c *pojoChecker) flush() {
	if len(c.qualified) == 0 {
		return
	}
	name := strings.Join(c.qualified, ".")
	c.qualified = c.qualified[:0]
	c.dot = false
	switch name {
	case "import":
		c.inImport = true
		return
	case "static":
		if c.inImport {
			return
		}
	}
	full := name + "."
	for _, p := range dangerousPackages {
		if harmless[name] {
			break
		}
		if strings.HasPrefix(full, p) {
			c.report(finding.RuleH2OPOJODangerous, fmt.Sprintf("the POJO uses %s, outside what generated POJOs need", name), name, c.qOff)
		}
	}
	if c.inImport {
		ok := false
		for _, p := range allowedImports {
			ok = ok || strings.HasPrefix(name, p)
		}
		if !ok {
			c.report(finding.RuleH2OPOJOImport, fmt.Sprintf("the POJO imports %s", name), name, c.qOff)
		}
	}
}

// literal checks string literals for class names handed to reflection
// ("java.lang.Runtime").
func (c *pojoChecker) literal(s string) {
	for _, p := range dangerousPackages {
		if strings.HasPrefix(s+".", p) {
			c.report(finding.RuleH2OPOJODangerous, fmt.Sprintf("a string names %s, a class outside what generated POJOs need", s), s, finding.NoOffset)
		}
	}
	if s == "java.lang.Runtime" || s == "java.lang.ProcessBuilder" || strings.HasPrefix(s, "java.lang.Class") {
		c.report(finding.RuleH2OPOJODangerous, fmt.Sprintf("a string names %s", s), s, finding.NoOffset)
	}
}
