// Package secrets finds credentials in text: hub tokens, cloud keys,
// forge tokens, private keys, .env assignments and git credentials. It
// never returns a secret's value: a Match carries only a redacted form
// (the well-known prefix that names the kind of secret, and a length), and
// Redact removes every secret it recognises from a string, so reports and
// logs never repeat one. The rules follow the public gitleaks patterns
// (MIT) for token shapes; matching is RE2, linear in the input.
package secrets

import (
	"bytes"
	"math"
	"path"
	"regexp"
	"strings"
)

// Rule IDs a Match can carry (see the finding catalogue).
const (
	RuleHubToken       = "SECRET-HF-TOKEN"
	RuleAWS            = "SECRET-AWS-KEY"
	RuleGCP            = "SECRET-GCP-KEY"
	RuleAzure          = "SECRET-AZURE-KEY"
	RuleGitHub         = "SECRET-GITHUB-TOKEN"
	RuleGitLab         = "SECRET-GITLAB-TOKEN"
	RuleAPIToken       = "SECRET-API-TOKEN"
	RulePrivateKey     = "SECRET-PRIVATE-KEY"
	RuleEnvFile        = "SECRET-ENV-FILE"
	RuleGitCredentials = "SECRET-GIT-CREDENTIALS"
)

// Match is one secret found in a text.
type Match struct {
	Rule string
	// Kind names the secret, e.g. "Hugging Face access token".
	Kind string
	// Offset is the byte offset of the secret in the text; Line is 1-based.
	Offset int64
	Line   int
	// Redacted shows what it was without its value, e.g.
	// "hf_…[REDACTED, 37 chars]".
	Redacted string
	// Placeholder is set when the value looks like an example rather
	// than a live credential (EXAMPLE, xxxx, a run of one character).
	Placeholder bool
	// Encrypted is set for a passphrase-protected private key.
	Encrypted bool
}

// detector finds one kind of secret. group is the submatch holding the
// secret (0 for the whole match); prefix is how much of it may be shown.
type detector struct {
	rule, kind string
	keyword    string // a cheap substring test before the regexp
	re         *regexp.Regexp
	group      int
	prefix     int
}

// Boundaries: a token must not be part of a longer word.
const (
	pre  = `(?:^|[^A-Za-z0-9_])`
	post = `(?:$|[^A-Za-z0-9_])`
)

var detectors = []detector{
	{RuleHubToken, "Hugging Face access token", "hf_", regexp.MustCompile(pre + `(hf_[A-Za-z]{34})` + post), 1, 3},
	{RuleHubToken, "Hugging Face organisation API token", "api_org_", regexp.MustCompile(pre + `(api_org_[A-Za-z]{34})` + post), 1, 8},
	{RuleAWS, "AWS access key ID", "", regexp.MustCompile(`(?:^|[^A-Z0-9])((?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16})(?:$|[^A-Z0-9])`), 1, 4},
	{RuleAWS, "AWS secret access key", "", regexp.MustCompile(`(?i)aws_?secret_?access_?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})(?:$|[^A-Za-z0-9/+])`), 1, 0},
	{RuleGCP, "GCP service-account private key", "service_account", regexp.MustCompile(`"type"\s*:\s*"service_account"`), 0, 0},
	{RuleGCP, "Google API key", "AIza", regexp.MustCompile(pre + `(AIza[0-9A-Za-z_\-]{35})` + `(?:$|[^0-9A-Za-z_\-])`), 1, 4},
	{RuleAzure, "Azure storage account key", "AccountKey", regexp.MustCompile(`AccountKey=([A-Za-z0-9+/]{86}==)`), 1, 0},
	{RuleAzure, "Azure AD client secret", "Q~", regexp.MustCompile(`(?:^|[\\'"\x60\s>=:(,)])([A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34})(?:$|[\\'"\x60\s<),])`), 1, 0},
	{RuleGitHub, "GitHub token", "gh", regexp.MustCompile(pre + `(gh[pousr]_[A-Za-z0-9]{36})` + post), 1, 4},
	{RuleGitHub, "GitHub fine-grained token", "github_pat_", regexp.MustCompile(pre + `(github_pat_[A-Za-z0-9_]{82})` + post), 1, 11},
	{RuleGitLab, "GitLab token", "gl", regexp.MustCompile(pre + `(gl(?:pat|dt|ptt|rt|cbt|oas|ft|imt|agent|soat|ffct)-[A-Za-z0-9_\-]{20,50})` + `(?:$|[^A-Za-z0-9_\-])`), 1, 6},
	{RuleAPIToken, "OpenAI API key", "T3BlbkFJ", regexp.MustCompile(pre + `(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,})` + `(?:$|[^A-Za-z0-9_\-])`), 1, 3},
	{RuleAPIToken, "Slack token", "xox", regexp.MustCompile(pre + `(xox[baprs]-[0-9]{6,}-[A-Za-z0-9\-]{10,})` + `(?:$|[^A-Za-z0-9\-])`), 1, 5},
	{RuleAPIToken, "Stripe live secret key", "sk_live_", regexp.MustCompile(pre + `((?:sk|rk)_live_[A-Za-z0-9]{24,})` + post), 1, 8},
	{RulePrivateKey, "private key", "PRIVATE KEY", regexp.MustCompile(`-----BEGIN ((?:RSA |DSA |EC |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?)-----`), 0, 0},
	{RuleGitCredentials, "credentials in a git remote URL", "@", regexp.MustCompile(`https?://[^\s:/@'"]+:([^\s@/'"]{8,})@(?:www\.)?(?:github\.com|gitlab\.com|huggingface\.co|bitbucket\.org|dev\.azure\.com)`), 1, 0},
}

