package detonate

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/policy"
	"modelgate/internal/report"
	"modelgate/internal/sandbox"
)

func findingsFor(events []Event, res *sandbox.Result) []finding.Finding {
	if res == nil {
		res = &sandbox.Result{}
	}
	o := &Outcome{Loader: LoaderPickle, Events: events, Sandbox: res}
	return Findings("m.pkl", o, policy.Default(), finding.Default())
}

func find(fs []finding.Finding, rule, evidence string) *finding.Finding {
	for i := range fs {
		if fs[i].Rule == rule && strings.Contains(fs[i].Evidence, evidence) {
			return &fs[i]
		}
	}
	return nil
}

func TestFindingsClassifyEvents(t *testing.T) {
	start := Event{Ev: "start", Loader: "pickle"}
	loaded := Event{Ev: "loaded", Type: "builtins.dict"}
	fs := findingsFor([]Event{
		start,
		{Ev: "pickle.find_class", Module: "collections", Name: "OrderedDict", Phase: "load"},
		{Ev: "pickle.find_class", Module: "builtins", Name: "set", Raw: "__builtin__.set", Phase: "load"},
		{Ev: "pickle.find_class", Module: "posix", Name: "system", Phase: "load"},
		{Ev: "pickle.find_class", Module: "acme.layers", Name: "Dense", Phase: "load"},
		{Ev: "import", Module: "subprocess", Phase: "load"},
		{Ev: "os.system", Args: []string{"b'echo pwned'"}, Phase: "load"},
		{Ev: "exec", Args: []string{"<code <module> at <string>>"}, Phase: "load"},
		{Ev: "socket.connect", Args: []string{"<socket.socket>", "[127.0.0.1, 9]"}, Phase: "load"},
		{Ev: "socket.bind", Args: []string{"<socket.socket>", "[::1, 0]"}, Ctx: "urllib3.util.connection", Phase: "load"},
		{Ev: "ctypes.dlopen", Args: []string{"/tmp/evil.so"}, Phase: "load"},
		{Ev: "ctypes.dlopen", Args: []string{"None"}, Ctx: "ctypes", Phase: "load"},
		{Ev: "open", Args: []string{"/tmp/x", "w"}, Phase: "load"},
		{Ev: "open", Args: []string{"/tmp/tmpab/storages", "wb"}, Tmp: true, Phase: "load"},
		{Ev: "open", Args: []string{"/dev/null", "w"}, Ctx: "dill._dill", Phase: "load"},
		{Ev: "os.putenv", Args: []string{"b'A'", "b'1'"}, Ctx: "numpy.core", Phase: "load"},
		{Ev: "os.kill", Args: []string{"1", "9"}, Phase: "load"},
		{Ev: "sys.addaudithook", Phase: "load"},
		loaded,
		{Ev: "os.system", Args: []string{"b'echo bye'"}, Phase: "exit"},
	}, &sandbox.Result{Execs: []sandbox.Exec{
		{PID: 5, Path: "/bin/sh", Argv: []string{"sh", "-c", "echo pwned"}, Allowed: true},
		{PID: 6, Path: "/bin/sh", Argv: []string{"sh", "-c", "echo again"}, Allowed: false},
	}})
	tests := []struct {
		rule, evidence string
		sev            finding.Severity
		msg            string
	}{
		{finding.RuleDynamicImport, "collections.OrderedDict", finding.Info, "resolved"},
		{finding.RuleDynamicImport, "builtins.set", finding.Info, "written as __builtin__.set"},
		{finding.RuleDynamicDangerous, "posix.system", finding.Critical, "resolved"},
		{finding.RuleDynamicSuspicious, "acme.layers.Dense", finding.Medium, "not on the allowlist"},
		{finding.RuleDynamicImport, "subprocess", finding.Info, "imported module"},
		{finding.RuleDynamicProcess, "os.system(b'echo pwned')", finding.Critical, "started a command"},
		{finding.RuleDynamicProcess, "os.system(b'echo bye')", finding.Critical, "after the loader returned"},
		{finding.RuleDynamicCode, "exec(", finding.Critical, "compiled or ran code"},
		{finding.RuleDynamicNetwork, "socket.connect", finding.Critical, "network"},
		{finding.RuleDynamicOther, "socket.bind", finding.Info, "while importing urllib3.util.connection"},
		{finding.RuleDynamicNative, "/tmp/evil.so", finding.Critical, "ctypes"},
		{finding.RuleDynamicOther, "ctypes.dlopen(None)", finding.Info, "while importing ctypes"},
		{finding.RuleDynamicFileWrite, "open(/tmp/x, w)", finding.High, "wrote"},
		{finding.RuleDynamicOther, "storages", finding.Info, "temporary"},
		{finding.RuleDynamicOther, "/dev/null", finding.Info, "while importing dill._dill"},
		{finding.RuleDynamicOther, "os.putenv", finding.Info, "while importing numpy.core"},
		{finding.RuleDynamicOther, "os.kill", finding.Medium, "notable"},
		{finding.RuleDynamicOther, "sys.addaudithook", finding.High, "hook"},
		{finding.RuleDynamicLoaded, "builtins.dict", finding.Info, "returned"},
		{finding.RuleDynamicExecve, "echo pwned", finding.Critical, "execve on /bin/sh"},
		{finding.RuleDynamicExecve, "echo again", finding.Critical, "refused"},
	}
	for _, tt := range tests {
		f := find(fs, tt.rule, tt.evidence)
		if f == nil {
			t.Errorf("no %s finding with %q:%s", tt.rule, tt.evidence, describe(fs))
			continue
		}
		if f.Severity != tt.sev || !strings.Contains(f.Message, tt.msg) || f.Path != "m.pkl" || f.Analyzer != Analyzer {
			t.Errorf("%s %q: got %s %q (path %q analyzer %q), want %s and %q", tt.rule, tt.evidence, f.Severity, f.Message, f.Path, f.Analyzer, tt.sev, tt.msg)
		}
	}
	if f := find(fs, finding.RuleDynamicIncomplete, ""); f != nil {
		t.Errorf("a finished load reported incomplete: %s", f.Message)
	}
	for i := 1; i < len(fs); i++ {
		if fs[i].Severity > fs[i-1].Severity {
			t.Fatalf("findings not sorted by severity:%s", describe(fs))
		}
	}
}

