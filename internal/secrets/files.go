package secrets

import (
	"bytes"
	"regexp"
	"strings"
)

// isEnvFile: .env, .env.production, prod.env — not the templates that
// document which variables to set.
func isEnvFile(base string) bool {
	lb := strings.ToLower(base)
	if !(lb == ".env" || strings.HasPrefix(lb, ".env.") || strings.HasSuffix(lb, ".env")) {
		return false
	}
	for _, t := range []string{"example", "sample", "template", "dist", "defaults"} {
		if strings.Contains(lb, t) {
			return false
		}
	}
	return true
}

// SecretName reports whether a variable name says it holds a secret.
var secretName = regexp.MustCompile(`(?i)(?:^|_)(?:TOKEN|SECRET|PASSWORD|PASSWD|PWD|API_?KEY|ACCESS_?KEY|SECRET_?KEY|PRIVATE_?KEY|CREDENTIALS?|AUTH|SESSION_?KEY|CLIENT_?SECRET)(?:$|_)|(?i)^HF_TOKEN$|(?i)^HUGGING_?FACE`)

// SecretName reports whether a variable name says it holds a secret
// (HF_TOKEN, AWS_SECRET_ACCESS_KEY, DB_PASSWORD, …).
func SecretName(name string) bool { return secretName.MatchString(name) }

var envLine = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$`)

// envFile reports assignments of secret-named variables in a .env file.
func envFile(text []byte, lines *lineIndex) []Match {
	var out []Match
	off := 0
	for _, line := range bytes.SplitAfter(text, []byte{'\n'}) {
		m := envLine.FindSubmatch(bytes.TrimRight(line, "\r\n"))
		start := off
		off += len(line)
		if m == nil || !SecretName(string(m[1])) {
			continue
		}
		val := strings.Trim(string(m[2]), `"'`)
		if i := strings.Index(val, " #"); i >= 0 {
			val = strings.TrimSpace(val[:i])
		}
		if val == "" || strings.HasPrefix(val, "${") || strings.HasPrefix(val, "$") || strings.HasPrefix(val, "<") {
			continue
		}
		out = append(out, Match{Rule: RuleEnvFile, Kind: ".env assignment", Offset: int64(start), Line: lines.at(start),
			Redacted: string(m[1]) + "=[REDACTED, " + itoa(len(val)) + " chars]", Placeholder: placeholder(val) && len(val) < 8})
	}
	return out
}

var credURL = regexp.MustCompile(`[a-z][a-z0-9+.\-]*://([^\s:/@]+):([^\s@/]+)@([^\s/:]+)`)

// gitCredentials reports the URLs with a password in a .git-credentials file.
func gitCredentials(text []byte, lines *lineIndex) []Match {
	var out []Match
	for _, loc := range credURL.FindAllSubmatchIndex(text, -1) {
		host := string(text[loc[6]:loc[7]])
		out = append(out, Match{Rule: RuleGitCredentials, Kind: "git credential", Offset: int64(loc[4]), Line: lines.at(loc[4]),
			Redacted: "https://[user]:[REDACTED]@" + Redact(host)})
	}
	return out
}

// IsText reports whether content looks like text: no NUL byte and few
// control characters in its head.
func IsText(head []byte) bool {
	if len(head) == 0 {
		return false
	}
	ctrl := 0
	for _, c := range head {
		switch {
		case c == 0:
			return false
		case c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' && c != '\v' && c != 0x1b:
			ctrl++
		}
	}
	return ctrl*100 <= len(head)
}
