package repocheck

import (
	"bytes"
	"regexp"
	"strings"

	"modelgate/internal/hydra"
)

// isDockerfile: by name (Dockerfile, Containerfile, *.dockerfile,
// Dockerfile.gpu), or by content for renamed ones: the first instruction
// is FROM and a RUN, CMD or ENTRYPOINT follows.
func isDockerfile(name string, data []byte) bool {
	lower := strings.ToLower(name)
	if lower == "dockerfile" || lower == "containerfile" || strings.HasSuffix(lower, ".dockerfile") ||
		strings.HasPrefix(lower, "dockerfile.") || strings.HasPrefix(lower, "containerfile.") {
		return true
	}
	return dockerFirst.Match(data) && dockerStep.Match(data)
}

var (
	dockerFirst = regexp.MustCompile(`\A(?:\xef\xbb\xbf)?(?:\s*#[^\n]*\n|\s*\n)*\s*(?:ARG\s+\S+\s*\n(?:\s*#[^\n]*\n|\s*\n)*\s*)*FROM\s+\S+`)
	dockerStep  = regexp.MustCompile(`(?m)^\s*(?:RUN|CMD|ENTRYPOINT)\s`)
)

// isPython: *.py, or a script with a python shebang.
func isPython(name string, head []byte) bool {
	if strings.HasSuffix(strings.ToLower(name), ".py") {
		return true
	}
	line, _, _ := bytes.Cut(head, []byte{'\n'})
	return bytes.HasPrefix(line, []byte("#!")) && bytes.Contains(line, []byte("python"))
}

// isArchive: a tar (any name: .nemo files are tars), or gzip data named
// .nemo (older NeMo compressed them; other .gz files are not opened).
func isArchive(head []byte, name string) bool {
	return hydra.IsTar(head) || hydra.IsGzip(head) && strings.HasSuffix(strings.ToLower(name), ".nemo")
}

// isConfig: YAML and JSON files, which Hydra and NeMo load by name (a
// README quoting a config is not one).
func isConfig(name string) bool {
	lower := strings.ToLower(name)
	return strings.HasSuffix(lower, ".yaml") || strings.HasSuffix(lower, ".yml") || strings.HasSuffix(lower, ".json")
}
