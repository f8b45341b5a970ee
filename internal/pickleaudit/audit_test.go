package pickleaudit_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/pickle"
	"modelgate/internal/pickleaudit"
	"modelgate/internal/report"
	"modelgate/internal/scan"
)

func scanPickle(t *testing.T, data string) *report.File {
	t.Helper()
	s := scan.New(scan.Options{Jobs: 1})
	return s.ScanReader(context.Background(), "test.pkl", strings.NewReader(data), int64(len(data)), "")
}

func rules(f *report.File) []string {
	var out []string
	for _, x := range f.Findings {
		out = append(out, x.Rule)
	}
	return out
}

func safety(f *report.File, qual string) string {
	for _, imp := range f.Imports {
		if imp.Module+"."+imp.Name == qual {
			return imp.Safety.String()
		}
	}
	return "absent"
}

// u writes a protocol 4 SHORT_BINUNICODE, x a BINUNICODE, c a SHORT_BINBYTES.
func u(s string) string { return "\x8c" + string(byte(len(s))) + s }
func x(s string) string {
	return "X" + string([]byte{byte(len(s)), byte(len(s) >> 8), byte(len(s) >> 16), byte(len(s) >> 24)}) + s
}
func c(s string) string { return "C" + string(byte(len(s))) + s }

// latin1 encodes bytes as the text protocol 2 stores them in (UTF-8 of the
// Latin-1 code points).
func latin1(b string) string {
	var r []rune
	for i := 0; i < len(b); i++ {
		r = append(r, rune(b[i]))
	}
	return string(r)
}

const nested = "\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R."

