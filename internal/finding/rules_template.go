package finding

// Template rules: Jinja2 chat templates (GGUF metadata, tokenizer configs),
// checked without rendering them.
const (
	RuleJinjaDunder       = "JINJA-DUNDER-ACCESS"
	RuleJinjaGadgetGlobal = "JINJA-GADGET-GLOBAL"
	RuleJinjaComputedName = "JINJA-COMPUTED-NAME"
	RuleJinjaRuntimeAttr  = "JINJA-RUNTIME-ATTRIBUTE"
	RuleJinjaObfuscated   = "JINJA-OBFUSCATED-STRING"
	RuleJinjaTemplateLoad = "JINJA-TEMPLATE-LOAD"
	RuleJinjaParseError   = "JINJA-PARSE-ERROR"
)

var templateRules = []Rule{
	{
		ID: RuleJinjaDunder, Title: "Chat template reaches Python internals", Severity: Critical,
		Why: "The template fetches a dunder or private attribute (__class__, __globals__, __subclasses__, __builtins__, __import__, _TemplateReference__context, …), directly, through a subscript, the attr filter, an attribute= argument, a str.format field, or a name it assembles from pieces. That is how server-side template injection walks from a string to os.popen: loaders that render chat templates outside Jinja's sandbox (llama-cpp-python before 0.2.72, CVE-2024-34359) run it when the model is loaded or chats. Real chat templates never do this.",
		Fix: "Do not load this model with a loader that renders its chat template; report it. Replace the template with the publisher's original.",
		CWE: "CWE-1336",
	},
	{
		ID: RuleJinjaGadgetGlobal, Title: "Chat template uses a global that leads to Python objects", Severity: Critical,
		Why: "cycler, joiner, lipsum, self, namespace (other than called as namespace(...)) and Flask's request, config, url_for are objects whose attributes lead to module globals and builtins (cycler.__init__.__globals__.os). They are the usual starting points of Jinja SSTI payloads; chat templates have no use for them.",
		Fix: "Do not load this model with a loader that renders its chat template; report it.",
		CWE: "CWE-1336",
	},
	{
		ID: RuleJinjaComputedName, Title: "Chat template fetches an attribute whose name is computed", Severity: High,
		Why: "A subscript, the attr filter or an attribute= argument takes a name built at render time (by concatenation, format, join, replace, slicing, or characters picked out of a stringified object). Jinja falls back to getattr for string keys, so the template can reach any attribute, including ones no scanner can see in the source.",
		Fix: "Treat the template as hostile unless you can show what the name evaluates to.",
		CWE: "CWE-1336",
	},
	{
		ID: RuleJinjaRuntimeAttr, Title: "Chat template names a Python module or code-running function", Severity: High,
		Why: "The template fetches an attribute such as os, popen, subprocess, eval, exec, builtins, modules or environ. Those only exist on Python objects a template reaches after escaping its data (module globals, builtins).",
		Fix: "Inspect the template; do not load the model with an unsandboxed loader.",
		CWE: "CWE-1336",
	},
	{
		ID: RuleJinjaObfuscated, Title: "Chat template hides characters behind escape sequences", Severity: High,
		Why: "A string literal spells letters, digits, \"_\" or \".\" with escapes (\\x5f, \\u005f, \\137, \\N{LOW LINE}). Ordinary templates write those characters as they are; SSTI payloads escape them to hide names such as __class__ from text searches.",
		Fix: "Decode the string and inspect the template.",
		CWE: "CWE-1336",
	},
	{
		ID: RuleJinjaTemplateLoad, Title: "Chat template loads other templates", Severity: Medium,
		Why:    "{% include %}, {% import %}, {% from %} or {% extends %} pull in templates from the loader's search path. A chat template is self-contained; what it would load was not checked.",
		Fix:    "Check where the loaded templates come from.",
		Strict: true,
	},
	{
		ID: RuleJinjaParseError, Title: "Chat template could not be parsed", Severity: Medium,
		Why:    "The template is not valid Jinja, or not in a form the checker's parser accepts, so only its tokens were checked (literal names, globals, attributes), not how it assembles names. A template that cannot be verified is suspicious, never clean.",
		Fix:    "Inspect the template by hand.",
		CWE:    "CWE-20",
		Strict: true,
	},
}