func TestFindingsOutcomes(t *testing.T) {
	start := Event{Ev: "start"}
	tests := []struct {
		name   string
		events []Event
		res    sandbox.Result
		rule   string
		msg    string
	}{
		{"exited early", []Event{start}, sandbox.Result{ExitCode: 3}, finding.RuleDynamicIncomplete, "exited with status 3"},
		{"timeout", []Event{start}, sandbox.Result{TimedOut: true, ExitCode: sandbox.ExitTimeout}, finding.RuleDynamicIncomplete, "wall-clock"},
		{"cpu", []Event{start}, sandbox.Result{Signal: syscall.SIGXCPU, ExitCode: 152}, finding.RuleDynamicIncomplete, "CPU time"},
		{"killed", []Event{start}, sandbox.Result{Signal: syscall.SIGKILL, ExitCode: 137}, finding.RuleDynamicIncomplete, "killed"},
		{"never started", nil, sandbox.Result{ExitCode: 1}, finding.RuleDynamicIncomplete, "never started"},
		{"load error", []Event{start, {Ev: "load-error", Type: "builtins.ValueError", Message: "bad"}}, sandbox.Result{ExitCode: 4}, finding.RuleDynamicLoadError, "raised builtins.ValueError"},
		{"no loader", []Event{{Ev: "loader-unavailable", Loader: "torch", Message: "No module named 'torch'"}}, sandbox.Result{ExitCode: 3}, finding.RuleDynamicNotRun, "torch loader is not available"},
		{"flooded", []Event{start, {Ev: "truncated"}, {Ev: "loaded"}}, sandbox.Result{}, finding.RuleDynamicIncomplete, "dropped"},
		{"weaker", []Event{start, {Ev: "loaded"}}, sandbox.Result{Weaker: []string{"no namespaces"}}, finding.RuleDynamicWeakSandbox, "no namespaces"},
	}
	for _, tt := range tests {
		fs := findingsFor(tt.events, &tt.res)
		f := find(fs, tt.rule, "")
		if f == nil || !strings.Contains(f.Message, tt.msg) {
			t.Errorf("%s: want %s %q:%s", tt.name, tt.rule, tt.msg, describe(fs))
		}
	}
	fs := Findings("m", &Outcome{Events: []Event{start, {Ev: "loaded"}}, BadLines: 2, Truncated: true, Sandbox: &sandbox.Result{}}, policy.Default(), finding.Default())
	if n := strings.Count(describe(fs), finding.RuleDynamicIncomplete); n != 2 {
		t.Errorf("bad lines and truncation: want 2 incomplete findings:%s", describe(fs))
	}
}

