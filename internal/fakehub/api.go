package fakehub

import (
	"cmp"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// view is a repository as one request sees it: immutable once taken.
type view struct {
	typ, id   string
	settings  Settings
	createdAt time.Time
	snap      *snapshot
	bySHA     map[string]*snapshot
	history   []*snapshot
}

func (h *Hub) viewOf(key string) (view, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.repos[key]
	if r == nil || r.cur == nil {
		return view{}, false
	}
	return view{typ: r.typ, id: r.id, settings: r.settings, createdAt: r.createdAt, snap: r.cur,
		bySHA: r.bySHA, history: slices.Clone(r.history)}, true
}

// revision resolves a revision name: the default branch ("main", "HEAD",
// "refs/heads/main") or a full commit sha.
func (v view) revision(rev string) *snapshot {
	switch rev {
	case "", "main", "HEAD", "refs/heads/main":
		return v.snap
	}
	if len(rev) == 40 {
		if s, ok := v.bySHA[strings.ToLower(rev)]; ok {
			return s
		}
	}
	return nil
}

func (v view) owner() string { org, _, _ := strings.Cut(v.id, "/"); return org }

// singular is "model", "dataset" or "space".
func singular(typ string) string { return strings.TrimSuffix(typ, "s") }

func hubError(w http.ResponseWriter, status int, code, msg string) {
	if code != "" {
		w.Header().Set("X-Error-Code", code)
	}
	w.Header().Set("X-Error-Message", msg)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(v)
}

func jsonMarshal(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }

// access decides whether a request may see a repository; it writes the
// error answer and returns false if not. content is true for downloads,
// which gated repositories refuse without a granted token.
func (h *Hub) access(w http.ResponseWriter, v view, found bool, tok string, content bool) bool {
	if !found || (v.settings.Private && tok == "") {
		status := http.StatusNotFound
		if tok == "" {
			status = http.StatusUnauthorized // the hub does not say whether it exists
		}
		hubError(w, status, "RepoNotFound", "Repository not found")
		return false
	}
	if content && v.settings.Gated != "" {
		what := singular(v.typ) + " " + v.id
		if tok == "" {
			hubError(w, http.StatusUnauthorized, "GatedRepo", "Access to "+what+" is restricted. You must have access to it and be authenticated to access it. Please log in.")
			return false
		}
		if len(v.settings.Granted) > 0 && !slices.Contains(v.settings.Granted, tok) {
			hubError(w, http.StatusForbidden, "GatedRepo", "Access to "+what+" is restricted and you are not in the authorized list. Visit the repository page to ask for access.")
			return false
		}
	}
	return true
}

// serveAPIPath routes /api/… (segments after "api", unescaped).
func (h *Hub) serveAPIPath(w http.ResponseWriter, r *http.Request, segs []string, tok string) {
	if len(segs) == 1 && segs[0] == "whoami-v2" {
		if tok == "" {
			hubError(w, http.StatusUnauthorized, "", "Invalid credentials in Authorization header")
			return
		}
		writeJSON(w, map[string]any{"type": "user", "name": "fakehub-user", "auth": map[string]any{"type": "access_token"}})
		return
	}
	if len(segs) == 0 || (segs[0] != "models" && segs[0] != "datasets" && segs[0] != "spaces") {
		hubError(w, http.StatusNotFound, "", "Sorry, we can't find the page you are looking for.")
		return
	}
	typ := segs[0]
	if len(segs) == 1 {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			hubError(w, http.StatusMethodNotAllowed, "", "method not allowed")
			return
		}
		h.serveList(w, r, typ, tok)
		return
	}
	if len(segs) < 3 {
		hubError(w, http.StatusNotFound, "RepoNotFound", "Repository not found")
		return
	}
	id := segs[1] + "/" + segs[2]
	v, found := h.viewOf(typ + "/" + id)
	if !h.access(w, v, found, tok, false) {
		return
	}
	rest := segs[3:]
	op := ""
	if len(rest) > 0 {
		op = rest[0]
	}
	rev := "main"
	if len(rest) > 1 {
		rev = rest[1]
	}
	snap := v.snap
	if op != "" && op != "refs" {
		if snap = v.revision(rev); snap == nil {
			hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
			return
		}
	}
	switch {
	case op == "" && len(rest) == 0, op == "revision" && len(rest) == 2:
		writeJSON(w, h.repoJSON(v, snap, selectFields(r.URL.Query(), true), r.URL.Query().Get("blobs") == "true"))
	case op == "tree" && len(rest) >= 2:
		h.serveTree(w, r, v, snap, strings.Join(rest[2:], "/"))
	case op == "paths-info" && len(rest) == 2 && r.Method == http.MethodPost:
		h.servePathsInfo(w, r, v, snap)
	case op == "refs" && len(rest) == 1:
		writeJSON(w, map[string]any{
			"branches": []any{map[string]any{"name": "main", "ref": "refs/heads/main", "targetCommit": v.snap.sha}},
			"tags":     []any{}, "converts": []any{},
		})
	case op == "commits" && len(rest) == 2:
		h.serveCommits(w, v, snap)
	default:
		hubError(w, http.StatusNotFound, "", "Sorry, we can't find the page you are looking for.")
	}
}

// fields selects the properties of a repository answer.
type fields struct {
	all  bool
	only map[string]bool // with expand: these plus id and _id
}

