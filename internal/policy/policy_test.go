package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"modelgate/internal/finding"
)

func TestClassifyDefault(t *testing.T) {
	p := Default()
	tests := []struct {
		module, name string
		want         finding.Safety
	}{
		{"os", "system", finding.Dangerous},
		{"posix", "system", finding.Dangerous},
		{"nt", "system", finding.Dangerous},
		{"subprocess", "Popen", finding.Dangerous},
		{"builtins", "eval", finding.Dangerous},
		{"builtins", "getattr", finding.Dangerous},
		{"builtins", "__import__", finding.Dangerous},
		{"__builtin__", "eval", finding.Dangerous},
		{"runpy", "_run_code", finding.Dangerous},
		{"asyncio.unix_events", "_UnixSubprocessTransport", finding.Dangerous},
		{"_operator", "attrgetter", finding.Dangerous},
		{"pkgutil", "resolve_name", finding.Dangerous},
		{"torch.hub", "load", finding.Dangerous},
		{"torch", "load", finding.Dangerous},
		{"numpy", "load", finding.Dangerous},
		{"numpy.testing._private.utils", "runstring", finding.Dangerous},
		{"torch.utils.collect_env", "run", finding.Dangerous},
		{"uuid", "_get_command_stdout", finding.Dangerous},
		{"dill._dill", "_create_function", finding.Dangerous},
		{"cloudpickle.cloudpickle", "_make_function", finding.Dangerous},
		{"fickling", "load", finding.Dangerous},
		// protocol 4 dotted names are judged by every path they pass through
		{"posixpath", "os.system", finding.Dangerous},
		{"code", "InteractiveInterpreter.runcode", finding.Dangerous},
		{"collections", "OrderedDict.__init__.__globals__", finding.Dangerous},
		{"numpy", "__builtins__", finding.Dangerous},
		{"torch.nn.modules.linear", "Linear.forward", finding.Suspicious},
		{"numpy", "core.multiarray._reconstruct", finding.Innocuous},
		// the allowlist
		{"collections", "OrderedDict", finding.Innocuous},
		{"torch._utils", "_rebuild_tensor_v2", finding.Innocuous},
		{"torch", "FloatStorage", finding.Innocuous},
		{"torch", "bfloat16", finding.Innocuous},
		{"torch.nn.modules.linear", "Linear", finding.Innocuous},
		{"numpy.core.multiarray", "_reconstruct", finding.Innocuous},
		{"numpy._core.multiarray", "_reconstruct", finding.Innocuous},
		{"numpy", "float64", finding.Innocuous},
		{"sklearn.pipeline", "Pipeline", finding.Innocuous},
		{"sklearn.tree._tree", "Tree", finding.Innocuous},
		{"scipy.sparse._csr", "csr_matrix", finding.Innocuous},
		{"pandas.core.frame", "DataFrame", finding.Innocuous},
		{"uuid", "UUID", finding.Innocuous},
		{"_codecs", "encode", finding.Innocuous},
		{"transformers.training_args", "TrainingArguments", finding.Innocuous},
		{"functools", "partial", finding.Innocuous}, // a wrapper: judged by what it wraps
		{"copyreg", "_reconstructor", finding.Innocuous},
		// unknown
		{"mylib.models", "Net", finding.Suspicious},
		{"builtins", "print", finding.Suspicious},
		{"transformers", "AutoModel", finding.Dangerous},
	}
	for _, tt := range tests {
		if got := p.Classify(tt.module, tt.name); got.Safety != tt.want {
			t.Errorf("Classify(%s, %s) = %s (%s), want %s", tt.module, tt.name, got.Safety, got.Reason, tt.want)
		}
	}
	if v := p.Classify("functools", "partial"); v.Wrapper != 0 {
		t.Errorf("functools.partial wrapper index %d", v.Wrapper)
	}
	if v := p.Classify("pickle", "loads"); !v.Loader {
		t.Errorf("pickle.loads is not a loader")
	}
}

