package hub

import (
	"fmt"
	"net/url"
	"strings"
)

// RepoType is the kind of repository: models, datasets or spaces.
type RepoType string

// Repository types, named as in API paths.
const (
	Model   RepoType = "models"
	Dataset RepoType = "datasets"
	Space   RepoType = "spaces"
)

// Ref names a repository, optionally at a revision and under a path.
type Ref struct {
	Type RepoType
	// ID is "org/name" (or a legacy "name" without an organisation).
	ID string
	// Revision is a branch, tag or commit sha; "" means the default
	// branch, "main".
	Revision string
	// Path restricts a scan to a file or folder of the repository.
	Path string
}

// Scheme is the URL scheme of hub addresses.
const Scheme = "hf://"

// IsRef reports whether s is a hub address (hf://…).
func IsRef(s string) bool { return strings.HasPrefix(s, Scheme) }

// ParseRef parses hf://[datasets/|spaces/|models/]ORG/REPO[@REVISION][/PATH].
// A revision containing a slash (refs/pr/1) is written URL-escaped
// (refs%2Fpr%2F1), as in the official client's file system URLs.
func ParseRef(s string) (Ref, error) {
	if !IsRef(s) {
		return Ref{}, fmt.Errorf("%q is not a hub address (want hf://ORG/REPO)", s)
	}
	rest := strings.TrimPrefix(s, Scheme)
	r := Ref{Type: Model}
	for _, t := range []RepoType{Model, Dataset, Space} {
		if p := string(t) + "/"; strings.HasPrefix(rest, p) {
			r.Type, rest = t, strings.TrimPrefix(rest, p)
			break
		}
	}
	parts := strings.Split(rest, "/")
	// The repository is ORG/NAME, or NAME alone for legacy repositories;
	// a revision ends the repository part wherever it appears.
	n := 2
	if at := strings.IndexByte(parts[0], '@'); at >= 0 || len(parts) == 1 {
		n = 1
	}
	if len(parts) < n {
		return Ref{}, fmt.Errorf("%q: want hf://ORG/REPO", s)
	}
	repo := parts[:n]
	last := repo[n-1]
	if at := strings.IndexByte(last, '@'); at >= 0 {
		rev, err := url.PathUnescape(last[at+1:])
		if err != nil || rev == "" {
			return Ref{}, fmt.Errorf("%q: bad revision", s)
		}
		r.Revision = rev
		repo[n-1] = last[:at]
	}
	for _, p := range repo {
		if !validName(p) {
			return Ref{}, fmt.Errorf("%q: %q is not a valid repository name", s, p)
		}
	}
	r.ID = strings.Join(repo, "/")
	r.Path = strings.Trim(strings.Join(parts[n:], "/"), "/")
	for _, seg := range strings.Split(r.Path, "/") {
		if seg == ".." || seg == "." {
			return Ref{}, fmt.Errorf("%q: path may not contain %q", s, seg)
		}
	}
	return r, nil
}

// validName accepts the characters the hub allows in names.
func validName(s string) bool {
	if s == "" || len(s) > 96 || s == "." || s == ".." {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// String formats the reference as an hf:// address.
func (r Ref) String() string {
	var b strings.Builder
	b.WriteString(Scheme)
	if r.Type != Model && r.Type != "" {
		b.WriteString(string(r.Type) + "/")
	}
	b.WriteString(r.ID)
	if r.Revision != "" {
		b.WriteString("@" + url.PathEscape(r.Revision))
	}
	if r.Path != "" {
		b.WriteString("/" + r.Path)
	}
	return b.String()
}

// At returns the reference at another revision.
func (r Ref) At(rev string) Ref { r.Revision = rev; return r }

// revision is the revision to request: the default branch when unset.
func (r Ref) revision() string {
	if r.Revision == "" {
		return "main"
	}
	return r.Revision
}

// apiRepo is the API path of the repository: /api/models/ORG/NAME.
func (r Ref) apiRepo() string {
	t := r.Type
	if t == "" {
		t = Model
	}
	return "/api/" + string(t) + "/" + escapePath(r.ID)
}

// resolvePath is the download path of a file at a revision.
func (r Ref) resolvePath(rev, path string) string {
	prefix := ""
	if r.Type == Dataset || r.Type == Space {
		prefix = "/" + string(r.Type)
	}
	return prefix + "/" + escapePath(r.ID) + "/resolve/" + url.PathEscape(rev) + "/" + escapePath(path)
}

// escapePath escapes each segment of a slash-separated path.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