func TestTricks(t *testing.T) {
	const osSystem = "cos\nsystem\n(S'echo pwned'\ntR"
	tests := []struct {
		name     string
		data     string
		rules    []string          // must all be present
		absent   []string          // must not be present
		imports  map[string]string // qualified name → safety
		evidence string            // some finding's evidence contains this
	}{
		{name: "os.system", data: osSystem + ".",
			rules: []string{finding.RulePickleDangerous}, imports: map[string]string{"os.system": "dangerous"}, evidence: "os.system('echo pwned')"},
		{name: "ordinary OrderedDict", data: "\x80\x02ccollections\nOrderedDict\n)R}(X\x01\x00\x00\x00ak\x01u.",
			absent: []string{finding.RulePickleDangerous, finding.RulePickleSuspicious, finding.RulePickleTypeConfusion}, imports: map[string]string{"collections.OrderedDict": "innocuous"}},
		{name: "unknown global", data: "cmylib\nNet\n)R.",
			rules: []string{finding.RulePickleSuspicious}, imports: map[string]string{"mylib.Net": "suspicious"}},
		{name: "partial wrapping os.system", data: "cfunctools\npartial\n(cos\nsystem\nS'echo pwned'\ntR)R.",
			rules: []string{finding.RulePickleDangerous}, imports: map[string]string{"functools.partial": "dangerous", "os.system": "dangerous"}},
		{name: "partial rewired by BUILD", data: "\x80\x02cfunctools\npartial\n(cbuiltins\nprint\ntR(cnumpy\nload\n(" + x("/tmp/t") + "t}" + x("allow_pickle") + "\x88sNtb)R.",
			rules: []string{finding.RulePickleDangerous}, imports: map[string]string{"functools.partial": "dangerous", "numpy.load": "dangerous"}, evidence: "numpy.load('/tmp/t', allow_pickle=True)"},
		{name: "partial of an allowlisted class", data: "\x80\x02cfunctools\npartial\n(ccollections\nOrderedDict\ntR)R.",
			absent: []string{finding.RulePickleDangerous, finding.RulePickleSuspicious, finding.RulePickleIndirectCall}, imports: map[string]string{"functools.partial": "innocuous"}},
		{name: "__setstate__ hijack", data: "\x80\x02ctypes\nSimpleNamespace\n)RN}X\x0c\x00\x00\x00__setstate__cos\nsystem\ns\x86bX\x04\x00\x00\x00echob.",
			rules: []string{finding.RulePickleSetstate, finding.RulePickleDangerous}, evidence: "__setstate__ = os.system"},
		{name: "BUILD on an imported global", data: "\x80\x02cnumpy\nprod\n}X\x01\x00\x00\x00aX\x02\x00\x00\x00oss\x85b.",
			rules: []string{finding.RulePickleAttrWrite}},
		{name: "computed STACK_GLOBAL", data: "\x80\x04ccodecs\ndecode\n(" + u("bf") + u("rot13") + "tR" + u("system") + "\x93.",
			rules: []string{finding.RulePickleComputed}, imports: map[string]string{"codecs.decode": "suspicious"}},
		{name: "EXT code", data: "\x80\x02\x82\x05)R.", rules: []string{finding.RulePickleExt}},
		{name: "dotted name through an innocuous module", data: "\x80\x04" + u("posixpath") + u("os.system") + "\x93" + u("id") + "\x85R.",
			rules: []string{finding.RulePickleDangerous}, imports: map[string]string{"posixpath.os.system": "dangerous"}},
		{name: "getattr chain", data: "\x80\x02cbuiltins\ngetattr\ncbuiltins\n__import__\nX\x02\x00\x00\x00os\x85RX\x06\x00\x00\x00system\x86RX\x02\x00\x00\x00id\x85R.",
			rules: []string{finding.RulePickleDangerous, finding.RulePickleIndirectCall}, evidence: "builtins.getattr(builtins.__import__('os'), 'system')('id')"},
		{name: "type confusion on a class", data: "\x80\x02ccollections\nOrderedDict\n(X\x01\x00\x00\x00ae.",
			rules: []string{finding.RulePickleTypeConfusion}},
		{name: "__main__ class instantiated", data: "\x80\x02c__main__\nNet\n)\x81}X\x01\x00\x00\x00wK\x01sb.",
			absent: []string{finding.RulePickleSuspicious, finding.RulePickleDangerous}, imports: map[string]string{"__main__.Net": "innocuous"}},
		{name: "__main__ function called", data: "c__main__\nrun\n(S'x'\ntR.",
			rules: []string{finding.RulePickleSuspicious}, imports: map[string]string{"__main__.run": "suspicious"}},
		{name: "dill data type", data: "\x80\x02cdill._dill\n_load_type\nX\x04\x00\x00\x00list\x85R)R.",
			absent: []string{finding.RulePickleDangerous, finding.RulePickleIndirectCall}, imports: map[string]string{"dill._dill._load_type": "innocuous"}},
		{name: "dill CodeType", data: "\x80\x02cdill._dill\n_load_type\nX\x08\x00\x00\x00CodeType\x85R.",
			rules: []string{finding.RulePickleDangerous}, imports: map[string]string{"dill._dill._load_type": "dangerous"}},
		{name: "numpy ufunc", data: "\x80\x02cnumpy.core\n_ufunc_reconstruct\nX\x05\x00\x00\x00numpyX\x04\x00\x00\x00sqrt\x86R.",
			absent: []string{finding.RulePickleDangerous}, imports: map[string]string{"numpy.core._ufunc_reconstruct": "innocuous"}},
		{name: "numpy ufunc resolver abused", data: "\x80\x02cnumpy.core\n_ufunc_reconstruct\nX\x02\x00\x00\x00osX\x06\x00\x00\x00system\x86R.",
			rules: []string{finding.RulePickleDangerous}, imports: map[string]string{"numpy.core._ufunc_reconstruct": "dangerous"}},
		{name: "broken after payload", data: osSystem + "\xff\xfe",
			rules: []string{finding.RulePickleDangerous, finding.RulePickleMalformed}},
		{name: "payload in a second stream", data: "N." + osSystem + ".",
			rules: []string{finding.RulePickleDangerous, finding.RulePickleMultiple}},
		{name: "persistent id in a plain pickle", data: "\x80\x02X\x01\x00\x00\x000Q.",
			rules: []string{finding.RulePicklePersistentID}},
		{name: "nested pickle through loads", data: "\x80\x02cpickle\nloads\n" + c(nested) + "\x85R.",
			rules: []string{finding.RulePickleNested, finding.RulePickleDangerous}, imports: map[string]string{"os.system": "dangerous", "pickle.loads": "dangerous"}},
		{name: "nested pickle through torch's allowlisted loader", data: "\x80\x02ctorch.storage\n_load_from_bytes\n" + c(nested) + "\x85R.",
			rules: []string{finding.RulePickleNested, finding.RulePickleDangerous}, imports: map[string]string{"os.system": "dangerous", "torch.storage._load_from_bytes": "innocuous"}},
		{name: "nested bytes as protocol 2 latin1 text", data: "\x80\x02cpickle\nloads\nc_codecs\nencode\n" + x(latin1(nested)) + x("latin1") + "\x86R\x85R.",
			rules: []string{finding.RulePickleNested}, imports: map[string]string{"os.system": "dangerous"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := scanPickle(t, tt.data)
			got := rules(f)
			for _, r := range tt.rules {
				if !slices.Contains(got, r) {
					t.Errorf("missing %s; findings: %v", r, f.Findings)
				}
			}
			for _, r := range tt.absent {
				if slices.Contains(got, r) {
					t.Errorf("unexpected %s; findings: %v", r, f.Findings)
				}
			}
			for q, want := range tt.imports {
				if s := safety(f, q); s != want {
					t.Errorf("import %s is %s, want %s (imports %v)", q, s, want, f.Imports)
				}
			}
			if tt.evidence != "" {
				found := false
				for _, x := range f.Findings {
					found = found || strings.Contains(x.Evidence, tt.evidence)
				}
				if !found {
					t.Errorf("no evidence containing %q in %v", tt.evidence, f.Findings)
				}
			}
		})
	}
}

