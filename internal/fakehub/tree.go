package fakehub

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// entryJSON is a tree or paths-info item.
func (h *Hub) entryJSON(snap *snapshot, p string, expand bool) map[string]any {
	if b, ok := snap.byPath[p]; ok {
		m := map[string]any{"type": "file", "oid": b.gitOID, "size": b.size, "path": b.path}
		if b.lfs {
			m["lfs"] = map[string]any{"oid": b.sha256, "size": b.size, "pointerSize": b.pointer}
		}
		if expand {
			m["lastCommit"] = map[string]any{"id": snap.sha, "title": "Upload " + b.path, "date": stamp(snap.lastModified)}
			m["securityFileStatus"] = map[string]any{"status": "unscanned"}
		}
		return m
	}
	return map[string]any{"type": "directory", "oid": snap.treeOID(p), "size": 0, "path": p}
}

// children lists what is under dir: direct children, or every
// descendant (files and folders) when recursive.
func (snap *snapshot) children(dir string, recursive bool) []string {
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for d := range snap.dirs {
		if d != "" && strings.HasPrefix(d, prefix) && (recursive || !strings.Contains(d[len(prefix):], "/")) {
			add(d)
		}
	}
	for _, b := range snap.files {
		if strings.HasPrefix(b.path, prefix) && (recursive || !strings.Contains(b.path[len(prefix):], "/")) {
			add(b.path)
		}
	}
	slices.Sort(out)
	return out
}

func (h *Hub) serveTree(w http.ResponseWriter, r *http.Request, v view, snap *snapshot, dir string) {
	q := r.URL.Query()
	dir = strings.Trim(dir, "/")
	if !snap.dirs[dir] {
		hubError(w, http.StatusNotFound, "EntryNotFound", dir+" does not exist on \"main\"")
		return
	}
	expand := q.Get("expand") == "true"
	items := snap.children(dir, q.Get("recursive") == "true" || q.Get("recursive") == "True")
	page := h.opts.TreePageSize
	if expand {
		page = h.opts.TreeExpandPageSize
	}
	start := 0
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 || n > len(items) {
			hubError(w, http.StatusBadRequest, "", "Invalid cursor")
			return
		}
		start = n
	}
	end := min(start+page, len(items))
	if end < len(items) {
		nq := url.Values{}
		for k, vs := range q {
			nq[k] = vs
		}
		nq.Set("cursor", strconv.Itoa(end))
		w.Header().Set("Link", "<http://"+r.Host+r.URL.EscapedPath()+"?"+nq.Encode()+`>; rel="next"`)
	}
	out := make([]any, 0, end-start)
	for _, p := range items[start:end] {
		out = append(out, h.entryJSON(snap, p, expand))
	}
	writeJSON(w, out)
}

func (h *Hub) servePathsInfo(w http.ResponseWriter, r *http.Request, v view, snap *snapshot) {
	var req struct {
		Paths  []string `json:"paths"`
		Expand bool     `json:"expand"`
	}
	body := http.MaxBytesReader(w, r.Body, 1<<20)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		b, _ := io.ReadAll(body)
		if err := json.Unmarshal(b, &req); err != nil {
			hubError(w, http.StatusBadRequest, "", "Invalid JSON body")
			return
		}
	} else {
		r.Body = body
		if err := r.ParseForm(); err != nil {
			hubError(w, http.StatusBadRequest, "", "Invalid form body")
			return
		}
		req.Paths = r.PostForm["paths"]
		req.Expand = r.PostForm.Get("expand") == "true" || r.PostForm.Get("expand") == "True"
	}
	out := []any{}
	for _, p := range req.Paths {
		p = strings.Trim(p, "/")
		if _, ok := snap.byPath[p]; ok || (p != "" && snap.dirs[p]) {
			out = append(out, h.entryJSON(snap, p, req.Expand))
		}
	}
	writeJSON(w, out)
}

// serveCommits lists the commits up to snap, newest first.
func (h *Hub) serveCommits(w http.ResponseWriter, v view, snap *snapshot) {
	i := slices.Index(v.history, snap)
	out := []any{}
	for ; i >= 0; i-- {
		s := v.history[i]
		out = append(out, map[string]any{"id": s.sha, "title": "Update " + v.id, "message": "",
			"authors": []any{map[string]any{"user": v.owner()}}, "date": stamp(s.lastModified)})
	}
	writeJSON(w, out)
}