// TestFrameworkListIsClean guards the generated allowlist: nothing on it may
// also be dangerous, or name a module-level import such as os.
func TestFrameworkListIsClean(t *testing.T) {
	p := Default()
	f, err := Parse(frameworksTOML, ".toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Pickle.Innocuous) < 1500 {
		t.Fatalf("only %d generated entries", len(f.Pickle.Innocuous))
	}
	for _, q := range f.Pickle.Innocuous {
		i := strings.LastIndexByte(q, '.')
		mod, name := q[:i], q[i+1:]
		if v := p.Classify(mod, name); v.Safety != finding.Innocuous {
			t.Errorf("%s is generated as innocuous but classifies as %s (%s)", q, v.Safety, v.Reason)
		}
		switch name {
		case "os", "sys", "system", "subprocess", "eval", "exec", "open", "getattr":
			t.Errorf("%s names an imported module or code runner", q)
		}
	}
}

func write(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUserPolicy(t *testing.T) {
	path := write(t, "p.toml", `
name = "acme"
fail_on = "medium"
[pickle]
innocuous = ["acme.models.*", "uuid._get_command_stdout", "os.system", "builtins.eval"]
dangerous = ["collections.OrderedDict"]
[severity]
"PICKLE-TRAILING-DATA" = "info"
[[suppress]]
rule = "PICKLE-SUSPICIOUS-GLOBAL"
path = "legacy/**"
evidence = "oldlib.*"
[limits]
MaxPickleOps = 1234
`)
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		module, name string
		want         finding.Safety
	}{
		{"acme.models", "Net", finding.Innocuous},
		{"acme.models.vision", "ResNet", finding.Innocuous},
		{"acme.models", "Net.load", finding.Suspicious}, // patterns never allow dotted names
		{"uuid", "_get_command_stdout", finding.Innocuous},
		{"os", "system", finding.Dangerous},     // never allowed
		{"builtins", "eval", finding.Dangerous}, // never allowed
		{"collections", "OrderedDict", finding.Dangerous},
	} {
		if got := p.Classify(tt.module, tt.name); got.Safety != tt.want {
			t.Errorf("Classify(%s, %s) = %s, want %s", tt.module, tt.name, got.Safety, tt.want)
		}
	}
	if s, ok := p.FailOn(); !ok || s != finding.Medium {
		t.Errorf("fail_on = %s %v", s, ok)
	}
	if s := p.Severity("PICKLE-TRAILING-DATA", finding.Low); s != finding.Info {
		t.Errorf("severity override: %s", s)
	}
	if p.Limits().MaxPickleOps != 1234 {
		t.Errorf("limit override: %d", p.Limits().MaxPickleOps)
	}
	if !strings.HasPrefix(p.Version(), "acme@") || p.Version() == Default().Version() {
		t.Errorf("version %q", p.Version())
	}
	for _, tt := range []struct {
		path, evidence string
		want           bool
	}{
		{"legacy/a/b/model.pkl", "oldlib.Thing", true},
		{"legacy/model.pkl", "oldlib.Thing", true},
		{"current/model.pkl", "oldlib.Thing", false},
		{"legacy/model.pkl", "newlib.Thing", false},
	} {
		f := finding.Finding{Rule: finding.RulePickleSuspicious, Path: tt.path, Evidence: tt.evidence}
		if got, _ := p.Suppressed(&f); got != tt.want {
			t.Errorf("Suppressed(%s, %s) = %v", tt.path, tt.evidence, got)
		}
	}
}

func TestPolicyYAMLAndErrors(t *testing.T) {
	y := write(t, "p.yaml", "pickle:\n  innocuous: [\"mylib.Net\"]\nseverity:\n  PICKLE-MALFORMED: high\n")
	p, err := Load(y)
	if err != nil {
		t.Fatal(err)
	}
	if p.Classify("mylib", "Net").Safety != finding.Innocuous || p.Severity(finding.RulePickleMalformed, 0) != finding.High {
		t.Error("YAML policy not applied")
	}
	bad := map[string]string{
		"unknown key":      "[pickle]\nallow = [\"x\"]\n",
		"unknown rule":     "[severity]\n\"NO-SUCH-RULE\" = \"high\"\n",
		"bad severity":     "[severity]\n\"PICKLE-MALFORMED\" = \"severe\"\n",
		"unknown limit":    "[limits]\nMaxWidgets = 3\n",
		"star in middle":   "[pickle]\ninnocuous = [\"a.*.b\"]\n",
		"bad fail_on":      "fail_on = \"sometimes\"\n",
		"unknown suppress": "[[suppress]]\nrule = \"NOPE\"\n",
	}
	for name, body := range bad {
		if _, err := Load(write(t, "bad.toml", body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if Default().Version() != Default().Version() {
		t.Error("the default policy version is not stable")
	}
}
