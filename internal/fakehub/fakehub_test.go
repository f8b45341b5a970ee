package fakehub

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const token = "hf_fakehubTestTokenAAAAAAAAAAAAAAAAAA"

// newServer serves a folder with a few repositories.
func newServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	opts.Tokens = append(opts.Tokens, token)
	opts.Rescan = time.Hour
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(h, "", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	must(t, h.Upload("models", "acme/tiny", map[string][]byte{
		"config.json":         []byte(`{"model_type":"bert"}`),
		"weights.safetensors": []byte("0123456789abcdef"),
		"sub/dir/notes.txt":   []byte("hello"),
	}))
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, method, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestInfoShapes(t *testing.T) {
	s := newServer(t, Options{})
	resp, body := get(t, "GET", s.URL+"/api/models/acme/tiny?blobs=true", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("info: %s %s", resp.Status, body)
	}
	var info struct {
		ID, SHA, LastModified string
		Siblings              []struct {
			RFilename string `json:"rfilename"`
			Size      int64
			BlobID    string `json:"blobId"`
			LFS       *struct {
				SHA256      string `json:"sha256"`
				Size        int64
				PointerSize int64 `json:"pointerSize"`
			}
		}
	}
	must(t, json.Unmarshal(body, &info))
	if info.ID != "acme/tiny" || len(info.SHA) != 40 || info.SHA != s.Hub.Commit("models", "acme/tiny") {
		t.Errorf("info id/sha: %+v", info)
	}
	if len(info.Siblings) != 3 {
		t.Fatalf("siblings: %+v", info.Siblings)
	}
	for _, sb := range info.Siblings {
		switch sb.RFilename {
		case "weights.safetensors":
			if sb.LFS == nil || len(sb.LFS.SHA256) != 64 || sb.LFS.Size != 16 || sb.LFS.PointerSize == 0 {
				t.Errorf("LFS sibling lacks sha256/size: %+v", sb)
			}
		case "config.json":
			if sb.LFS != nil || len(sb.BlobID) != 40 {
				t.Errorf("regular sibling: %+v", sb)
			}
		}
	}
	// The same commit by sha, and HEAD as the JS client asks for.
	for _, rev := range []string{info.SHA, "HEAD", "main"} {
		if resp, _ := get(t, "GET", s.URL+"/api/models/acme/tiny/revision/"+rev, nil); resp.StatusCode != 200 {
			t.Errorf("revision %s: %s", rev, resp.Status)
		}
	}
	resp, _ = get(t, "GET", s.URL+"/api/models/acme/tiny/revision/nope", nil)
	if resp.StatusCode != 404 || resp.Header.Get("X-Error-Code") != "RevisionNotFound" {
		t.Errorf("bad revision: %s %q", resp.Status, resp.Header.Get("X-Error-Code"))
	}
}

func TestTreeShapesAndPagination(t *testing.T) {
	s := newServer(t, Options{TreePageSize: 2})
	var all []map[string]any
	url := s.URL + "/api/models/acme/tiny/tree/main?recursive=true"
	pages := 0
	for url != "" {
		resp, body := get(t, "GET", url, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("tree: %s %s", resp.Status, body)
		}
		var page []map[string]any
		must(t, json.Unmarshal(body, &page))
		all = append(all, page...)
		pages++
		url = ""
		if l := resp.Header.Get("Link"); l != "" {
			url = l[strings.Index(l, "<")+1 : strings.Index(l, ">")]
		}
	}
	if pages != 3 || len(all) != 5 {
		t.Fatalf("got %d entries over %d pages, want 5 (3 files, 2 folders) over 3", len(all), pages)
	}
	for _, e := range all {
		if e["path"] == "weights.safetensors" {
			lfs, _ := e["lfs"].(map[string]any)
			if lfs == nil || len(lfs["oid"].(string)) != 64 {
				t.Errorf("tree LFS entry must carry lfs.oid (sha256): %v", e)
			}
		}
	}
	resp, body := get(t, "GET", s.URL+"/api/models/acme/tiny/tree/main/sub", nil)
	var sub []map[string]any
	must(t, json.Unmarshal(body, &sub))
	if resp.StatusCode != 200 || len(sub) != 1 || sub[0]["type"] != "directory" || sub[0]["path"] != "sub/dir" {
		t.Errorf("non-recursive subfolder listing: %s %v", resp.Status, sub)
	}
}

func TestResolveRedirectsLFSToCDNWithRange(t *testing.T) {
	s := newServer(t, Options{})
	resp, _ := get(t, "HEAD", s.URL+"/acme/tiny/resolve/main/weights.safetensors", nil)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("LFS resolve: %s", resp.Status)
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, s.CDNURL+"/cdn/") || resp.Header.Get("X-Linked-Size") != "16" ||
		len(strings.Trim(resp.Header.Get("X-Linked-Etag"), `"`)) != 64 || resp.Header.Get("X-Repo-Commit") == "" {
		t.Errorf("LFS resolve headers: %v", resp.Header)
	}
	resp, body := get(t, "GET", loc, map[string]string{"Range": "bytes=4-7"})
	if resp.StatusCode != http.StatusPartialContent || string(body) != "4567" || resp.Header.Get("Content-Range") != "bytes 4-7/16" {
		t.Errorf("CDN range: %s %q %q", resp.Status, body, resp.Header.Get("Content-Range"))
	}
	if st := s.Hub.Stats(); st.CDNBytes != 4 {
		t.Errorf("CDN byte counter: %+v, want the 4 bytes served", st)
	}
	resp, _ = get(t, "GET", loc+"x", nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("tampered CDN signature: %s", resp.Status)
	}
	resp, body = get(t, "GET", s.URL+"/acme/tiny/resolve/main/sub/dir/notes.txt", map[string]string{"Range": "bytes=1-"})
	if resp.StatusCode != http.StatusPartialContent || string(body) != "ello" || resp.Header.Get("ETag") == "" {
		t.Errorf("regular file range: %s %q", resp.Status, body)
	}
	resp, _ = get(t, "GET", s.URL+"/acme/tiny/resolve/main/missing.bin", nil)
	if resp.StatusCode != 404 || resp.Header.Get("X-Error-Code") != "EntryNotFound" {
		t.Errorf("missing file: %s %v", resp.Status, resp.Header)
	}
}

