package detonate

import (
	"fmt"
	"slices"
	"strings"
	"syscall"

	"modelgate/internal/finding"
	"modelgate/internal/policy"
)

// Analyzer is the name dynamic findings carry in reports.
const Analyzer = "detonate"

// Audit events by what they reveal.
var (
	processEvents = set("os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "os.forkpty",
		"os.startfile", "subprocess.Popen", "pty.spawn")
	networkEvents = set("socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
		"socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr", "socket.getnameinfo",
		"urllib.Request", "http.client.connect", "http.client.send", "webbrowser.open")
	networkPrefixes = []string{"ftplib.", "smtplib.", "poplib.", "imaplib.", "nntplib.", "telnetlib."}
	codeEvents      = set("exec", "compile", "code.__new__", "marshal.loads", "marshal.load",
		"cpython.run_file", "cpython.run_command")
	writeEvents = set("open", "os.remove", "os.rmdir", "os.rename", "os.link", "os.symlink", "os.mkdir",
		"os.chmod", "os.chown", "os.truncate", "os.utime", "os.chflags", "os.lchflags", "os.mkfifo", "os.mknod",
		"shutil.rmtree", "shutil.copyfile", "shutil.copymode", "shutil.copystat", "shutil.copytree",
		"shutil.move", "shutil.chown", "shutil.make_archive", "shutil.unpack_archive",
		"tempfile.mkstemp", "tempfile.mkdtemp")
	tamperEvents = set("sys.addaudithook", "sys.settrace", "sys.setprofile", "sys.remote_exec")
	// Events that are part of ordinary use and tell nothing on their own.
	quietEvents = set("socket.__new__", "os.listdir", "os.scandir")
)

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// Findings turns what a detonation observed into findings about path,
// most severe first; identical ones are merged with a count.
func Findings(path string, o *Outcome, pol *policy.Policy, rules *finding.Catalogue) []finding.Finding {
	b := &builder{path: path, rules: rules, index: map[string]int{}, distinct: map[string]int{}}
	finished, started := false, false
	for _, e := range o.Events {
		switch e.Ev {
		case "start":
			started = true
		case "loaded":
			finished = true
			b.add(finding.RuleDynamicLoaded, fmt.Sprintf("the %s loader returned an object of type %s", o.Loader, e.Type), e.Type, ruleSeverity)
		case "load-error":
			finished = true
			b.add(finding.RuleDynamicLoadError, fmt.Sprintf("the %s loader raised %s", o.Loader, e.Type), e.Type+": "+e.Message, ruleSeverity)
		case "loader-unavailable":
			finished = true
			b.add(finding.RuleDynamicNotRun, fmt.Sprintf("the %s loader is not available in the sandbox's Python, so the file was not loaded", e.Loader), e.Message, ruleSeverity)
		case "truncated":
			b.add(finding.RuleDynamicIncomplete, "the load raised more audit events than are recorded; the rest were dropped", "", ruleSeverity)
		default:
			b.event(e, pol)
		}
	}
	for _, x := range o.Sandbox.Execs {
		msg := "the loading process called execve on " + x.Path
		if !x.Allowed {
			msg += " (refused: --no-exec)"
		}
		b.add(finding.RuleDynamicExecve, msg, strings.Join(x.Argv, " "), ruleSeverity)
	}
	if o.Truncated {
		b.add(finding.RuleDynamicIncomplete, fmt.Sprintf("more than %d audit events; the rest were not read", MaxEvents), "", ruleSeverity)
	}
	if o.BadLines > 0 {
		b.add(finding.RuleDynamicIncomplete, fmt.Sprintf("%d lines on the audit channel were not events from the loader: something else wrote to it", o.BadLines), "", ruleSeverity)
	}
	if !finished {
		b.add(finding.RuleDynamicIncomplete, unfinished(o, started), firstLines(o.Stderr, 5), ruleSeverity)
	}
	if len(o.Sandbox.Weaker) > 0 {
		b.add(finding.RuleDynamicWeakSandbox, "the sandbox ran without: "+strings.Join(o.Sandbox.Weaker, "; "), "", ruleSeverity)
	}
	slices.SortStableFunc(b.out, func(x, y finding.Finding) int { return int(y.Severity) - int(x.Severity) })
	return b.out
}