func TestFindingsMergeAndCap(t *testing.T) {
	events := []Event{{Ev: "start"}}
	for range 3 {
		events = append(events, Event{Ev: "os.system", Args: []string{"same"}})
	}
	for i := range 200 {
		events = append(events, Event{Ev: "os.system", Args: []string{fmt.Sprint("cmd", i)}})
	}
	events = append(events, Event{Ev: "loaded"})
	fs := findingsFor(events, nil)
	same := find(fs, finding.RuleDynamicProcess, "(same)")
	if same == nil || same.Count != 3 {
		t.Errorf("identical events not merged: %+v", same)
	}
	n, total := 0, 0
	for _, f := range fs {
		if f.Rule == finding.RuleDynamicProcess {
			n++
			total += f.Count
		}
	}
	if n != maxPerRule+1 || total != 203 {
		t.Errorf("got %d distinct findings counting %d events, want %d and 203", n, total, maxPerRule+1)
	}
}

func TestLoaderFor(t *testing.T) {
	imp := func(m, n string) finding.Import { return finding.Import{Module: m, Name: n} }
	tests := []struct {
		format  string
		imports []finding.Import
		want    Loader
	}{
		{"pickle", []finding.Import{imp("collections", "OrderedDict")}, LoaderPickle},
		{"pickle", []finding.Import{imp("joblib.numpy_pickle", "NumpyArrayWrapper")}, LoaderJoblib},
		{"pickle", []finding.Import{imp("torch._utils", "_rebuild_tensor_v2")}, LoaderTorch},
		{"pickle", []finding.Import{imp("torch.hub", "load")}, LoaderPickle},
		{"pytorch-zip", nil, LoaderTorch},
		{"pytorch-legacy", nil, LoaderTorch},
		{"torchscript", nil, LoaderTorch},
		{"joblib", nil, LoaderJoblib},
		{"npy", nil, LoaderNumpy},
		{"npz", nil, LoaderNumpy},
	}
	for _, tt := range tests {
		got, err := LoaderFor(&report.File{Format: tt.format, Imports: tt.imports})
		if err != nil || got != tt.want {
			t.Errorf("LoaderFor(%s, %v) = %v, %v; want %v", tt.format, tt.imports, got, err, tt.want)
		}
	}
	for _, format := range []string{"unknown", "safetensors", "gguf", "onnx"} {
		if _, err := LoaderFor(&report.File{Format: format}); !errors.Is(err, ErrNoLoader) {
			t.Errorf("LoaderFor(%s) = %v, want ErrNoLoader", format, err)
		}
	}
	if _, err := ParseLoader("tensorflow"); err == nil {
		t.Error("ParseLoader accepted tensorflow")
	}
}