func TestGatedAndPrivate(t *testing.T) {
	s := newServer(t, Options{Tokens: []string{"hf_other"}})
	must(t, s.Hub.Upload("models", "acme/gated", map[string][]byte{"a.txt": []byte("x")}))
	must(t, s.Hub.Configure("models", "acme/gated", Settings{Gated: "manual", Granted: []string{token}}))
	must(t, s.Hub.Upload("models", "acme/secret", map[string][]byte{"a.txt": []byte("x")}))
	must(t, s.Hub.Configure("models", "acme/secret", Settings{Private: true}))

	cases := []struct {
		url, tok string
		status   int
		code     string
	}{
		{"/api/models/acme/gated", "", 200, ""}, // info is public
		{"/acme/gated/resolve/main/a.txt", "", 401, "GatedRepo"},
		{"/acme/gated/resolve/main/a.txt", "hf_other", 403, "GatedRepo"},
		{"/acme/gated/resolve/main/a.txt", token, 200, ""},
		{"/api/models/acme/secret", "", 401, "RepoNotFound"},
		{"/api/models/acme/secret", token, 200, ""},
		{"/api/models/acme/nothing", "", 401, "RepoNotFound"},
		{"/api/models/acme/nothing", token, 404, "RepoNotFound"},
		{"/api/models/acme/tiny", "hf_wrong", 401, ""},
	}
	for _, c := range cases {
		hdr := map[string]string{}
		if c.tok != "" {
			hdr["Authorization"] = "Bearer " + c.tok
		}
		resp, body := get(t, "GET", s.URL+c.url, hdr)
		if resp.StatusCode != c.status || resp.Header.Get("X-Error-Code") != c.code {
			t.Errorf("%s (token %q): %s %q, want %d %q; %s", c.url, c.tok, resp.Status, resp.Header.Get("X-Error-Code"), c.status, c.code, body)
		}
	}
	// Private repositories are listed only with a token.
	_, body := get(t, "GET", s.URL+"/api/models?author=acme", nil)
	if strings.Contains(string(body), "acme/secret") {
		t.Errorf("private repo listed without a token: %s", body)
	}
}

