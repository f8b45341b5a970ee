package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// RepoInfo is a repository at a revision (GET /api/models/{id}[/revision/{rev}]),
// or an item of a listing.
type RepoInfo struct {
	ID           string    `json:"id"`
	Author       string    `json:"author,omitempty"`
	SHA          string    `json:"sha,omitempty"`
	LastModified time.Time `json:"lastModified,omitzero"`
	CreatedAt    time.Time `json:"createdAt,omitzero"`
	Private      bool      `json:"private"`
	Gated        Gated     `json:"gated"`
	Disabled     bool      `json:"disabled"`
	Tags         []string  `json:"tags,omitempty"`
	Siblings     []Sibling `json:"siblings,omitempty"`
}

// Gated is false, "auto" or "manual" in the API; here "" when not gated.
type Gated string

// UnmarshalJSON accepts false, true, "auto" and "manual".
func (g *Gated) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "false", "null":
		*g = ""
		return nil
	case "true":
		*g = "true"
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("gated: %w", err)
	}
	*g = Gated(s)
	return nil
}

// MarshalJSON writes false when not gated.
func (g Gated) MarshalJSON() ([]byte, error) {
	if g == "" {
		return []byte("false"), nil
	}
	return json.Marshal(string(g))
}

// Sibling is a file in RepoInfo. Size, BlobID and LFS are set only when
// the info was asked for with blobs=true.
type Sibling struct {
	RFilename string      `json:"rfilename"`
	Size      int64       `json:"size,omitempty"`
	BlobID    string      `json:"blobId,omitempty"`
	LFS       *SiblingLFS `json:"lfs,omitempty"`
}

// SiblingLFS: note the key is "sha256" here but "oid" in the tree.
type SiblingLFS struct {
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	PointerSize int64  `json:"pointerSize"`
}

// TreeEntry is an item of GET /api/models/{id}/tree/{rev} and of paths-info.
type TreeEntry struct {
	Type string `json:"type"` // "file" or "directory"
	Path string `json:"path"`
	Size int64  `json:"size"`
	// OID is the git object id: the blob sha1 of a regular file, of the
	// LFS pointer for an LFS file.
	OID        string      `json:"oid"`
	LFS        *TreeLFS    `json:"lfs,omitempty"`
	XetHash    string      `json:"xetHash,omitempty"`
	LastCommit *LastCommit `json:"lastCommit,omitempty"`
}

// TreeLFS describes the LFS object behind a file; OID is the sha256 of
// the content.
type TreeLFS struct {
	OID         string `json:"oid"`
	Size        int64  `json:"size"`
	PointerSize int64  `json:"pointerSize"`
}

// LastCommit is the last commit that touched an entry (expand=true).
type LastCommit struct {
	ID    string    `json:"id"`
	Title string    `json:"title"`
	Date  time.Time `json:"date"`
}

// SHA256 is the content hash the hub lists for the entry, or "".
func (e *TreeEntry) SHA256() string {
	if e.LFS != nil && isHex(e.LFS.OID, 64) {
		return strings.ToLower(e.LFS.OID)
	}
	return ""
}

var shaRE = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)

// IsCommit reports whether rev is a full commit sha.
func IsCommit(rev string) bool { return shaRE.MatchString(rev) }

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// Info returns a repository at ref's revision. With blobs, siblings carry
// sizes and LFS hashes.
func (c *Client) Info(ctx context.Context, ref Ref, blobs bool) (*RepoInfo, error) {
	path := ref.apiRepo()
	if ref.Revision != "" {
		path += "/revision/" + url.PathEscape(ref.Revision)
	}
	if blobs {
		path += "?blobs=true"
	}
	var info RepoInfo
	if _, err := c.getJSON(ctx, path, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// Resolve returns the commit sha ref's revision points at.
func (c *Client) Resolve(ctx context.Context, ref Ref) (string, error) {
	info, err := c.Info(ctx, ref.At(ref.revision()), false)
	if err != nil {
		return "", err
	}
	if !IsCommit(info.SHA) {
		return "", fmt.Errorf("hub: %s: the answer has no commit sha (got %q)", ref.At(ref.revision()), info.SHA)
	}
	return strings.ToLower(info.SHA), nil
}

// Tree lists the files and folders under path at ref's revision (all of
// them, recursively, with recursive), following pagination.
func (c *Client) Tree(ctx context.Context, ref Ref, path string, recursive bool, yield func(TreeEntry) error) error {
	u := ref.apiRepo() + "/tree/" + url.PathEscape(ref.revision())
	if path != "" {
		u += "/" + escapePath(path)
	}
	q := url.Values{}
	if recursive {
		q.Set("recursive", "true")
	}
	if enc := q.Encode(); enc != "" {
		u += "?" + enc
	}
	n := 0
	return c.paginate(ctx, u, func(raw json.RawMessage) error {
		var page []TreeEntry
		if err := json.Unmarshal(raw, &page); err != nil {
			return fmt.Errorf("hub: bad tree page: %w", err)
		}
		for _, e := range page {
			if n++; n > c.cfg.MaxEntries {
				return fmt.Errorf("hub: %s has more than %d files (MaxEntries)", ref, c.cfg.MaxEntries)
			}
			if err := yield(e); err != nil {
				return err
			}
		}
		return nil
	})
}

// PathsInfo returns the entries of the given paths at ref's revision
// (POST /api/models/{id}/paths-info/{rev}); missing paths are left out.
func (c *Client) PathsInfo(ctx context.Context, ref Ref, paths []string) ([]TreeEntry, error) {
	form := url.Values{"paths": paths}
	body := form.Encode()
	resp, err := c.do(ctx, request{
		method: http.MethodPost,
		url:    ref.apiRepo() + "/paths-info/" + url.PathEscape(ref.revision()),
		header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}},
		body:   func() io.Reader { return strings.NewReader(body) },
	})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out []TreeEntry
	return out, decodeJSON(resp.Body, &out)
}

