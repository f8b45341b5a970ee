package secrets

import (
	"encoding/base64"
	"math/rand/v2"
	"strings"
	"testing"
)

// fake builds live-looking random values at run time, so that the
// repository itself holds no secret-shaped strings.
func fake(seed uint64, alphabet string, n int) string {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

const (
	letters  = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	upperNum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	alnum    = letters + "0123456789"
)

func pemKey(kind string) string {
	body := base64.StdEncoding.EncodeToString([]byte(fake(9, alnum, 300)))
	return "-----BEGIN " + kind + "-----\n" + body[:64] + "\n" + body[64:128] + "\n-----END " + kind + "-----\n"
}

func TestFind(t *testing.T) {
	hf := "hf_" + fake(1, letters, 34)
	cases := []struct {
		name, text, rule string
		placeholder      bool
	}{
		{"notebook.ipynb", `{"cells":[{"source":["login(token=\"` + hf + `\")\n"]}]}`, RuleHubToken, false},
		{"README.md", "export HF_TOKEN=hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", RuleHubToken, true},
		{"a.py", "org = 'api_org_" + fake(2, letters, 34) + "'", RuleHubToken, false},
		{"a.sh", "AWS_ACCESS_KEY_ID=AKIA" + fake(3, upperNum, 16), RuleAWS, false},
		{"a.sh", "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", RuleAWS, true},
		{"a.cfg", "aws_secret_access_key = " + fake(4, alnum+"/+", 40), RuleAWS, false},
		{"sa.json", `{"type": "service_account", "project_id": "p", "private_key": "` + strings.ReplaceAll(pemKey("PRIVATE KEY"), "\n", `\n`) + `"}`, RuleGCP, false},
		{"a.js", "key: 'AIza" + fake(5, alnum+"_-", 35) + "'", RuleGCP, false},
		{"a.txt", "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=" + fake(6, alnum+"+/", 86) + "==;EndpointSuffix=core.windows.net", RuleAzure, false},
		{"a.yml", "token: ghp_" + fake(7, alnum, 36), RuleGitHub, false},
		{"a.yml", "token: glpat-" + fake(8, alnum, 20), RuleGitLab, false},
		{"id_rsa", pemKey("RSA PRIVATE KEY"), RulePrivateKey, false},
		{".env", "HF_TOKEN=" + fake(10, alnum, 30) + "\nDEBUG=1\n", RuleEnvFile, false},
		{".git-credentials", "https://user:" + fake(11, alnum, 20) + "@huggingface.co\n", RuleGitCredentials, false},
		{"setup.sh", "git clone https://bot:" + fake(12, alnum, 24) + "@github.com/org/repo", RuleGitCredentials, false},
	}
	for _, c := range cases {
		ms := Find([]byte(c.text), c.name)
		found := false
		for _, m := range ms {
			if m.Rule != c.rule {
				continue
			}
			found = true
			if m.Placeholder != c.placeholder {
				t.Errorf("%s %q: placeholder = %v, want %v", c.name, c.rule, m.Placeholder, c.placeholder)
			}
			if m.Line < 1 || m.Offset < 0 || m.Redacted == "" {
				t.Errorf("%s: bad position or redaction: %+v", c.name, m)
			}
		}
		if !found {
			t.Errorf("%s: no %s in %q (got %+v)", c.name, c.rule, c.text, ms)
		}
		assertNoLeak(t, c.text, ms)
	}
}

// assertNoLeak checks that no redacted form holds more than a known
// prefix of any secret-looking run in the text.
func assertNoLeak(t *testing.T, text string, ms []Match) {
	t.Helper()
	for _, m := range ms {
		for _, word := range strings.FieldsFunc(text, func(r rune) bool { return strings.ContainsRune(" \n\"'=:@,[]{}\\", r) }) {
			if len(word) >= 16 && strings.Contains(m.Redacted, word[len(word)-12:]) {
				t.Errorf("redacted form %q leaks %q", m.Redacted, word)
			}
		}
	}
}

func TestNoFalseAlarms(t *testing.T) {
	cases := map[string]string{
		"config.json":    `{"architectures": ["BertModel"], "hidden_size": 768, "tokenizer_class": "BertTokenizer"}`,
		"README.md":      "Log in with `huggingface-cli login` and paste your hf_ token. See -----BEGIN PRIVATE KEY----- in the docs.",
		".env.example":   "HF_TOKEN=hf_" + fake(13, letters, 34) + "\n",
		"tokenizer.json": `{"model": {"vocab": {"hf_": 1, "AKIA": 2, "ghp_": 3}}}`,
		".env":           "HF_TOKEN=\nAPI_KEY=${API_KEY}\nMODEL=bert\n",
		"a.py":           "url = 'https://user:pass@localhost:5432/db'",
	}
	for name, text := range cases {
		ms := Find([]byte(text), name)
		if name == ".env.example" {
			// The token itself is still found; only the .env rule is off.
			for _, m := range ms {
				if m.Rule == RuleEnvFile {
					t.Errorf("%s: .env rule fired on a template", name)
				}
			}
			continue
		}
		if len(ms) != 0 {
			t.Errorf("%s: false alarm %+v", name, ms)
		}
	}
}

func TestRedact(t *testing.T) {
	hf := "hf_" + fake(14, letters, 34)
	gh := "ghp_" + fake(15, alnum, 36)
	s := `RUN curl -H "Authorization: Bearer ` + hf + `" https://x && echo ` + gh
	r := Redact(s)
	if strings.Contains(r, hf[3:]) || strings.Contains(r, gh[4:]) {
		t.Fatalf("Redact left a secret: %s", r)
	}
	if !strings.Contains(r, "hf_…[REDACTED, 37 chars]") || !strings.Contains(r, "ghp_…[REDACTED") {
		t.Errorf("Redact = %s", r)
	}
	if Redact("no secrets here") != "no secrets here" {
		t.Error("Redact changed a clean string")
	}
}

func TestIsText(t *testing.T) {
	if !IsText([]byte("hello\nworld\t\n")) || IsText([]byte("PK\x03\x04\x00\x00")) || IsText(nil) {
		t.Error("IsText")
	}
	if IsText([]byte{0x80, 0x02, 'c', 'o', 's', 0x00}) {
		t.Error("a pickle is not text")
	}
}

func FuzzFind(f *testing.F) {
	f.Add([]byte("hf_"+fake(1, letters, 34)), ".env")
	f.Add([]byte(pemKey("OPENSSH PRIVATE KEY")), "key")
	f.Add([]byte("TOKEN=abc\nexport SECRET='x y z'"), ".env")
	f.Add([]byte("https://u:p@github.com"), ".git-credentials")
	f.Fuzz(func(t *testing.T, text []byte, name string) {
		for _, m := range Find(text, name) {
			if m.Offset < 0 || m.Offset > int64(len(text)) || m.Line < 1 {
				t.Fatalf("bad match %+v", m)
			}
		}
		r := Redact(string(text))
		if again := Redact(r); again != r {
			t.Fatalf("Redact is not idempotent: %q → %q", r, again)
		}
	})
}