func TestListingNewestFirstWithCursor(t *testing.T) {
	s := newServer(t, Options{})
	for _, id := range []string{"acme/a", "acme/b", "acme/c"} {
		must(t, s.Hub.Upload("models", id, map[string][]byte{"README.md": []byte(id)}))
	}
	ids := listIDs(t, s.URL+"/api/models?sort=lastModified&limit=2&expand=lastModified&expand=sha")
	want := []string{"acme/c", "acme/b", "acme/a", "acme/tiny"}
	if strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Fatalf("listing order %v, want %v", ids, want)
	}
	// A new upload to an old repository makes it the newest.
	before := s.Hub.Commit("models", "acme/a")
	must(t, s.Hub.Upload("models", "acme/a", map[string][]byte{"pytorch_model.bin": []byte("new")}))
	if s.Hub.Commit("models", "acme/a") == before {
		t.Fatal("an upload did not make a new commit")
	}
	if ids := listIDs(t, s.URL+"/api/models?limit=1"); ids[0] != "acme/a" {
		t.Errorf("after an upload the newest is %v", ids)
	}
	// The old commit is still served while its files are unchanged.
	if resp, _ := get(t, "GET", s.URL+"/acme/a/resolve/"+before+"/README.md", nil); resp.StatusCode != 200 {
		t.Errorf("old commit: %s", resp.Status)
	}
}

func listIDs(t *testing.T, url string) []string {
	var ids []string
	for url != "" {
		resp, body := get(t, "GET", url, nil)
		var page []struct {
			ID           string `json:"id"`
			LastModified string `json:"lastModified"`
		}
		must(t, json.Unmarshal(body, &page))
		for _, p := range page {
			ids = append(ids, p.ID)
		}
		url = ""
		if l := resp.Header.Get("Link"); l != "" {
			url = l[strings.Index(l, "<")+1 : strings.Index(l, ">")]
		}
	}
	return ids
}

func TestRateLimit(t *testing.T) {
	s := newServer(t, Options{})
	s.Hub.SetRateLimit("api", 2, time.Minute)
	for i := range 3 {
		resp, _ := get(t, "GET", s.URL+"/api/models/acme/tiny", nil)
		if i < 2 && resp.StatusCode != 200 {
			t.Fatalf("request %d: %s", i, resp.Status)
		}
		if i == 2 {
			if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" ||
				!strings.HasPrefix(resp.Header.Get("RateLimit"), `"api";r=0;t=`) ||
				resp.Header.Get("RateLimit-Policy") != `"fixed window";"api";q=2;w=60` {
				t.Errorf("429 headers: %s %v", resp.Status, resp.Header)
			}
		}
	}
	// Resolvers are a separate bucket.
	if resp, _ := get(t, "GET", s.URL+"/acme/tiny/resolve/main/config.json", nil); resp.StatusCode != 200 {
		t.Errorf("resolve limited by the api bucket: %s", resp.Status)
	}
}

func TestDiskChangesAppearOnRefresh(t *testing.T) {
	dir := t.TempDir()
	s := newServer(t, Options{Dir: dir})
	must(t, os.MkdirAll(filepath.Join(dir, "datasets", "acme", "data"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "datasets", "acme", "data", "train.csv"), []byte("a,b\n"), 0o644))
	must(t, s.Hub.Refresh())
	resp, body := get(t, "GET", s.URL+"/datasets/acme/data/resolve/main/train.csv", nil)
	if resp.StatusCode != 200 || string(body) != "a,b\n" {
		t.Errorf("dataset file: %s %q", resp.Status, body)
	}
	if ids := listIDs(t, s.URL+"/api/datasets"); len(ids) != 1 || ids[0] != "acme/data" {
		t.Errorf("dataset listing: %v", ids)
	}
	if ids := listIDs(t, s.URL+"/api/models"); strings.Contains(strings.Join(ids, ","), "datasets") {
		t.Errorf("the datasets folder was taken for an organisation: %v", ids)
	}
}

func TestOnlyLoopback(t *testing.T) {
	h, err := New(Options{Dir: t.TempDir()})
	must(t, err)
	if _, err := Start(h, "0.0.0.0:0", ""); err == nil {
		t.Fatal("the fake hub listened on a non-loopback address")
	}
}
