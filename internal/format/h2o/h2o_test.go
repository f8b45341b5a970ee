package h2o_test

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/policy"
	"modelgate/internal/report"
	"modelgate/internal/scan"
)

var scanner = scan.New(scan.Options{})

func scanBytes(t testing.TB, name string, b []byte) *report.File {
	t.Helper()
	return scanner.ScanReader(context.Background(), name, bytes.NewReader(b), int64(len(b)), "")
}

func rules(res *report.File) map[string]int {
	m := map[string]int{}
	for _, f := range res.Findings {
		m[f.Rule]++
	}
	return m
}

func fails(res *report.File) bool {
	return report.FileFails(res, finding.High, false, finding.Default())
}

func benignPOJO(t testing.TB) string {
	b, err := os.ReadFile("testdata/gbm_pojo.java")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPOJOBenign: a generated POJO is reported as code (medium, failing
// only --strict), with nothing dangerous in it, whatever its file name.
func TestPOJOBenign(t *testing.T) {
	res := scanBytes(t, "model.txt", []byte(benignPOJO(t)))
	r := rules(res)
	if res.Format != "h2o-pojo" || r[finding.RuleH2OPOJO] != 1 || len(res.Findings) != 1 || fails(res) {
		t.Errorf("format %s findings %v", res.Format, res.Findings)
	}
	if !report.FileFails(res, finding.High, true, finding.Default()) {
		t.Errorf("a POJO must fail --strict: it is code")
	}
	// Without its comment header a POJO starts with "import", which reads
	// as a protocol 0 pickle's INST opcode: the registry must try the POJO
	// analyzer first.
	src := benignPOJO(t)
	src = src[strings.Index(src, "import java.util.Map;"):]
	if res := scanBytes(t, "model.pkl", []byte(src)); res.Format != "h2o-pojo" {
		t.Errorf("headerless POJO detected as %s", res.Format)
	}
}

func TestPOJOAttacks(t *testing.T) {
	pojo := benignPOJO(t)
	inject := func(code string) string {
		return strings.Replace(pojo, "  public boolean isSupervised()", code+"\n  public boolean isSupervised()", 1)
	}
	cases := map[string]struct {
		src  string
		rule string
	}{
		"static exec":        {inject(`  static { try { Runtime.getRuntime().exec("echo pwned"); } catch (Exception e) {} }`), finding.RuleH2OPOJODangerous},
		"process builder":    {inject(`  static { try { new ProcessBuilder("sh", "-c", "echo pwned").start(); } catch (Exception e) {} }`), finding.RuleH2OPOJODangerous},
		"unicode in comment": {inject(`  // harmless comment \u000a static { try { Runtime.getRuntime().exec("echo pwned"); } catch (Exception e) {} }`), finding.RuleH2OPOJODangerous},
		"escaped identifier": {inject(`  static { try { \u0052untime.getRuntime().exec("echo pwned"); } catch (Exception e) {} }`), finding.RuleH2OPOJODangerous},
		"reflection string":  {inject(`  static { try { Object r = Class.class.getMethod("forName", String.class).invoke(null, "java.lang.Runtime"); } catch (Exception e) {} }`), finding.RuleH2OPOJODangerous},
		"qualified io":       {inject(`  static { try { new java.io.FileOutputStream("/tmp/pwned").close(); } catch (Exception e) {} }`), finding.RuleH2OPOJODangerous},
		"native method":      {inject(`  static native void pwn();`), finding.RuleH2OPOJODangerous},
		"net import":         {strings.Replace(pojo, "import java.util.Map;", "import java.util.Map;\nimport java.net.Socket;", 1), finding.RuleH2OPOJODangerous},
		"odd import":         {strings.Replace(pojo, "import java.util.Map;", "import java.util.Map;\nimport org.example.Helper;", 1), finding.RuleH2OPOJOImport},
	}
	for name, tc := range cases {
		res := scanBytes(t, "gbm.java", []byte(tc.src))
		if res.Format != "h2o-pojo" || rules(res)[tc.rule] == 0 {
			t.Errorf("%s: format %s, findings %v", name, res.Format, res.Findings)
			continue
		}
		if tc.rule == finding.RuleH2OPOJODangerous && !fails(res) {
			t.Errorf("%s: does not fail a default scan", name)
		}
	}
	// Dangerous words in comments and strings are not code.
	quiet := inject(`  // Runtime.getRuntime().exec is never called here
  static final String NOTE = "ProcessBuilder and Runtime are mentioned in a string";`)
	if res := scanBytes(t, "gbm.java", []byte(quiet)); fails(res) {
		t.Errorf("comments and strings flagged: %v", res.Findings)
	}
}

type member struct {
	name string
	data string
	mode uint32
}

func mojo(t testing.TB, members []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		h := &zip.FileHeader{Name: m.name, Method: zip.Deflate}
		if m.mode != 0 {
			h.SetMode(os.FileMode(m.mode))
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(m.data))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const modelINI = `[info]
h2o_version = 3.46.0.1
mojo_version = 1.40
license = Apache License Version 2.0
algo = gbm
algorithm = Gradient Boosting Machine
endianness = LITTLE_ENDIAN
category = Binomial
uuid = -4720154236542375212
supervised = true
n_features = 4
n_classes = 2
n_columns = 5
n_domains = 1
balance_classes = false
default_threshold = 0.5
prior_class_distrib = [0.5, 0.5]
model_class_distrib = [0.5, 0.5]
timestamp = 2024-03-11T10:12:40.123Z
escape_domain_values = true
n_trees = 2
n_trees_per_class = 1
distribution = bernoulli
init_f = 0.0
offset_column = null

[columns]
sepal_len
sepal_wid
petal_len
petal_wid
class

[domains]
4: 2 d000.txt
`

func benignMOJO() []member {
	return []member{
		{name: "model.ini", data: modelINI},
		{name: "domains/d000.txt", data: "Iris-setosa\nIris-versicolor\n"},
		{name: "trees/t00_000.bin", data: "\x00\x02\x00\x00\x00\x40\x1c\xcc\xcd\xbf\xff\xff\xff"},
		{name: "trees/t00_001.bin", data: "\x00\x02\x00\x00\x00\x40\x1c\xcc\xcd\xbf\x67\xb6\x55"},
		{name: "experimental/modelDetails.json", data: `{"model_id": {"name": "gbm_iris"}, "output": {"model_category": "Binomial"}}`},
	}
}

func TestMOJOBenign(t *testing.T) {
	res := scanBytes(t, "gbm_iris.zip", mojo(t, benignMOJO()))
	if res.Format != "h2o-mojo" || len(res.Findings) != 0 || res.Status != report.StatusComplete {
		t.Errorf("format %s status %s findings %v", res.Format, res.Status, res.Findings)
	}
	// A stacked ensemble keeps its base models as nested MOJOs, which are
	// scanned too and stay clean.
	nested := mojo(t, append(benignMOJO(), member{name: "models/gbm_base.zip", data: string(mojo(t, benignMOJO()))}))
	res = scanBytes(t, "se.zip", nested)
	if res.Format != "h2o-mojo" || len(res.Findings) != 0 || len(res.Members) != 1 || res.Members[0].Format != "h2o-mojo" {
		t.Errorf("stacked ensemble: %v members %v", res.Findings, res.Members)
	}
	// A zip without model.ini is not a MOJO.
	if res := scanBytes(t, "other.zip", mojo(t, []member{{name: "data.txt", data: "x"}})); res.Format == "h2o-mojo" {
		t.Errorf("plain zip matched as a MOJO")
	}
}

func TestMOJOAttacks(t *testing.T) {
	pickle := "cos\nsystem\n(S'echo pwned'\ntR."
	cases := map[string]struct {
		extra []member
		rule  string
		fail  bool
	}{
		"class file":    {[]member{{name: "hex/genmodel/Evil.class", data: "\xca\xfe\xba\xbe\x00\x00\x00\x34"}}, finding.RuleH2OMOJOCode, true},
		"jar":           {[]member{{name: "lib/evil.jar", data: "PK\x03\x04"}}, finding.RuleH2OMOJOCode, true},
		"native lib":    {[]member{{name: "trees/libevil.so", data: "\x7fELF\x02\x01\x01"}}, finding.RuleH2OMOJOCode, true},
		"zip slip":      {[]member{{name: "../../etc/cron.d/pwned", data: "* * * * * root echo pwned\n"}}, finding.RuleH2OMOJOPath, true},
		"executable":    {[]member{{name: "experimental/run", data: "#!/bin/sh\necho pwned\n", mode: 0o755}}, finding.RuleH2OMOJOCode, true},
		"pickle inside": {[]member{{name: "experimental/state.bin.extra", data: pickle}}, finding.RulePickleDangerous, true},
		"duplicate ini": {[]member{{name: "model.ini", data: "[info]\nalgo = glm\n"}}, finding.RuleH2OMOJODuplicate, false},
		"stray file":    {[]member{{name: "notes/readme.md", data: "hello"}}, finding.RuleH2OMOJOUnexpected, false},
	}
	for name, tc := range cases {
		res := scanBytes(t, "model.zip", mojo(t, append(benignMOJO(), tc.extra...)))
		if res.Format != "h2o-mojo" || rules(res)[tc.rule] == 0 {
			t.Errorf("%s: format %s findings %v", name, res.Format, res.Findings)
			continue
		}
		if fails(res) != tc.fail {
			t.Errorf("%s: fails=%v, want %v (%v)", name, fails(res), tc.fail, res.Findings)
		}
	}
}

// TestMOJOBomb: a member that inflates past the ratio limit (set low in
// a policy file, to keep the test small) is a limit finding, not a
// decompression into memory.
func TestMOJOBomb(t *testing.T) {
	pf := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(pf, []byte("[limits]\nMaxRatio = 20\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Load(pf)
	if err != nil {
		t.Fatal(err)
	}
	b := mojo(t, append(benignMOJO(), member{name: "payload.bin", data: strings.Repeat("\x00", 1<<20)}))
	res := scan.New(scan.Options{Policy: pol}).ScanReader(context.Background(), "bomb.zip", bytes.NewReader(b), int64(len(b)), "")
	if rules(res)[finding.RuleLimit] == 0 {
		t.Errorf("ratio bomb not reported: %v", res.Findings)
	}
}
