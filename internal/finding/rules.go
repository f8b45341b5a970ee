package finding

import (
	"slices"
	"strings"
	"sync"
)

// Rule says once what a finding means. Rules are data: the catalogue is
// rendered into docs/rules.md and into SARIF rule descriptors.
type Rule struct {
	ID       string
	Title    string
	Severity Severity
	// Why explains the risk in a paragraph.
	Why string
	// Fix says what to do about it.
	Fix string
	// CWE is a CWE identifier such as "CWE-502", if one fits.
	CWE string
	// Strict marks rules that --strict treats as failing whatever their
	// severity: the "suspicious" class.
	Strict bool
}

// Catalogue holds every rule by ID. It is built once and never changed.
type Catalogue struct {
	byID  map[string]*Rule
	rules []Rule
}

// NewCatalogue indexes rules; a duplicate ID is a programming error.
func NewCatalogue(rules ...[]Rule) *Catalogue {
	c := &Catalogue{byID: map[string]*Rule{}}
	for _, group := range rules {
		c.rules = append(c.rules, group...)
	}
	slices.SortFunc(c.rules, func(a, b Rule) int { return strings.Compare(a.ID, b.ID) })
	for i := range c.rules {
		r := &c.rules[i]
		if _, dup := c.byID[r.ID]; dup {
			panic("finding: duplicate rule " + r.ID)
		}
		c.byID[r.ID] = r
	}
	return c
}

// Rules returns every rule sorted by ID.
func (c *Catalogue) Rules() []Rule { return c.rules }

// Lookup returns a rule by ID.
func (c *Catalogue) Lookup(id string) (*Rule, bool) {
	r, ok := c.byID[id]
	return r, ok
}

// Default is the catalogue of every rule modelgate can report. It is built
// once: a Catalogue is never changed, so every caller shares it.
func Default() *Catalogue { return defaultCatalogue() }

var defaultCatalogue = sync.OnceValue(func() *Catalogue {
	return NewCatalogue(scanRules, pickleRules, dynamicRules, templateRules, ggufRules, safetensorsRules, h2oRules,
		kerasRules, onnxRules, tensorflowRules, repoRules, dockerRules, secretRules, archiveRules, serializationRules)
})

// New builds a finding for rule id with the rule's default severity. It
// panics on an unknown id, which tests catch: a finding must name a rule.
func (c *Catalogue) New(id, msg, evidence string, offset int64) Finding {
	r, ok := c.byID[id]
	if !ok {
		panic("finding: unknown rule " + id)
	}
	return Finding{Rule: id, Severity: r.Severity, Message: msg, Evidence: evidence, Offset: offset}
}

// Scan-level rules: what happens to a file as a whole.
const (
	RuleUnknownFormat = "SCAN-UNKNOWN-FORMAT"
	RuleParseError    = "SCAN-PARSE-ERROR"
	RuleLimit         = "SCAN-LIMIT-EXCEEDED"
	RuleIOError       = "SCAN-IO-ERROR"
)

var scanRules = []Rule{
	{
		ID: RuleUnknownFormat, Title: "Unknown format", Severity: Info,
		Why: "No analyzer recognised the content of this file. It was not checked for code, but it is listed so that nothing is skipped silently. Formats are recognised by content, never by file name.",
		Fix: "If this file is loaded by a framework, report the format so an analyzer can be added.",
	},
	{
		ID: RuleParseError, Title: "File could not be parsed completely", Severity: Medium,
		Why: "The content looks like a known format but is malformed. The part that parsed was checked; the rest was not, and loaders are often more lenient than strict parsers, which is where scanner bypasses live.",
		Fix: "Re-create the file with its framework, or treat it as untrusted.",
		CWE: "CWE-20",
	},
	{
		ID: RuleLimit, Title: "Scan limit exceeded", Severity: High,
		Why: "A size, count, depth, time or memory limit was reached, so part of the file was not checked. A scanner that passes what it could not read fails open; modelgate fails closed.",
		Fix: "Inspect the file by other means, or raise the limit in the policy if the file is legitimately large.",
		CWE: "CWE-400",
	},
	{
		ID: RuleIOError, Title: "File could not be read", Severity: High,
		Why: "The file could not be opened or read, so it was not checked at all.",
		Fix: "Check permissions and that the file exists, then scan again.",
	},
}

// Pickle rules.
const (
	RulePickleDangerous     = "PICKLE-DANGEROUS-GLOBAL"
	RulePickleSuspicious    = "PICKLE-SUSPICIOUS-GLOBAL"
	RulePickleComputed      = "PICKLE-COMPUTED-GLOBAL"
	RulePickleExt           = "PICKLE-EXT-CODE"
	RulePickleMalformed     = "PICKLE-MALFORMED"
	RulePickleTrailing      = "PICKLE-TRAILING-DATA"
	RulePickleMultiple      = "PICKLE-MULTIPLE-STREAMS"
	RulePickleIndirectCall  = "PICKLE-INDIRECT-CALL"
	RulePickleAttrWrite     = "PICKLE-GLOBAL-STATE-WRITE"
	RulePickleSetstate      = "PICKLE-SETSTATE-HIJACK"
	RulePickleTypeConfusion = "PICKLE-TYPE-CONFUSION"
	RulePicklePersistentID  = "PICKLE-PERSISTENT-ID"
	RulePickleNested        = "PICKLE-NESTED-PICKLE"
	RulePickleNonCallable   = "PICKLE-NON-CALLABLE"
)

