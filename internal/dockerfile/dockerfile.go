// Package dockerfile checks Dockerfiles (the recipes of Space-style demo
// apps) for build steps that reach what a shared builder must keep to
// itself: cloud metadata services, the Docker socket, registry and cloud
// credentials; that run code fetched at build time; or that bake secrets
// into the image. The file is parsed with BuildKit's own parser, so that
// it is read exactly as a builder reads it; nothing is ever run.
package dockerfile

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"modelgate/internal/secrets"
)

// Rule IDs (see the finding catalogue for what each means and why).
const (
	RuleMetadata    = "DOCKER-METADATA-ACCESS"
	RulePipeShell   = "DOCKER-PIPE-TO-SHELL"
	RuleSocket      = "DOCKER-SOCKET"
	RuleCredentials = "DOCKER-CREDENTIALS"
	RuleReverse     = "DOCKER-REVERSE-SHELL"
	RuleAddRemote   = "DOCKER-ADD-REMOTE"
	RuleSecretBaked = "DOCKER-SECRET-BAKED"
	RuleRoot        = "DOCKER-ROOT-USER"
	RuleParse       = "DOCKER-PARSE-ERROR"
)

// Issue is one problem in a Dockerfile.
type Issue struct {
	Rule string
	// Line is the 1-based line of the instruction.
	Line    int
	Message string
	// Evidence is the instruction, shortened, with secrets redacted.
	Evidence string
	// Lower is set when the issue is weaker than its rule's default (an
	// ARG without a value, a USER that is root only by omission).
	Lower bool
}

// MaxSize bounds the Dockerfiles parsed.
const MaxSize = 1 << 20

// Check parses a Dockerfile and returns its issues.
func Check(src []byte) (issues []Issue) {
	if len(src) > MaxSize {
		return []Issue{{Rule: RuleParse, Line: 0, Message: fmt.Sprintf("the Dockerfile is %d bytes, over the %d-byte limit; it was not checked", len(src), MaxSize)}}
	}
	res, err := parse(src)
	if err != nil {
		return []Issue{{Rule: RuleParse, Message: "BuildKit could not parse the Dockerfile: " + secrets.Redact(err.Error())}}
	}
	c := &checker{}
	for _, n := range res.AST.Children {
		c.instruction(n)
	}
	c.finish()
	return c.issues
}

// parse runs BuildKit's parser, turning a panic on hostile input into an
// error: a scan must never crash on what it reads.
func parse(src []byte) (res *parser.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("parser panic: %v", r)
		}
	}()
	return parser.Parse(bytes.NewReader(src))
}

type checker struct {
	issues []Issue
	// stage state: the user of the current stage, and where it was set.
	stages   int
	user     string
	userLine int
}

func (c *checker) add(rule string, n *parser.Node, msg string, lower bool) {
	ev := original(n)
	for _, h := range n.Heredocs {
		ev += "\n" + h.Content
	}
	ev = secrets.Redact(ev)
	if len(ev) > 300 {
		ev = ev[:300] + "…"
	}
	c.issues = append(c.issues, Issue{Rule: rule, Line: n.StartLine, Message: msg, Evidence: ev, Lower: lower})
}

// original is the instruction as written, except that the values of
// secret-named ARG and ENV variables are replaced: evidence must not
// repeat a secret.
func original(n *parser.Node) string {
	if n.Value != "arg" && n.Value != "env" {
		return strings.TrimSpace(n.Original)
	}
	w := words(n)
	parts := []string{strings.ToUpper(n.Value)}
	if n.Value == "env" {
		for i := 0; i+1 < len(w); i += 3 {
			v := w[i+1]
			if secrets.SecretName(w[i]) && v != "" {
				v = "[REDACTED]"
			}
			parts = append(parts, w[i]+"="+v)
		}
	} else {
		for _, kv := range w {
			if k, v, ok := strings.Cut(kv, "="); ok && secrets.SecretName(k) && v != "" {
				kv = k + "=[REDACTED]"
			}
			parts = append(parts, kv)
		}
	}
	return strings.Join(parts, " ")
}

// words returns an instruction's arguments.
func words(n *parser.Node) []string {
	var out []string
	for x := n.Next; x != nil; x = x.Next {
		out = append(out, x.Value)
	}
	return out
}