// ListOptions select repositories for List.
type ListOptions struct {
	// Sort is lastModified (default), createdAt, downloads, likes or
	// trendingScore; the order is always descending.
	Sort   string
	Author string
	Search string
	Filter []string
	// Limit is the page size asked for (the server may cap it).
	Limit int
	// Expand names the properties to return; Full asks for all.
	Expand []string
	Full   bool
}

// List lists repositories of a type, newest first by default, following
// the Link header's cursor pagination. yield returning an error stops it.
func (c *Client) List(ctx context.Context, t RepoType, o ListOptions, yield func(RepoInfo) error) error {
	q := url.Values{}
	q.Set("sort", cmpOr(o.Sort, "lastModified"))
	if o.Author != "" {
		q.Set("author", o.Author)
	}
	if o.Search != "" {
		q.Set("search", o.Search)
	}
	for _, f := range o.Filter {
		q.Add("filter", f)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	for _, e := range o.Expand {
		q.Add("expand", e)
	}
	if o.Full {
		q.Set("full", "true")
	}
	return c.paginate(ctx, "/api/"+string(t)+"?"+q.Encode(), func(raw json.RawMessage) error {
		var page []RepoInfo
		if err := json.Unmarshal(raw, &page); err != nil {
			return fmt.Errorf("hub: bad listing page: %w", err)
		}
		for _, r := range page {
			if err := yield(r); err != nil {
				return err
			}
		}
		return nil
	})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// paginate GETs u and every page its Link rel="next" header leads to.
// A next link must stay on the endpoint's origin: the token goes with it.
func (c *Client) paginate(ctx context.Context, u string, page func(json.RawMessage) error) error {
	for pages := 0; u != ""; pages++ {
		if pages >= 100_000 {
			return fmt.Errorf("hub: too many pages")
		}
		var raw json.RawMessage
		h, err := c.getJSON(ctx, u, &raw)
		if err != nil {
			return err
		}
		if err := page(raw); err != nil {
			return err
		}
		next := nextLink(h.Values("Link"))
		if next == "" {
			return nil
		}
		nu, err := url.Parse(next)
		if err != nil {
			return fmt.Errorf("hub: bad Link header: %w", err)
		}
		nu = c.base.ResolveReference(nu)
		if !sameOrigin(nu, c.base) {
			return fmt.Errorf("hub: pagination link leaves the endpoint (%s)", stripQuery(nu.String()))
		}
		u = nu.String()
	}
	return nil
}

// nextLink returns the URL of rel="next" in Link headers.
func nextLink(values []string) string {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			segs := strings.Split(part, ";")
			if len(segs) < 2 {
				continue
			}
			target := strings.TrimSpace(segs[0])
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for _, p := range segs[1:] {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "rel") && strings.EqualFold(strings.Trim(v, `"`), "next") {
					return target[1 : len(target)-1]
				}
			}
		}
	}
	return ""
}

// FileMeta is what a HEAD of a resolve URL says about a file.
type FileMeta struct {
	// Commit is X-Repo-Commit, the commit the revision resolved to.
	Commit string
	// ETag is X-Linked-Etag when set (the sha256 of an LFS file), else
	// ETag (the git blob id), without quotes or W/.
	ETag string
	// Size is X-Linked-Size when set, else Content-Length.
	Size int64
	// Location is where the content is served from (a CDN), if elsewhere.
	Location string
}

// Head returns a file's metadata without downloading it.
func (c *Client) Head(ctx context.Context, ref Ref, path string) (*FileMeta, error) {
	resp, err := c.do(ctx, request{method: http.MethodHead, url: ref.resolvePath(ref.revision(), path), header: http.Header{"Accept-Encoding": {"identity"}}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return headMeta(resp), nil
}

func headMeta(resp *http.Response) *FileMeta {
	h := resp.Header
	m := &FileMeta{Commit: h.Get("X-Repo-Commit"), ETag: normalizeETag(h.Get("X-Linked-Etag")), Location: stripQuery(h.Get("Location"))}
	if m.ETag == "" {
		m.ETag = normalizeETag(h.Get("ETag"))
	}
	size := h.Get("X-Linked-Size")
	if size == "" && resp.StatusCode < 300 {
		size = h.Get("Content-Length")
	}
	m.Size, _ = strconv.ParseInt(size, 10, 64)
	return m
}

func normalizeETag(s string) string {
	return strings.Trim(strings.TrimPrefix(strings.TrimSpace(s), "W/"), `"`)
}