var defaultListFields = map[string]bool{"likes": true, "downloads": true, "trendingScore": true, "private": true,
	"tags": true, "pipeline_tag": true, "library_name": true, "createdAt": true, "modelId": true}

func selectFields(q url.Values, info bool) fields {
	if ex := q["expand"]; len(ex) > 0 {
		f := fields{only: map[string]bool{}}
		for _, e := range ex {
			f.only[strings.TrimSuffix(e, "[]")] = true
		}
		return f
	}
	if info || q.Get("full") == "true" || q.Get("full") == "True" {
		return fields{all: true}
	}
	return fields{only: defaultListFields}
}

func (f fields) has(k string) bool { return f.all || f.only[k] }

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func objectID(typ, id string) string {
	s := sha1.Sum([]byte(typ + "/" + id))
	return hex.EncodeToString(s[:12])
}

// repoJSON is a repository as the info and listing endpoints show it.
func (h *Hub) repoJSON(v view, snap *snapshot, f fields, blobs bool) map[string]any {
	m := map[string]any{"_id": objectID(v.typ, v.id), "id": v.id}
	var gated any = false
	if v.settings.Gated != "" {
		gated = v.settings.Gated
	}
	tags := v.settings.Tags
	if tags == nil {
		tags = []string{}
	}
	props := map[string]any{
		"author": v.owner(), "sha": snap.sha, "lastModified": stamp(snap.lastModified), "createdAt": stamp(v.createdAt),
		"private": v.settings.Private, "gated": gated, "disabled": v.settings.Disabled,
		"downloads": 0, "likes": 0, "trendingScore": 0, "tags": tags,
	}
	if v.typ == "models" {
		props["modelId"] = v.id
		if v.settings.PipelineTag != "" {
			props["pipeline_tag"] = v.settings.PipelineTag
		}
		if v.settings.LibraryName != "" {
			props["library_name"] = v.settings.LibraryName
		}
	}
	for k, val := range props {
		if f.has(k) {
			m[k] = val
		}
	}
	if f.has("siblings") {
		sib := make([]any, 0, len(snap.files))
		for _, b := range snap.files {
			s := map[string]any{"rfilename": b.path}
			if blobs {
				s["size"], s["blobId"] = b.size, b.gitOID
				if b.lfs {
					s["lfs"] = map[string]any{"size": b.size, "sha256": b.sha256, "pointerSize": b.pointer}
				}
			}
			sib = append(sib, s)
		}
		m["siblings"] = sib
	}
	return m
}

// cursor is where a listing page ends: the sort key and id of its last item.
type cursor struct {
	Key int64  `json:"k"`
	ID  string `json:"id"`
}

func (h *Hub) serveList(w http.ResponseWriter, r *http.Request, typ, tok string) {
	q := r.URL.Query()
	sortBy := q.Get("sort")
	author, search := q.Get("author"), strings.ToLower(q.Get("search"))
	var views []view
	h.mu.Lock()
	keys := make([]string, 0, len(h.repos))
	for k, rp := range h.repos {
		if rp.typ == typ && rp.cur != nil {
			keys = append(keys, k)
		}
	}
	h.mu.Unlock()
	for _, k := range keys {
		v, ok := h.viewOf(k)
		if !ok || (v.settings.Private && tok == "") {
			continue
		}
		if author != "" && !strings.EqualFold(v.owner(), author) {
			continue
		}
		if search != "" && !strings.Contains(strings.ToLower(v.id), search) {
			continue
		}
		if !hasAll(v, q["filter"]) || (q.Get("pipeline_tag") != "" && q.Get("pipeline_tag") != v.settings.PipelineTag) {
			continue
		}
		views = append(views, v)
	}
	key := func(v view) int64 {
		switch sortBy {
		case "createdAt":
			return v.createdAt.UnixMilli()
		case "", "lastModified":
			return v.snap.lastModified.UnixMilli()
		}
		return 0 // downloads, likes, …: all zero here
	}
	slices.SortFunc(views, func(a, b view) int {
		if c := cmp.Compare(key(b), key(a)); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	if c := q.Get("cursor"); c != "" {
		var cur cursor
		raw, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || json.Unmarshal(raw, &cur) != nil {
			hubError(w, http.StatusBadRequest, "", "Invalid cursor")
			return
		}
		i := slices.IndexFunc(views, func(v view) bool {
			k := key(v)
			return k < cur.Key || (k == cur.Key && v.id > cur.ID)
		})
		if i < 0 {
			i = len(views)
		}
		views = views[i:]
	}
	page := h.opts.PageSize
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 && n < page {
		page = n
	}
	if len(views) > page {
		last := views[page-1]
		raw, _ := json.Marshal(cursor{Key: key(last), ID: last.id})
		nq := url.Values{}
		for k, vs := range q {
			nq[k] = vs
		}
		nq.Set("cursor", base64.RawURLEncoding.EncodeToString(raw))
		w.Header().Set("Link", "<http://"+r.Host+r.URL.Path+"?"+nq.Encode()+`>; rel="next"`)
		views = views[:page]
	}
	f := selectFields(q, false)
	out := make([]any, 0, len(views))
	for _, v := range views {
		out = append(out, h.repoJSON(v, v.snap, f, false))
	}
	writeJSON(w, out)
}

func hasAll(v view, tags []string) bool {
	for _, t := range tags {
		if !slices.Contains(v.settings.Tags, t) && t != v.settings.LibraryName {
			return false
		}
	}
	return true
}
