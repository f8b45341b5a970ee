package archive

import (
	"path"
	"strings"
)

// NameHazard says why extracting a member under this name would write
// outside the extraction folder, or "" if it would not. Backslashes count
// as separators, as on Windows.
func NameHazard(name string) string {
	n := strings.ReplaceAll(name, "\\", "/")
	switch {
	case strings.HasPrefix(n, "/"):
		return "an absolute path"
	case len(n) >= 2 && n[1] == ':' && (n[0]|0x20 >= 'a' && n[0]|0x20 <= 'z'):
		return "a drive-letter path"
	case strings.ContainsRune(n, 0):
		return "a NUL byte in the name"
	}
	if escapes(n) {
		return "a parent-directory reference that leaves the folder"
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "a parent-directory reference"
		}
	}
	return ""
}

// escapes reports whether a relative slash path climbs above its root.
func escapes(p string) bool {
	depth := 0
	for _, part := range strings.Split(p, "/") {
		switch part {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}

// LinkEscapes reports whether a link member named name pointing at target
// resolves outside the extraction folder. A symbolic link's target is
// relative to the link's folder; a hard link's to the archive root.
func LinkEscapes(name, target string, hard bool) bool {
	t := strings.ReplaceAll(target, "\\", "/")
	if strings.HasPrefix(t, "/") || (len(t) >= 2 && t[1] == ':') {
		return true
	}
	if hard {
		return escapes(t)
	}
	dir := path.Dir(strings.ReplaceAll(name, "\\", "/"))
	if dir == "." {
		return escapes(t)
	}
	return escapes(dir + "/" + t)
}

// CleanName is the name an extractor would write, for duplicate checks.
func CleanName(name string) string {
	n := path.Clean("/" + strings.ReplaceAll(name, "\\", "/"))
	return strings.TrimPrefix(n, "/")
}
