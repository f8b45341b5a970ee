package chatjson_test

import (
	"encoding/json"
	"fmt"
	"modelgate/internal/scantest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/format/chatjson"
	"modelgate/internal/report"
)

func fails(res *report.File) bool {
	return report.FileFails(res, finding.High, false, finding.Default())
}

func has(res *report.File, rule string) bool {
	for _, f := range res.Findings {
		if f.Rule == rule {
			return true
		}
	}
	return false
}

func tokenizerConfig(t *testing.T, template any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(map[string]any{
		"model_max_length":     4096,
		"added_tokens_decoder": map[string]any{"0": map[string]any{"content": "<s>", "special": true}},
		"chat_template":        template,
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const payload = "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('echo pwned').read() }}"

func TestBenignTemplates(t *testing.T) {
	files, _ := filepath.Glob("../../jinja/testdata/benign/*.jinja")
	if len(files) < 15 {
		t.Fatalf("template table missing (%d)", len(files))
	}
	for _, p := range files {
		src, _ := os.ReadFile(p)
		res := scantest.Bytes(t, "tokenizer_config.json", tokenizerConfig(t, string(src)))
		if res.Format != "json" || len(res.Findings) != 0 || res.Status != report.StatusComplete {
			t.Errorf("%s: format %s status %s findings %v", p, res.Format, res.Status, res.Findings)
		}
	}
	// The list form with several named templates.
	list := []map[string]string{{"name": "default", "template": "{{ messages[0].content }}"}, {"name": "tool_use", "template": "{% for t in tools %}{{ t|tojson }}{% endfor %}"}}
	if res := scantest.Bytes(t, "tokenizer_config.json", tokenizerConfig(t, list)); len(res.Findings) != 0 || res.Format != "json" {
		t.Errorf("list form: %s %v", res.Format, res.Findings)
	}
}

func TestAttacks(t *testing.T) {
	cases := map[string][]byte{
		"string":        tokenizerConfig(t, payload),
		"list item":     tokenizerConfig(t, []map[string]string{{"name": "default", "template": "hi"}, {"name": "tool_use", "template": payload}}),
		"name map":      tokenizerConfig(t, map[string]string{"default": "hi", "rag": payload}),
		"escaped key":   []byte(`{"chat\u005ftemplate": "{{ ''.__class__ }}"}`),
		"duplicate key": []byte(`{"chat_template": "{{ ''.__class__ }}", "chat_template": "{{ messages }}"}`),
		"nested":        []byte(`{"processor": {"chat_template": "{{ lipsum.__globals__ }}"}}`),
		"bom":           append([]byte("\xef\xbb\xbf"), tokenizerConfig(t, payload)...),
	}
	for name, b := range cases {
		res := scantest.Bytes(t, "renamed.txt", b)
		if res.Format != "json" || !fails(res) {
			t.Errorf("%s: format %s, findings %v", name, res.Format, res.Findings)
		}
	}
}

// TestTemplateAfterProbe: Llama 3's tokenizer_config.json lists 256
// added tokens before its chat_template, well past the 64 KiB probe.
func TestTemplateAfterProbe(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"added_tokens_decoder": {`)
	for i := range 1000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"%d": {"content": "<|reserved_special_token_%d|>", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false, "special": true}`, 128000+i, i)
	}
	b.WriteString(`}, "chat_template": "{{ cycler.__init__.__globals__.os.popen('echo pwned').read() }}"}`)
	if b.Len() < 100<<10 {
		t.Fatalf("config too small (%d)", b.Len())
	}
	res := scantest.Bytes(t, "tokenizer_config.json", []byte(b.String()))
	if res.Format != "json" || !fails(res) {
		t.Errorf("format %s findings %v", res.Format, res.Findings)
	}
}

func TestTemplatesFound(t *testing.T) {
	b := []byte(`{"a": 1, "chat_template": [{"template": "T1", "name": "default"}, {"name": "tool_use", "template": "T2"}], "x": {"chat_template": "T3"}}`)
	got, err := chatjson.FindTemplates(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []chatjson.Template{{Name: "default", Text: "T1"}, {Name: "tool_use", Text: "T2"}, {Text: "T3"}}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].Text != want[i].Text || b[got[i].Offset] != '"' {
			t.Errorf("%d: got %+v (byte %q), want %+v", i, got[i], b[got[i].Offset], want[i])
		}
	}
}

func TestNotMatched(t *testing.T) {
	for name, b := range map[string][]byte{
		"config":      []byte(`{"architectures": ["X"], "model_type": "llama"}`),
		"array":       []byte(`[{"chat_template": "x"}]`),
		"value only":  []byte(`{"note": "chat_templates are elsewhere"}`),
		"not json":    []byte("chat_template = 1"),
		"binary gguf": []byte("GGUF\x03\x00\x00\x00"),
	} {
		res := scantest.Bytes(t, "f", b)
		if res.Format == "json" {
			t.Errorf("%s matched", name)
		}
	}
}

func TestMalformed(t *testing.T) {
	for name, b := range map[string][]byte{
		"truncated":   []byte(`{"chat_template": "{{ x }}", "a": [1, 2`),
		"bad utf8":    []byte("{\"chat_template\": \"\xff\xfe\"}"),
		"trailing":    []byte(`{"chat_template": "x"} {"b": 1}`),
		"deep":        []byte(`{"chat_template": "x", "a": ` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}`),
		"before fail": []byte(`{"chat_template": "{{ ''.__class__ }}", "a": [1, 2`),
	} {
		res := scantest.Bytes(t, "f.json", b)
		if res.Status == report.StatusComplete {
			t.Errorf("%s: complete, findings %v", name, res.Findings)
		}
		if name == "before fail" && !has(res, finding.RuleJinjaDunder) {
			t.Errorf("template before the break not checked: %v", res.Findings)
		}
	}
}
