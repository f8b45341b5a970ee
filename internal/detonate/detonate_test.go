package detonate

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"modelgate/internal/corpus"
	"modelgate/internal/finding"
	"modelgate/internal/sandbox"
)

const (
	ruleProcess = finding.RuleDynamicProcess
	ruleExecve  = finding.RuleDynamicExecve
	ruleCode    = finding.RuleDynamicCode
	ruleNet     = finding.RuleDynamicNetwork
	ruleNative  = finding.RuleDynamicNative
	ruleWrite   = finding.RuleDynamicFileWrite
	ruleDanger  = finding.RuleDynamicDangerous
)

// payloadRules says what detonating each corpus pickle must record. Files
// not listed (payloads pickle.load never reaches, such as those after the
// first STOP, or objects built but never called) must still run.
var payloadRules = map[string][]string{
	"os_system.pkl":                    {ruleDanger, ruleProcess, ruleExecve},
	"posix_system.pkl":                 {ruleProcess, ruleExecve},
	"nt_system.pkl":                    {ruleDanger},
	"reduce_os_system_p0.pkl":          {ruleProcess, ruleExecve},
	"reduce_os_system_p2.pkl":          {ruleProcess, ruleExecve},
	"reduce_os_system_p4.pkl":          {ruleProcess, ruleExecve},
	"reduce_os_system_p5.pkl":          {ruleProcess, ruleExecve},
	"inst_opcode.pkl":                  {ruleProcess, ruleExecve},
	"obj_opcode.pkl":                   {ruleProcess, ruleExecve},
	"build_setstate_hijack.pkl":        {ruleProcess, ruleExecve},
	"dup_memo_trick.pkl":               {ruleProcess, ruleExecve},
	"functools_partial.pkl":            {ruleProcess, ruleExecve},
	"stack_global_plain.pkl":           {ruleProcess, ruleExecve},
	"stack_global_memo.pkl":            {ruleProcess, ruleExecve},
	"stack_global_computed.pkl":        {ruleProcess, ruleExecve},
	"pickle_loads_nested.pkl":          {ruleProcess, ruleExecve},
	"_pickle_loads_nested.pkl":         {ruleProcess, ruleExecve},
	"dill_payload.pkl":                 {ruleProcess, ruleExecve},
	"operator_attrgetter.pkl":          {ruleProcess, ruleExecve},
	"operator_methodcaller.pkl":        {ruleProcess, ruleExecve},
	"_operator_methodcaller.pkl":       {ruleProcess, ruleExecve},
	"importlib_import_module.pkl":      {ruleProcess, ruleExecve},
	"builtins_import_getattr.pkl":      {ruleProcess, ruleExecve},
	"no_stop_after_payload.pkl":        {ruleProcess, ruleExecve},
	"subprocess_run.pkl":               {ruleProcess, ruleExecve},
	"subprocess_popen.pkl":             {ruleProcess, ruleExecve},
	"subprocess_check_output.pkl":      {ruleProcess, ruleExecve},
	"os_popen.pkl":                     {ruleProcess, ruleExecve},
	"os_execv.pkl":                     {ruleProcess, ruleExecve, finding.RuleDynamicIncomplete},
	"pty_spawn.pkl":                    {ruleProcess},
	"builtins_exec.pkl":                {ruleCode, ruleProcess, ruleExecve},
	"builtins_eval.pkl":                {ruleCode, ruleProcess, ruleExecve},
	"builtin_eval_proto0.pkl":          {ruleCode, ruleProcess, ruleExecve},
	"builtins_compile_exec.pkl":        {ruleCode, ruleProcess, ruleExecve},
	"getattr_builtins_exec.pkl":        {ruleCode, ruleProcess, ruleExecve},
	"reduce_in_nested_dict.pkl":        {ruleCode, ruleProcess, ruleExecve},
	"runpy_run_code.pkl":               {ruleCode, ruleProcess, ruleExecve},
	"timeit_timeit.pkl":                {ruleCode, ruleProcess, ruleExecve},
	"cprofile_run.pkl":                 {ruleCode, ruleProcess, ruleExecve},
	"profile_run.pkl":                  {ruleCode, ruleProcess, ruleExecve},
	"numpy_testing_runstring.pkl":      {ruleCode, ruleProcess, ruleExecve},
	"code_interactive_interpreter.pkl": {ruleCode, ruleProcess, ruleExecve},
	"reverse_shell_exec.pkl":           {ruleCode, ruleNet},
	"urllib_urlopen_metadata.pkl":      {ruleNet},
	"ctypes_cdll.pkl":                  {ruleNative},
	"builtins_open_write.pkl":          {ruleWrite},
	"shutil_rmtree.pkl":                {ruleWrite},
	"webbrowser_open.pkl":              {ruleDanger},
	"newobj_popen.pkl":                 {ruleDanger},
}

// TestMaliciousPicklesRecordPayloads detonates every malicious corpus
// pickle (inside the sandbox: that is the feature) and checks what was
// recorded.
func TestMaliciousPicklesRecordPayloads(t *testing.T) {
	requireDetonation(t)
	for _, e := range corpusFiles(t, "malicious/pickle") {
		t.Run(filepath.Base(e.Path), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(corpus.Dir(), e.Path)
			o, fs := detonate(t, path, Options{Loader: loaderFor(t, path, e.Format)})
			if len(o.Events) == 0 || o.Events[0].Ev != "start" {
				t.Fatalf("the loader did not start; stderr:\n%s", o.Stderr)
			}
			got := rulesOf(fs)
			for _, want := range payloadRules[filepath.Base(e.Path)] {
				if !got[want] {
					t.Errorf("%s (%s): no %s finding; got:%s", e.Path, e.Technique, want, describe(fs))
				}
			}
		})
	}
}

