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
	"slices"
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

// detector finds one kind of secret. Most start with a fixed prefix
// (hf_, AKIA, ghp_): those list it in keys, and their regexp, anchored
// with \A, runs only where a key occurs, within window bytes (and back
// bytes before it), which keeps the scan near the speed of a substring
// search. Detectors without keys run over the whole text when every one
// of need occurs in it. group is the submatch holding the secret; prefix
// is how much of it a redacted form may show.
type detector struct {
	rule, kind string
	keys       []string
	back       int
	window     int
	need       []string
	fold       bool // need is matched case-insensitively
	re         *regexp.Regexp
	group      int
	prefix     int
}

// post: a token must not run on into a longer word.
const post = `(?:$|[^A-Za-z0-9_])`

var detectors = []detector{
	{rule: RuleHubToken, kind: "Hugging Face access token", keys: []string{"hf_"}, window: 40, re: regexp.MustCompile(`\A(hf_[A-Za-z]{34})` + post), group: 1, prefix: 3},
	{rule: RuleHubToken, kind: "Hugging Face organisation API token", keys: []string{"api_org_"}, window: 45, re: regexp.MustCompile(`\A(api_org_[A-Za-z]{34})` + post), group: 1, prefix: 8},
	{rule: RuleAWS, kind: "AWS access key ID", keys: []string{"AKIA", "ASIA", "ABIA", "ACCA", "A3T"}, window: 24, re: regexp.MustCompile(`\A((?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16})(?:$|[^A-Z0-9])`), group: 1, prefix: 4},
	{rule: RuleAWS, kind: "AWS secret access key", need: []string{"secret", "access"}, fold: true, re: regexp.MustCompile(`(?i)aws_?secret_?access_?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})(?:$|[^A-Za-z0-9/+])`), group: 1},
	{rule: RuleGCP, kind: "GCP service-account private key", need: []string{"service_account", `"private_key"`}, re: regexp.MustCompile(`"type"\s*:\s*"service_account"`)},
	{rule: RuleGCP, kind: "Google API key", keys: []string{"AIza"}, window: 40, re: regexp.MustCompile(`\A(AIza[0-9A-Za-z_\-]{35})(?:$|[^0-9A-Za-z_\-])`), group: 1, prefix: 4},
	{rule: RuleAzure, kind: "Azure storage account key", keys: []string{"AccountKey="}, window: 100, re: regexp.MustCompile(`\AAccountKey=([A-Za-z0-9+/]{86}==)`), group: 1},
	{rule: RuleAzure, kind: "Azure AD client secret", keys: []string{"Q~"}, back: 4, window: 45, re: regexp.MustCompile(`\A([A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34})(?:$|[\\'"\x60\s<),])`), group: 1},
	{rule: RuleGitHub, kind: "GitHub token", keys: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}, window: 42, re: regexp.MustCompile(`\A(gh[pousr]_[A-Za-z0-9]{36})` + post), group: 1, prefix: 4},
	{rule: RuleGitHub, kind: "GitHub fine-grained token", keys: []string{"github_pat_"}, window: 95, re: regexp.MustCompile(`\A(github_pat_[A-Za-z0-9_]{82})` + post), group: 1, prefix: 11},
	{rule: RuleGitLab, kind: "GitLab token", keys: []string{"glpat-", "gldt-", "glptt-", "glrt-", "glcbt-", "gloas-", "glft-", "glimt-", "glagent-", "glsoat-", "glffct-"}, window: 64,
		re: regexp.MustCompile(`\A(gl(?:pat|dt|ptt|rt|cbt|oas|ft|imt|agent|soat|ffct)-[A-Za-z0-9_\-]{20,50})(?:$|[^A-Za-z0-9_\-])`), group: 1, prefix: 6},
	{rule: RuleAPIToken, kind: "OpenAI API key", keys: []string{"sk-"}, window: 400, re: regexp.MustCompile(`\A(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,300}T3BlbkFJ[A-Za-z0-9_\-]{20,})(?:$|[^A-Za-z0-9_\-])`), group: 1, prefix: 3},
	{rule: RuleAPIToken, kind: "Slack token", keys: []string{"xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"}, window: 200, re: regexp.MustCompile(`\A(xox[baprs]-[0-9]{6,}-[A-Za-z0-9\-]{10,150})(?:$|[^A-Za-z0-9\-])`), group: 1, prefix: 5},
	{rule: RuleAPIToken, kind: "Stripe live secret key", keys: []string{"sk_live_", "rk_live_"}, window: 120, re: regexp.MustCompile(`\A((?:sk|rk)_live_[A-Za-z0-9]{24,100})` + post), group: 1, prefix: 8},
	{rule: RulePrivateKey, kind: "private key", need: []string{"PRIVATE KEY-----"}, re: regexp.MustCompile(`-----BEGIN ((?:RSA |DSA |EC |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?)-----`)},
	{rule: RuleGitCredentials, kind: "credentials in a git remote URL", need: []string{"://", "@"}, re: regexp.MustCompile(`https?://[^\s:/@'"]+:([^\s@/'"]{8,})@(?:www\.)?(?:github\.com|gitlab\.com|huggingface\.co|bitbucket\.org|dev\.azure\.com)`), group: 1},
}

