// Package safepath judges file paths that a model names for its loader to
// open (ONNX external data, HDF5 external files, TensorFlow op arguments):
// whether they stay inside the model's folder.
package safepath

import (
	"path"
	"strings"
)

// Check returns why p would leave the folder it is resolved against, or ""
// if it stays inside. Both separators are treated alike (a file written on
// Linux is often loaded on Windows), so are drive letters, UNC paths and
// URL schemes.
func Check(p string) string {
	if p == "" {
		return ""
	}
	if strings.ContainsRune(p, 0) {
		return "contains a NUL byte"
	}
	s := strings.ReplaceAll(p, `\`, "/")
	switch {
	case strings.HasPrefix(s, "//"):
		return "is a UNC or network path"
	case strings.HasPrefix(s, "/"):
		return "is absolute"
	case len(s) >= 2 && s[1] == ':' && isLetter(s[0]):
		return "is an absolute Windows path"
	case hasScheme(s):
		return "is a URL"
	case s == "~" || strings.HasPrefix(s, "~/"):
		return "starts in the home folder"
	}
	for _, part := range strings.Split(s, "/") {
		if part == ".." {
			if c := path.Clean(s); c == ".." || strings.HasPrefix(c, "../") {
				return "climbs out of the model's folder"
			}
			return "contains '..'"
		}
	}
	return ""
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// hasScheme reports a URL scheme such as gs://, s3://, http://, file://.
func hasScheme(s string) bool {
	i := strings.Index(s, "://")
	if i <= 0 {
		return false
	}
	for j := 0; j < i; j++ {
		c := s[j]
		if !isLetter(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}
