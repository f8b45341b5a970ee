package finding

// Dynamic rules: what `modelgate detonate` saw a model do while the real
// loader loaded it inside the sandbox.
const (
	RuleDynamicProcess     = "DYNAMIC-PROCESS"
	RuleDynamicExecve      = "DYNAMIC-EXECVE"
	RuleDynamicCode        = "DYNAMIC-CODE-EXEC"
	RuleDynamicNetwork     = "DYNAMIC-NETWORK"
	RuleDynamicNative      = "DYNAMIC-NATIVE-CODE"
	RuleDynamicFileWrite   = "DYNAMIC-FILE-WRITE"
	RuleDynamicDangerous   = "DYNAMIC-DANGEROUS-IMPORT"
	RuleDynamicSuspicious  = "DYNAMIC-SUSPICIOUS-IMPORT"
	RuleDynamicImport      = "DYNAMIC-IMPORT"
	RuleDynamicOther       = "DYNAMIC-SYSTEM-EVENT"
	RuleDynamicIncomplete  = "DYNAMIC-INCOMPLETE"
	RuleDynamicLoadError   = "DYNAMIC-LOAD-ERROR"
	RuleDynamicLoaded      = "DYNAMIC-LOADED"
	RuleDynamicNotRun      = "DYNAMIC-NOT-RUN"
	RuleDynamicWeakSandbox = "DYNAMIC-WEAK-SANDBOX"
)

var dynamicRules = []Rule{
	{
		ID: RuleDynamicProcess, Title: "Loading the model started a command", Severity: Critical,
		Why: "While the real loader loaded the file in the sandbox, the process called os.system, subprocess, os.exec*, os.spawn*, posix_spawn, fork or pty.spawn. This is the payload of a malicious model running, seen rather than inferred.",
		Fix: "Do not load this file outside a sandbox. Report it to the hub it came from.",
		CWE: "CWE-502",
	},
	{
		ID: RuleDynamicExecve, Title: "Loading the model executed a program", Severity: Critical,
		Why: "The sandbox's seccomp supervisor saw an execve or execveat system call after the loader had started. This is observed below Python, so a payload cannot hide it from the audit hook; with --no-exec the call was refused.",
		Fix: "Do not load this file outside a sandbox.",
		CWE: "CWE-502",
	},
	{
		ID: RuleDynamicCode, Title: "Loading the model compiled or ran Python code", Severity: Critical,
		Why: "Outside any library import, the load called exec, eval, compile, marshal.loads or built a code object: code carried by the file, not by an installed library.",
		Fix: "Do not load this file outside a sandbox.",
		CWE: "CWE-94",
	},
	{
		ID: RuleDynamicNetwork, Title: "Loading the model tried to reach the network", Severity: Critical,
		Why: "The load resolved a host name, opened a connection, or made an HTTP, FTP, SMTP or browser request (the metadata-service theft in the incident starts like this). The sandbox has no network, so nothing left it.",
		Fix: "Do not load this file outside a sandbox.",
		CWE: "CWE-918",
	},
	{
		ID: RuleDynamicNative, Title: "Loading the model loaded or called native code", Severity: Critical,
		Why: "Outside any library import, the load used ctypes to open a shared library, look up a symbol or call a C function: a way to run machine code or bypass Python-level checks.",
		Fix: "Do not load this file outside a sandbox.",
		CWE: "CWE-502",
	},
	{
		ID: RuleDynamicFileWrite, Title: "Loading the model wrote, removed or changed files", Severity: High,
		Why: "The load opened a file for writing, or removed, renamed, linked or changed the mode of one. Loading a model never needs to. Inside the sandbox only a private /tmp is writable, so nothing outside changed.",
		Fix: "Do not load this file outside a sandbox.",
		CWE: "CWE-73",
	},
	{
		ID: RuleDynamicDangerous, Title: "Loading the model imported a code-running callable", Severity: Critical,
		Why: "The unpickler resolved a global (pickle.find_class) or imported a module that the policy lists as running code or reaching the system.",
		Fix: "Do not load this file.",
		CWE: "CWE-502",
	},
	{
		ID: RuleDynamicSuspicious, Title: "Loading the model imported a global that is not known to be safe", Severity: Medium,
		Why: "The unpickler resolved a global that is not on the allowlist.",
		Fix: "Check what the global does; allowlist it in your policy if it is safe.",
		CWE: "CWE-502", Strict: true,
	},
	{
		ID: RuleDynamicImport, Title: "Loading the model imported an allowlisted global or a module", Severity: Info,
		Why: "An ordinary import during the load: an allowlisted global the unpickler resolved, or a module imported for it.",
		Fix: "None needed.",
	},
	{
		ID: RuleDynamicOther, Title: "Loading the model made another notable system call", Severity: Medium,
		Why: "The load changed the environment, sent a signal, installed an audit or trace hook (which can be used to hide from this one), changed resource limits or used another audited interface a model load has no reason to use. Inside a library's import it is only noted (info).",
		Fix: "Check the evidence.",
	},
	{
		ID: RuleDynamicIncomplete, Title: "The dynamic load did not finish normally", Severity: High,
		Why: "The loader neither returned nor raised: the process was killed at a limit or at the timeout, exited on its own (a payload can call os._exit), or its audit stream was cut or flooded. What was recorded is listed, but the picture may be incomplete, so this fails closed.",
		Fix: "Treat the file as untrusted; inspect it with `modelgate explain`.",
	},
	{
		ID: RuleDynamicLoadError, Title: "The loader raised an error", Severity: Low,
		Why: "The real loader raised an exception. Broken or hostile files often do (a payload may run, then make the load fail); a benign file whose classes are not installed does too.",
		Fix: "Check the message; if the file should load, install the classes it needs.",
	},
	{
		ID: RuleDynamicLoaded, Title: "The loader returned", Severity: Info,
		Why: "The real loader loaded the file inside the sandbox and returned an object of the type shown.",
		Fix: "None needed.",
	},
	{
		ID: RuleDynamicNotRun, Title: "The file could not be detonated", Severity: Medium,
		Why: "The loader for this format is not available in the sandbox's Python (for example torch is not installed), so nothing was observed.",
		Fix: "Install the framework from the distribution (python3-torch, python3-numpy, python3-joblib, python3-sklearn) and detonate again.",
	},
	{
		ID: RuleDynamicWeakSandbox, Title: "Detonated in a weaker sandbox", Severity: Medium,
		Why: "--allow-weaker was given and some required protection (namespaces, the read-only root, execve supervision) was not available, so the payload may have reached more of this machine than the sandbox normally allows.",
		Fix: "Run detonate where user namespaces are available (as root, or with unprivileged user namespaces enabled), or in a VM.",
	},
}