// text is everything an instruction runs or names: its arguments, flags
// and heredoc bodies.
func text(n *parser.Node) string {
	parts := append(append([]string{}, n.Flags...), words(n)...)
	for _, h := range n.Heredocs {
		parts = append(parts, h.Content)
	}
	return strings.Join(parts, " ")
}

func (c *checker) instruction(n *parser.Node) {
	n.Value = strings.ToLower(n.Value)
	switch n.Value {
	case "from":
		c.stages++
		c.user, c.userLine = "", 0
	case "user":
		if w := words(n); len(w) > 0 {
			c.user, c.userLine = w[0], n.StartLine
		}
	case "arg", "env":
		c.assignments(n)
	case "add", "copy":
		c.copies(n)
	}
	t := text(n)
	switch n.Value {
	case "run", "cmd", "entrypoint", "healthcheck", "onbuild", "add", "copy", "env", "arg", "volume", "shell":
		c.commands(n, t)
	}
}

// metadata lists the addresses of cloud instance metadata services (and
// spellings of 169.254.169.254 that resolve to it), and the Kubernetes
// service-account token path: reaching any of them from a build hands
// the builder's own credentials to the recipe.
var metadata = regexp.MustCompile(`(?i)169\.254\.169\.254|169\.254\.170\.2|\bfd00:ec2::254\b|metadata\.google\.internal|\bmetadata\.goog\b|100\.100\.100\.200|168\.63\.129\.16|metadata\.azure\.(?:com|internal)|/computeMetadata/|/latest/meta-data|/latest/api/token|/metadata/instance|/metadata/identity|\binstance-data(?:\.ec2\.internal)?\b|\b2852039166\b|\b0xa9fea9fe\b|\b0xa9\.0xfe\.0xa9\.0xfe\b|\b0251\.0376\.0251\.0376\b|::ffff:a9fe:a9fe|::ffff:169\.254\.169\.254|/var/run/secrets/kubernetes\.io|/run/secrets/kubernetes\.io|\$\{?ECS_CONTAINER_METADATA_URI|\$\{?AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`)

// pipeShell: a download piped or substituted into an interpreter.
var pipeShell = regexp.MustCompile(`(?i)\b(?:curl|wget|fetch|aria2c|http)\b[^|;&\n]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:env\s+)?(?:/usr)?(?:/bin/)?(?:ba|z|da|k|c|tc|fi)?sh\b|\b(?:curl|wget)\b[^|;&\n]*\|\s*(?:sudo\s+)?(?:python[0-9.]*|perl|ruby|node|php|pwsh|powershell)\b|\b(?:ba|z|da|k)?sh\s+(?:-\S+\s+)*(?:-c\s+)?["']?\$\(\s*(?:curl|wget)\b|\b(?:ba|z|da|k)?sh\s+<\(\s*(?:curl|wget)\b|\b(?:python[0-9.]*|perl|ruby|node)\s+-[ce]\s+["']?\$\(\s*(?:curl|wget)\b|\beval\s+["']?\$\(\s*(?:curl|wget)\b`)

var socket = regexp.MustCompile(`(?:/var)?/run/docker\.sock|DOCKER_HOST\s*=?\s*["']?(?:tcp|unix)://`)

// credentials: registry logins and credential stores, cloud CLIs'
// credentials, and the process environment of the builder.
var credentials = regexp.MustCompile(`(?i)\.docker/config\.json|DOCKER_AUTH_CONFIG|\bdocker\s+login\b|\bpodman\s+login\b|\bbuildah\s+login\b|\bskopeo\s+login\b|\bcrane\s+auth\b|\boras\s+login\b|\bhelm\s+registry\s+login\b|/kaniko/\.docker|\bREGISTRY_AUTH|\becr\s+get-login|\bgcloud\s+auth\b|\baz\s+(?:acr\s+)?login\b|\.aws/credentials|\.config/gcloud|GOOGLE_APPLICATION_CREDENTIALS|\$\{?AWS_SECRET_ACCESS_KEY|\$\{?AWS_SESSION_TOKEN|/proc/1/environ|/proc/self/environ|\.git-credentials|\.netrc\b|\.kube/config`)

var reverse = regexp.MustCompile(`(?i)/dev/(?:tcp|udp)/|\b(?:nc|ncat|netcat)\b[^|;&\n]*\s-[a-z]*[ec]\b|\bsocat\b[^\n]*\bexec:|\bbash\s+-i\s+>&|\bmkfifo\b[^\n]*\b(?:nc|ncat)\b|\bpty\.spawn\(|\bsocket\.socket\([^\n]*\bconnect\(`)