// emitter is a minimal Emitter for unit tests of Options.
type emitter struct {
	findings []finding.Finding
	imports  []finding.Import
	listing  string
}

func (e *emitter) Finding(f finding.Finding)                               { e.findings = append(e.findings, f) }
func (e *emitter) Import(i finding.Import)                                 { e.imports = append(e.imports, i) }
func (e *emitter) Listing(text string)                                     { e.listing += text }
func (e *emitter) Child(context.Context, string, io.ReaderAt, int64) error { return nil }

func TestOptions(t *testing.T) {
	// TorchScript classes are not Python imports.
	data := "\x80\x02c__torch__\nMyModule\n)\x81."
	out := &emitter{}
	in := &format.Input{Explain: true}
	if _, err := pickleaudit.Audit(context.Background(), in, strings.NewReader(data), int64(len(data)), out, pickleaudit.Options{TorchScript: true}); err != nil {
		t.Fatal(err)
	}
	if len(out.imports) != 0 || len(out.findings) != 0 {
		t.Errorf("TorchScript class reported: %v %v", out.imports, out.findings)
	}
	if !strings.Contains(out.listing, "__torch__.MyModule.__new__(__torch__.MyModule)") {
		t.Errorf("listing:\n%s", out.listing)
	}

	// A persistent-ID validator sees every ID.
	data = "\x80\x02(X\x07\x00\x00\x00storagetQX\x02\x00\x00\x00xxQ."
	var pids []string
	out = &emitter{}
	_, err := pickleaudit.Audit(context.Background(), &format.Input{}, strings.NewReader(data), int64(len(data)), out, pickleaudit.Options{
		PersistentID: func(pid *pickle.Value, off int64, _ format.Emitter) {
			pids = append(pids, fmt.Sprintf("%s@%d", pickle.Repr(pid), off))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(pids, " ") != "('storage',)@16 'xx'@24" {
		t.Errorf("pids %v", pids)
	}
	for _, f := range out.findings {
		if f.Rule == finding.RulePicklePersistentID {
			t.Error("the default persistent-ID note was emitted despite a validator")
		}
	}
}