func isWord(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// span is where a detector matched: the whole match and the secret.
type span struct {
	d          *detector
	start, end int // of the secret
	loc        []int
}

// spans returns every detector match in text, in detector order.
func spans(text []byte) []span {
	var out []span
	var lower []byte
	for i := range detectors {
		d := &detectors[i]
		if len(d.keys) == 0 {
			hay := text
			if d.fold {
				if lower == nil {
					lower = bytes.ToLower(text)
				}
				hay = lower
			}
			ok := true
			for _, n := range d.need {
				ok = ok && bytes.Contains(hay, []byte(n))
			}
			if !ok {
				continue
			}
			for _, loc := range d.re.FindAllSubmatchIndex(text, -1) {
				s, e := loc[2*d.group], loc[2*d.group+1]
				if s >= 0 {
					out = append(out, span{d, s, e, loc})
				}
			}
			continue
		}
		for _, k := range d.keys {
			kb := []byte(k)
			for from := 0; from < len(text); {
				j := bytes.Index(text[from:], kb)
				if j < 0 {
					break
				}
				at := from + j - d.back
				from += j + 1
				if at < 0 || at > 0 && isWord(text[at-1]) && d.back == 0 {
					continue
				}
				end := min(len(text), at+d.window)
				loc := d.re.FindSubmatchIndex(text[at:end])
				if loc == nil || loc[2*d.group] < 0 {
					continue
				}
				for n := range loc {
					if loc[n] >= 0 {
						loc[n] += at
					}
				}
				out = append(out, span{d, loc[2*d.group], loc[2*d.group+1], loc})
				from = loc[1] - 1
				if from <= at {
					from = at + 1
				}
			}
		}
	}
	return out
}

// Find returns the secrets in text. name is the file's name, used only as
// a hint for files that are secrets by what they are (.env files,
// .git-credentials).
func Find(text []byte, name string) []Match {
	var out []Match
	lines := lineIndex{text: text}
	for _, sp := range spans(text) {
		d := sp.d
		val := string(text[sp.start:sp.end])
		if d.rule == RulePrivateKey && !keyBody(text[sp.loc[1]:]) {
			continue // a header in documentation, without a key
		}
		m := Match{Rule: d.rule, Kind: d.kind, Offset: int64(sp.start), Line: lines.at(sp.start), Redacted: redactValue(val, *d), Placeholder: placeholder(val)}
		switch {
		case d.rule == RulePrivateKey:
			label := string(text[sp.loc[2]:sp.loc[3]])
			m.Redacted = "-----BEGIN " + label + "-----…[REDACTED]"
			m.Placeholder, m.Encrypted = false, strings.Contains(label, "ENCRYPTED")
		case d.rule == RuleGCP && d.group == 0:
			m.Redacted, m.Placeholder = `"type": "service_account" with "private_key": […REDACTED]`, false
		}
		out = append(out, m)
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
	sp := spans([]byte(s))
	if len(sp) == 0 {
		return s
	}
	slices.SortFunc(sp, func(a, b span) int { return a.start - b.start })
	var b strings.Builder
	last := 0
	for _, x := range sp {
		if x.start < last {
			continue // overlaps one already replaced
		}
		rep := redactValue(s[x.start:x.end], *x.d)
		if x.d.rule == RulePrivateKey || x.d.rule == RuleGCP {
			rep = "[REDACTED " + x.d.kind + "]"
		}
		b.WriteString(s[last:x.start])
		b.WriteString(rep)
		last = x.end
	}
	b.WriteString(s[last:])
	return b.String()
}