func (c *checker) commands(n *parser.Node, t string) {
	if metadata.MatchString(t) {
		c.add(RuleMetadata, n, "the build or the app reaches a cloud metadata service (or the Kubernetes service-account token), which hands out the host's credentials", false)
	}
	if n.Value != "arg" && n.Value != "env" && pipeShell.MatchString(t) {
		c.add(RulePipeShell, n, "a download is piped into an interpreter: whatever the server returns at build time runs, unreviewed and unpinned", false)
	}
	if socket.MatchString(t) {
		c.add(RuleSocket, n, "the Docker socket (or daemon) is used: whoever reaches it controls the builder host and every image on it", false)
	}
	if credentials.MatchString(t) {
		c.add(RuleCredentials, n, "the build touches registry or cloud credentials (a login, a credential file or the builder's environment)", false)
	}
	if reverse.MatchString(t) {
		c.add(RuleReverse, n, "a reverse-shell idiom: the build or app opens an interactive channel to a remote host", false)
	}
}

// assignments checks ARG and ENV for secrets kept in the image.
func (c *checker) assignments(n *parser.Node) {
	w := words(n)
	if n.Value == "env" {
		// ENV nodes come as key, value, "=" triples.
		for i := 0; i+1 < len(w); i += 3 {
			key, val := w[i], w[i+1]
			if secrets.SecretName(key) && val != "" {
				c.add(RuleSecretBaked, n, "ENV "+key+" puts a secret into every layer and the image's configuration, readable by anyone who pulls it", false)
			}
		}
		return
	}
	for _, kv := range w {
		key, val, hasVal := strings.Cut(kv, "=")
		if !secrets.SecretName(key) {
			continue
		}
		if hasVal && val != "" && !strings.HasPrefix(val, "$") {
			c.add(RuleSecretBaked, n, "ARG "+key+" has a secret default value, stored in the image history", false)
		} else {
			c.add(RuleSecretBaked, n, "ARG "+key+" passes a secret as a build argument, which is stored in the image history; use RUN --mount=type=secret", true)
		}
	}
}

// secretFiles are files that hold credentials.
var secretFiles = regexp.MustCompile(`(?i)^(?:\.env(?:\..*)?|.*\.env|\.netrc|\.npmrc|\.pypirc|\.git-credentials|\.dockercfg|id_(?:rsa|dsa|ecdsa|ed25519)(?:\.pub)?|.*\.pem|.*\.key|.*\.p12|.*\.pfx|credentials(?:\.json)?|service[-_]?account.*\.json|\.aws|\.ssh|\.docker|\.kube|token)$`)

// copies checks ADD and COPY: remote sources and secret files.
func (c *checker) copies(n *parser.Node) {
	w := words(n)
	if len(w) < 2 {
		return
	}
	checksum := false
	from := false
	for _, f := range n.Flags {
		checksum = checksum || strings.HasPrefix(f, "--checksum")
		from = from || strings.HasPrefix(f, "--from")
	}
	for _, src := range w[:len(w)-1] {
		lower := strings.ToLower(src)
		remote := strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://") || strings.HasPrefix(lower, "git@") || strings.HasPrefix(lower, "git://")
		if n.Value == "add" && remote && !checksum {
			c.add(RuleAddRemote, n, "ADD fetches "+secrets.Redact(src)+" at build time without --checksum: its content can change under the build", false)
		}
		base := path.Base(strings.TrimRight(src, "/"))
		if !remote && !from && secretFiles.MatchString(base) && !strings.HasSuffix(strings.ToLower(base), ".pub") {
			c.add(RuleSecretBaked, n, strings.ToUpper(n.Value)+" copies "+base+", a credential file, into the image", false)
		}
	}
}

// finish applies the rules about the final stage.
func (c *checker) finish() {
	if c.stages == 0 {
		return
	}
	u := strings.ToLower(c.user)
	if name, _, _ := strings.Cut(u, ":"); name == "root" || name == "0" {
		c.issues = append(c.issues, Issue{Rule: RuleRoot, Line: c.userLine, Message: "the final stage runs as root", Evidence: "USER " + c.user})
	} else if u == "" {
		c.issues = append(c.issues, Issue{Rule: RuleRoot, Message: "the final stage sets no USER, so the app runs as the base image's user, root for most images", Lower: true})
	}
}
