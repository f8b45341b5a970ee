package ggufscan_test

import (
	"bytes"
	"context"
	"modelgate/internal/scantest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/gguf"
	"modelgate/internal/report"
)

func model(t *testing.T, kvs []gguf.Meta) []byte {
	t.Helper()
	base := []gguf.Meta{{Key: "general.architecture", Value: "llama"}, {Key: "tokenizer.ggml.tokens", Value: []string{"<s>", "a"}}}
	var buf bytes.Buffer
	tensors := []gguf.Tensor{{Name: "w", Dims: []uint64{32, 2}, Type: 0}}
	if err := gguf.Encode(&buf, append(base, kvs...), tensors, gguf.EncodeOptions{}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func rules(res *report.File) map[string]finding.Severity {
	m := map[string]finding.Severity{}
	for _, f := range res.Findings {
		m[f.Rule] = max(m[f.Rule], f.Severity)
	}
	return m
}

func fails(res *report.File) bool {
	return report.FileFails(res, finding.High, false, finding.Default())
}

// TestBenignTemplates puts every real chat template from the jinja
// package's table into a GGUF file: each must scan clean.
func TestBenignTemplates(t *testing.T) {
	files, _ := filepath.Glob("../../jinja/testdata/benign/*.jinja")
	if len(files) < 15 {
		t.Fatalf("template table missing (%d)", len(files))
	}
	for _, p := range files {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		res := scantest.Bytes(t, filepath.Base(p)+".gguf", model(t, []gguf.Meta{{Key: "tokenizer.chat_template", Value: string(src)}}))
		if res.Format != "gguf" || len(res.Findings) != 0 || res.Status != report.StatusComplete {
			t.Errorf("%s: format %s status %s findings %v", p, res.Format, res.Status, res.Findings)
		}
	}
}

func TestAttacks(t *testing.T) {
	cases := []struct {
		name string
		kvs  []gguf.Meta
		rule string
	}{
		{"cycler popen", []gguf.Meta{{Key: "tokenizer.chat_template", Value: "{{ cycler.__init__.__globals__.os.popen('echo pwned').read() }}"}}, finding.RuleJinjaDunder},
		{"named template", []gguf.Meta{{Key: "tokenizer.chat_template", Value: "{{ messages[0].content }}"}, {Key: "tokenizer.chat_template.tool_use", Value: "{{ x|attr('_'~'_'~'class'~'_'~'_') }}"}}, finding.RuleJinjaDunder},
		{"second copy of the key", []gguf.Meta{{Key: "tokenizer.chat_template", Value: "{{ messages[0].content }}"}, {Key: "tokenizer.chat_template", Value: "{{ lipsum.__globals__ }}"}}, finding.RuleJinjaGadgetGlobal},
		{"computed name", []gguf.Meta{{Key: "tokenizer.chat_template", Value: "{% set u = (()|select|string)[24] %}{{ x|attr(u ~ u ~ 'class' ~ u ~ u) }}"}}, finding.RuleJinjaComputedName},
	}
	for _, tc := range cases {
		// Renamed: detection is by content.
		res := scantest.Bytes(t, tc.name+".bin", model(t, tc.kvs))
		if res.Format != "gguf" {
			t.Errorf("%s: detected as %s", tc.name, res.Format)
		}
		if _, ok := rules(res)[tc.rule]; !ok || !fails(res) {
			t.Errorf("%s: want %s failing the scan, got %v", tc.name, tc.rule, res.Findings)
		}
	}
	dup := scantest.Bytes(t, "dup.gguf", model(t, []gguf.Meta{{Key: "tokenizer.chat_template", Value: "a"}, {Key: "tokenizer.chat_template", Value: "b"}}))
	if _, ok := rules(dup)[finding.RuleGGUFDuplicate]; !ok {
		t.Errorf("duplicate template key not reported: %v", dup.Findings)
	}
}

// TestBrokenHeaderAfterTemplate: a header that breaks after the template
// still has its template checked, and is reported as partial.
func TestBrokenHeaderAfterTemplate(t *testing.T) {
	b := model(t, []gguf.Meta{{Key: "tokenizer.chat_template", Value: "{{ ''.__class__ }}"}})
	f, err := gguf.Parse(context.Background(), bytes.NewReader(b), int64(len(b)), gguf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cut := b[:f.Tensors[0].InfoOffset+5]
	res := scantest.Bytes(t, "cut.gguf", cut)
	r := rules(res)
	if _, ok := r[finding.RuleJinjaDunder]; !ok {
		t.Errorf("template before the break not checked: %v", res.Findings)
	}
	if _, ok := r[finding.RuleParseError]; !ok || res.Status != report.StatusPartial {
		t.Errorf("break not reported: %s %v", res.Status, res.Findings)
	}
}

func TestTensorIndex(t *testing.T) {
	b := model(t, nil)
	f, _ := gguf.Parse(context.Background(), bytes.NewReader(b), int64(len(b)), gguf.Options{})
	ti := f.Tensors[0]
	off := ti.InfoOffset + 8 + int64(len(ti.Name)) + 4 + 8*int64(len(ti.Dims)) + 4
	c := bytes.Clone(b)
	copy(c[off:], []byte{0, 0, 0, 0, 1, 0, 0, 0}) // offset 1<<32: past the end
	res := scantest.Bytes(t, "index.gguf", c)
	if _, ok := rules(res)[finding.RuleGGUFTensorIndex]; !ok {
		t.Errorf("bad offset not reported: %v", res.Findings)
	}
}

func TestTemplateLimit(t *testing.T) {
	huge := "{{ " + strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200) + " }}"
	res := scantest.Bytes(t, "deep.gguf", model(t, []gguf.Meta{{Key: "tokenizer.chat_template", Value: huge}}))
	if _, ok := rules(res)[finding.RuleLimit]; !ok || !fails(res) {
		t.Errorf("nesting limit not reported: %v", res.Findings)
	}
}