// Find returns the secrets in text. name is the file's name, used only as
// a hint for files that are secrets by what they are (.env files,
// .git-credentials).
func Find(text []byte, name string) []Match {
	var out []Match
	lines := lineIndex{text: text}
	for _, d := range detectors {
		if d.keyword != "" && !bytes.Contains(text, []byte(d.keyword)) {
			continue
		}
		for _, loc := range d.re.FindAllSubmatchIndex(text, -1) {
			s, e := loc[2*d.group], loc[2*d.group+1]
			if s < 0 {
				continue
			}
			val := string(text[s:e])
			if d.rule == RuleGCP && d.group == 0 && !bytes.Contains(text, []byte(`"private_key"`)) {
				continue // a service-account file without its key
			}
			if d.rule == RulePrivateKey && !keyBody(text[e:]) {
				continue // a header in documentation, without a key
			}
			m := Match{Rule: d.rule, Kind: d.kind, Offset: int64(s), Line: lines.at(s), Redacted: redactValue(val, d), Placeholder: placeholder(val)}
			if d.rule == RulePrivateKey {
				m.Redacted = "-----BEGIN " + string(text[loc[2]:loc[3]]) + "-----…[REDACTED]"
				m.Placeholder, m.Encrypted = false, strings.Contains(string(text[loc[2]:loc[3]]), "ENCRYPTED")
			}
			if d.rule == RuleGCP && d.group == 0 {
				m.Redacted = `"type": "service_account" with "private_key": […REDACTED]`
			}
			out = append(out, m)
		}
	}
	base := path.Base(strings.ReplaceAll(name, `\`, "/"))
	switch {
	case isEnvFile(base):
		out = append(out, envFile(text, &lines)...)
	case base == ".git-credentials" || base == "git-credentials":
		out = append(out, gitCredentials(text, &lines)...)
	}
	return dedupe(out)
}

// dedupe keeps one match per offset (a value matched by two detectors).
func dedupe(ms []Match) []Match {
	seen := map[int64]bool{}
	out := ms[:0]
	for _, m := range ms {
		if !seen[m.Offset] {
			seen[m.Offset] = true
			out = append(out, m)
		}
	}
	return out
}

func redactValue(val string, d detector) string {
	p := min(d.prefix, len(val))
	return val[:p] + "…[REDACTED, " + itoa(len(val)) + " chars]"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// placeholder reports values that are documentation, not credentials.
func placeholder(v string) bool {
	lv := strings.ToLower(v)
	for _, w := range []string{"example", "xxxx", "your", "dummy", "placeholder", "redacted", "sample", "changeme", "****", "0000", "1234", "abcd"} {
		if strings.Contains(lv, w) {
			return true
		}
	}
	return entropy(v) < 3.0
}

// entropy is the Shannon entropy of s in bits per character.
func entropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	var h float64
	n := float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// lineIndex turns offsets into line numbers, scanning forward only.
type lineIndex struct {
	text       []byte
	off, lines int
}

func (l *lineIndex) at(off int) int {
	if off < l.off {
		l.off, l.lines = 0, 0
	}
	l.lines += bytes.Count(l.text[l.off:off], []byte{'\n'})
	l.off = off
	return l.lines + 1
}

// keyBody reports whether a PEM header is followed by key material: 40
// base64 characters within the next lines, whitespace and JSON-escaped
// newlines ("\n") aside.
func keyBody(rest []byte) bool {
	n := 0
	for i := 0; i < len(rest) && i < 400; i++ {
		c := rest[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/', c == '=':
			if c == 'n' || c == 'r' {
				if i > 0 && rest[i-1] == '\\' {
					continue
				}
			}
			if n++; n >= 40 {
				return true
			}
		case c == ' ', c == '\t', c == '\n', c == '\r', c == '\\', c == '"':
		case c == ':', c == '-', c == ',':
			n = 0 // headers such as Proc-Type: restart the count
		default:
			return false
		}
	}
	return false
}

// Redact replaces every secret Find recognises in s by its redacted form.
func Redact(s string) string {
	if s == "" {
		return s
	}
	for _, d := range detectors {
		if d.keyword != "" && !strings.Contains(s, d.keyword) {
			continue
		}
		locs := d.re.FindAllStringSubmatchIndex(s, -1)
		for i := len(locs) - 1; i >= 0; i-- {
			loc := locs[i]
			a, b := loc[2*d.group], loc[2*d.group+1]
			if a < 0 {
				continue
			}
			rep := redactValue(s[a:b], d)
			if d.rule == RulePrivateKey || d.rule == RuleGCP {
				rep = "[REDACTED " + d.kind + "]"
			}
			s = s[:a] + rep + s[b:]
		}
	}
	return s
}