// TestNoExecBlocksPayloads: with NoExec the commands are refused, and the
// refusal is recorded; without it the same payload prints.
func TestNoExecBlocksPayloads(t *testing.T) {
	requireDetonation(t)
	dir := filepath.Join(corpus.Dir(), "malicious", "pickle")
	for _, name := range []string{"os_system.pkl", "subprocess_run.pkl", "builtins_exec.pkl", "os_execv.pkl", "pty_spawn.pkl"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o, fs := detonate(t, filepath.Join(dir, name), Options{Loader: LoaderPickle, NoExec: true})
			if bytes.Contains(o.Stdout, []byte("pwned")) {
				t.Errorf("payload output with NoExec: %q", o.Stdout)
			}
			refused := 0
			for _, f := range fs {
				if f.Rule == ruleExecve {
					if !strings.Contains(f.Message, "refused") {
						t.Errorf("execve not refused: %s", f.Message)
					}
					refused++
				}
			}
			if refused == 0 && name != "pty_spawn.pkl" { // pty.spawn fails before it forks: the sandbox has no pseudo-terminals
				t.Errorf("no refused execve recorded:%s", describe(fs))
			}
			if !rulesOf(fs)[ruleProcess] {
				t.Errorf("the attempt itself was not recorded:%s", describe(fs))
			}
		})
	}
	o, _ := detonate(t, filepath.Join(dir, "os_system.pkl"), Options{Loader: LoaderPickle})
	if !bytes.Contains(o.Stdout, []byte("pwned")) {
		t.Errorf("without NoExec the payload should have run (inside the sandbox): stdout %q", o.Stdout)
	}
}

// TestBenignRecordOnlyImports: benign files load and record nothing but
// ordinary imports (and notes about libraries' own imports, at info).
func TestBenignRecordOnlyImports(t *testing.T) {
	requireDetonation(t)
	// Every benign pickle and NumPy file; a sample of the scikit-learn and
	// PyTorch ones (each of those loads imports a large framework, which
	// takes a second or more of CPU on these machines).
	entries := corpusFiles(t, "benign/pickle", "benign/numpy")
	sample := map[string]bool{
		"kmeans_p4.pkl": true, "pipeline_scaler_logreg_p0.pkl": true, "tfidf_vectorizer_p4.pkl": true,
		"random_forest_c0.joblib": true, "pipeline_scaler_logreg_lzma.joblib": true, "bundle.joblib": true,
		"cnn_state_dict.pt": true, "mlp_state_dict_legacy.pth": true, "mlp_torchscript.pt": true,
		"training_checkpoint.ckpt": true, "mlp_whole_module.pt": true,
	}
	for _, e := range corpusFiles(t, "benign/sklearn", "benign/torch") {
		if sample[filepath.Base(e.Path)] {
			entries = append(entries, e)
		}
	}
	for _, e := range entries {
		t.Run(e.Path, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(corpus.Dir(), e.Path)
			_, fs := detonate(t, path, Options{Loader: loaderFor(t, path, e.Format)})
			finished := false
			for _, f := range fs {
				switch {
				case f.Rule == finding.RuleDynamicLoaded:
					finished = true
				case f.Rule == finding.RuleDynamicLoadError && strings.Contains(f.Evidence, "AttributeError"),
					f.Rule == finding.RuleDynamicSuspicious && strings.HasPrefix(f.Evidence, "__main__."):
					// Whole pickled modules whose class lived in the
					// generating script's __main__: the class is missing.
					finished = true
				case f.Severity == finding.Info:
				default:
					t.Errorf("benign %s: %s %s: %s [%s]", e.Path, f.Severity, f.Rule, f.Message, f.Evidence)
				}
			}
			if !finished {
				t.Errorf("the load did not finish:%s", describe(fs))
			}
		})
	}
}

// TestIncompleteLoadsFailClosed: a load that exits early or hangs is a
// high finding, not a pass. The pickles are written here as bytes.
func TestIncompleteLoadsFailClosed(t *testing.T) {
	requireDetonation(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	exits := write("exit.pkl", "cposix\n_exit\n(I3\ntR.")
	sleeps := write("sleep.pkl", "ctime\nsleep\n(I600\ntR.")
	tests := []struct {
		path string
		wall time.Duration
		want string
	}{
		{exits, 0, "exited with status 3"},
		{sleeps, 2 * time.Second, "wall-clock limit"},
	}
	for _, tt := range tests {
		start := time.Now()
		_, fs := detonate(t, tt.path, Options{Loader: LoaderPickle, Limits: sandbox.Limits{Wall: tt.wall}})
		found := false
		for _, f := range fs {
			if f.Rule == finding.RuleDynamicIncomplete && f.Severity >= finding.High && strings.Contains(f.Message, tt.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: want an incomplete-load finding (%q):%s", filepath.Base(tt.path), tt.want, describe(fs))
		}
		if tt.wall > 0 && time.Since(start) > tt.wall+15*time.Second {
			t.Errorf("%s took %v with a %v limit", filepath.Base(tt.path), time.Since(start), tt.wall)
		}
	}
}

func TestFindPython(t *testing.T) {
	_, err := FindPython(filepath.Join(t.TempDir(), "python3"))
	if !errors.Is(err, ErrNoPython) || !strings.Contains(err.Error(), "apt-get install python3") {
		t.Errorf("FindPython(missing) = %v", err)
	}
	if _, err := FindPython(t.TempDir()); !errors.Is(err, ErrNoPython) {
		t.Errorf("FindPython(folder) = %v", err)
	}
}