// unfinished says why the loader neither returned nor raised.
func unfinished(o *Outcome, started bool) string {
	r := o.Sandbox
	var why string
	switch {
	case r.TimedOut:
		why = "the load was killed at the wall-clock limit"
	case r.Signal == syscall.SIGXCPU:
		why = "the load was killed at the CPU time limit (SIGXCPU)"
	case r.Signal != 0:
		why = fmt.Sprintf("the process was killed by %v", r.Signal)
	default:
		why = fmt.Sprintf("the process exited with status %d before the loader returned (a payload may have called exit)", r.ExitCode)
	}
	if !started {
		why += "; the loader script never started (see its error output)"
	}
	return "the load did not finish: " + why
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(strings.TrimSpace(string(b)), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// maxPerRule bounds the distinct findings of one rule; more are merged
// into one "and more" finding (a payload can vary its arguments forever).
const maxPerRule = 25

// builder collects findings, merging identical ones.
type builder struct {
	path     string
	rules    *finding.Catalogue
	out      []finding.Finding
	index    map[string]int
	distinct map[string]int
}

// ruleSeverity asks add for the rule's default severity.
const ruleSeverity finding.Severity = -1

// add records a finding at sev (ruleSeverity: the rule's default).
func (b *builder) add(rule, msg, evidence string, sev finding.Severity) {
	f := b.rules.New(rule, msg, evidence, finding.NoOffset)
	if sev != ruleSeverity {
		f.Severity = sev
	}
	f.Path, f.Analyzer, f.Count = b.path, Analyzer, 1
	key := fmt.Sprintf("%s\x00%d\x00%s\x00%s", f.Rule, f.Severity, f.Message, f.Evidence)
	if _, ok := b.index[key]; !ok && b.distinct[f.Rule] >= maxPerRule {
		key = f.Rule + "\x00more"
		f.Message = fmt.Sprintf("more findings of this rule (over %d distinct ones; counted, not listed)", maxPerRule)
		f.Evidence = ""
		f.Severity = b.rules.New(f.Rule, "", "", finding.NoOffset).Severity
	}
	if i, ok := b.index[key]; ok {
		b.out[i].Count++
		b.out[i].Severity = max(b.out[i].Severity, f.Severity)
		return
	}
	b.distinct[f.Rule]++
	b.index[key] = len(b.out)
	b.out = append(b.out, f)
}

// addInfo records a finding at info severity: an event inside a library's
// import says what the library does, not what the file does.
func (b *builder) addInfo(rule, msg, evidence string) { b.add(rule, msg, evidence, finding.Info) }

// event classifies one audit event.
func (b *builder) event(e Event, pol *policy.Policy) {
	when := ""
	if e.Phase == "exit" {
		when = " after the loader returned"
	}
	if e.Ctx != "" {
		when += " while importing " + e.Ctx
	}
	call := e.Ev + "(" + strings.Join(e.Args, ", ") + ")"
	switch {
	case e.Ev == "pickle.find_class":
		qual := e.Module + "." + e.Name
		if e.Raw != "" {
			when += " (written as " + e.Raw + ")"
		}
		v := pol.Classify(e.Module, e.Name)
		switch v.Safety {
		case finding.Dangerous:
			b.add(finding.RuleDynamicDangerous, "the unpickler resolved "+qual+when+" ("+v.Reason+")", qual, ruleSeverity)
		case finding.Suspicious:
			b.add(finding.RuleDynamicSuspicious, "the unpickler resolved "+qual+when+" ("+v.Reason+")", qual, ruleSeverity)
		default:
			b.add(finding.RuleDynamicImport, "the unpickler resolved "+qual+when, qual, ruleSeverity)
		}
	case e.Ev == "socket.bind":
		// Binding (libraries probe for IPv6 on ::1) reaches no one.
		if e.Ctx != "" {
			b.addInfo(finding.RuleDynamicOther, "a library bound a socket"+when, call)
		} else {
			b.add(finding.RuleDynamicOther, "the load bound a socket"+when, call, ruleSeverity)
		}
	case e.Ev == "import":
		// A module name alone says little (the policy judges globals, and
		// libraries import modules lazily); what the code then does is
		// reported by its own events.
		b.add(finding.RuleDynamicImport, "the load imported module "+e.Module+when, e.Module, ruleSeverity)
	case processEvents[e.Ev]:
		b.add(finding.RuleDynamicProcess, "the load started a command"+when, call, ruleSeverity)
	case networkEvents[e.Ev] || hasPrefix(e.Ev, networkPrefixes):
		b.add(finding.RuleDynamicNetwork, "the load tried to reach the network"+when, call, ruleSeverity)
	case codeEvents[e.Ev]:
		// The loader only reports these outside library imports.
		b.add(finding.RuleDynamicCode, "the load compiled or ran code"+when, call, ruleSeverity)
	case strings.HasPrefix(e.Ev, "ctypes."):
		if e.Ctx != "" {
			b.addInfo(finding.RuleDynamicOther, "a library used ctypes"+when, call)
		} else {
			b.add(finding.RuleDynamicNative, "the load used native code through ctypes"+when, call, ruleSeverity)
		}
	case writeEvents[e.Ev]:
		if e.Tmp {
			b.addInfo(finding.RuleDynamicOther, "the load used a temporary file or folder"+when, call)
		} else if e.Ctx != "" {
			b.addInfo(finding.RuleDynamicOther, "a library wrote or changed a file"+when, call)
		} else {
			b.add(finding.RuleDynamicFileWrite, "the load wrote or changed a file"+when, call, ruleSeverity)
		}
	case tamperEvents[e.Ev]:
		b.add(finding.RuleDynamicOther, "the load installed an audit, trace or profile hook"+when, call, finding.High)
	case quietEvents[e.Ev]:
	default:
		if e.Ctx != "" {
			b.addInfo(finding.RuleDynamicOther, "a library made a notable call"+when, call)
		} else {
			b.add(finding.RuleDynamicOther, "the load made a notable call"+when, call, ruleSeverity)
		}
	}
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