var pickleRules = []Rule{
	{
		ID: RulePickleDangerous, Title: "Pickle imports a code-running callable", Severity: Critical,
		Why: "Loading this pickle imports a global that runs commands, evaluates code, opens network connections, writes files or loads further code (os.system, builtins.eval, subprocess.Popen, runpy, importlib, …). Unpickling it runs that code with the loader's privileges.",
		Fix: "Do not load this file. If it came from a model hub, report it. Convert trusted checkpoints to safetensors.",
		CWE: "CWE-502",
	},
	{
		ID: RulePickleSuspicious, Title: "Pickle imports a global that is not known to be safe", Severity: Medium,
		Why: "The global is not on the allowlist of classes and functions that ordinary PyTorch, NumPy, scikit-learn and transformers files need. It may be harmless custom code, or a gadget that no list knows yet. Allowlist first: unknown means suspicious.",
		Fix: "Check what the global does. If it is safe, add it to allow in your policy file.",
		CWE: "CWE-502", Strict: true,
	},
	{
		ID: RulePickleComputed, Title: "Pickle computes the name of what it imports", Severity: Critical,
		Why: "A STACK_GLOBAL or INST takes its module or name from the result of a call rather than a literal string, so what is imported is decided at load time. Ordinary pickles never do this; it hides the real target from scanners.",
		Fix: "Do not load this file.",
		CWE: "CWE-502",
	},
	{
		ID: RulePickleExt, Title: "Pickle uses an extension-registry code", Severity: Critical,
		Why: "EXT1/EXT2/EXT4 import whatever the loading process registered in copyreg under that code. The target cannot be known from the file, so it is treated as dangerous.",
		Fix: "Do not load this file.",
		CWE: "CWE-502",
	},
	{
		ID: RulePickleMalformed, Title: "Pickle stream is malformed", Severity: Medium,
		Why: "The stream breaks (unknown opcode, truncation, missing STOP, stack or memo misuse). A loader runs every call before the break, so everything before it was checked; a deliberately broken stream is how the nullifAI models hid from scanners.",
		Fix: "Treat the file as untrusted; re-create it with its framework.",
		CWE: "CWE-20",
	},
	{
		ID: RulePickleTrailing, Title: "Data after the end of the pickle", Severity: Low,
		Why: "Bytes follow the final STOP that are not another pickle. Loaders ignore them, but they can hide a second payload for a loader that reads on.",
		Fix: "Check where the extra bytes come from.",
	},
	{
		ID: RulePickleMultiple, Title: "Several pickles in one file", Severity: Low,
		Why: "The file holds more than one pickle stream. A program that calls pickle.load repeatedly runs each; a scanner that stops at the first STOP misses the rest. Every stream was scanned.",
		Fix: "Expected for some formats (legacy PyTorch); otherwise check why the file has several.",
	},
	{
		ID: RulePickleIndirectCall, Title: "Pickle calls something whose identity is hidden", Severity: High,
		Why: "A REDUCE, OBJ or NEWOBJ calls a value that is not a plainly imported global, such as the result of another call or an attribute fetched at load time. Ordinary pickles call imported constructors only.",
		Fix: "Do not load this file unless you can explain the call chain shown by `modelgate explain`.",
		CWE: "CWE-502",
	},
	{
		ID: RulePickleAttrWrite, Title: "Pickle writes attributes of an imported module, class or function", Severity: High,
		Why: "BUILD on an imported global sets attributes on shared interpreter state (a module, class or function), which can change how later code or later names resolve (the memo-confusion bypass).",
		Fix: "Do not load this file.",
		CWE: "CWE-502",
	},
	{
		ID: RulePickleSetstate, Title: "Pickle overrides a special method of an object", Severity: Critical,
		Why: "A BUILD state sets a dunder attribute such as __setstate__ or __reduce__ on an object, so a following BUILD or call runs a callable of the attacker's choice.",
		Fix: "Do not load this file.",
		CWE: "CWE-502",
	},
	{
		ID: RulePickleTypeConfusion, Title: "Container opcode applied to a non-container", Severity: Medium,
		Why: "APPEND(S), SETITEM(S) or ADDITEMS on something other than a list, dict or set makes the loader call its append, extend, __setitem__ or add methods: method calls the pickle chooses (the CVE-2026-24747 type confusion).",
		Fix: "Treat the file as untrusted.",
		CWE: "CWE-843",
	},
	{
		ID: RulePicklePersistentID, Title: "Pickle uses persistent IDs", Severity: Info,
		Why: "PERSID/BINPERSID hand a value to the loader's persistent_load. PyTorch uses them for storages; a plain pickle.load refuses them.",
		Fix: "None needed for PyTorch checkpoints.",
	},
	{
		ID: RulePickleNested, Title: "Pickle passes data to another loader", Severity: Info,
		Why: "A call hands bytes to a loader (pickle.loads, torch.load, torch.storage._load_from_bytes, …). The bytes were scanned as a nested file; its findings are listed under the nested member.",
		Fix: "See the nested member's findings.",
	},
	{
		ID: RulePickleNonCallable, Title: "Pickle calls a value that cannot be called", Severity: Low,
		Why: "A REDUCE or similar opcode applies a literal (a string, number or container) as a function. The real loader raises an error there, so the stream is broken from that point on.",
		Fix: "Treat the file as malformed.",
	},
}
