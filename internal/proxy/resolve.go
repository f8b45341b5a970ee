package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"modelgate/internal/gate"
	"modelgate/internal/gatehub"
	"modelgate/internal/hub"
	"modelgate/internal/store"
)

// fileMeta is what the upstream hub says about a file at a revision.
type fileMeta struct {
	commit string
	// etag is the upstream's: the sha256 of an LFS file, the git blob id
	// of another.
	etag   string
	sha256 string // listed content hash (LFS files), or computed
	gitOID string // git blob id (regular files)
	size   int64
	lfs    bool
}

// resolve serves one download: metadata from the upstream, the tenant's
// verdict (scanning now if there is none), then 403 or the bytes.
func (p *Proxy) resolve(w http.ResponseWriter, r *http.Request, tenant string, ref hub.Ref, rev, path string) {
	ctx := r.Context()
	m, err := p.c.Head(ctx, ref.At(rev), path)
	if err != nil {
		upstreamError(w, r, err)
		return
	}
	fm := fileMeta{commit: strings.ToLower(m.Commit), etag: m.ETag, size: m.Size}
	if !hub.IsCommit(fm.commit) || fm.size < 0 {
		hubError(w, r, http.StatusBadGateway, codeUnverifiable, "",
			"the upstream hub did not say which commit the revision is (X-Repo-Commit) or how large the file is", nil)
		return
	}
	switch {
	case isHex(m.ETag, 64):
		fm.sha256, fm.lfs = strings.ToLower(m.ETag), true
	case isHex(m.ETag, 40):
		fm.gitOID = strings.ToLower(m.ETag)
	}
	pinned := ref.At(fm.commit)
	var sp *spool
	if fm.sha256 == "" {
		// No content hash is listed: read the file (small: the hub keeps
		// large files in LFS), hash it, and judge and serve exactly
		// those bytes.
		if sp, err = p.spool(ctx, pinned, path, fm); err != nil {
			p.spoolFailed(w, r, err)
			return
		}
		defer sp.Close()
		fm.sha256 = sp.sha
	}
	obs := store.Observation{Tenant: tenant, SHA256: fm.sha256, Source: store.SourceProxy, Hub: p.c.Endpoint(),
		Repo: gatehub.RepoName(ref), Revision: fm.commit, Path: path}
	v, judged, err := p.verdict(ctx, obs, fm, sp)
	if err != nil {
		if r.Context().Err() != nil {
			return
		}
		var he *hub.Error
		if errors.As(err, &he) {
			upstreamError(w, r, err)
			return
		}
		p.log.Warn("proxy: file could not be judged", "tenant", tenant, "repo", obs.Repo, "path", path, "error", err)
		hubError(w, r, http.StatusBadGateway, codeUnavailable, "",
			"the file could not be read from the upstream hub to be judged, so it is refused: "+err.Error(), nil)
		return
	}
	if !judged && (r.Method == http.MethodGet || v.Decision != store.Allow) {
		if err := p.g.Store().Observe(ctx, obs); err != nil {
			p.log.Warn("proxy: observation not recorded", "error", err)
		}
	}
	p.met.downloads.WithLabelValues(string(v.Decision), r.Method).Inc()
	if v.Decision != store.Allow {
		p.block(w, r, tenant, obs, v)
		return
	}
	h := w.Header()
	h.Set("X-Repo-Commit", fm.commit)
	etag := fm.etag
	if etag == "" {
		etag = fm.sha256
	}
	h.Set("ETag", `"`+etag+`"`)
	if fm.lfs {
		h.Set("X-Linked-Etag", `"`+fm.sha256+`"`)
		h.Set("X-Linked-Size", strconv.FormatInt(fm.size, 10))
	}
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Type", "application/octet-stream")
	// The answer depends on the tenant (its policy) and may change with
	// it: no shared cache may keep it.
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Modelgate-Decision", string(v.Decision))
	h.Set("X-Modelgate-Scan-Id", strconv.FormatInt(v.ID, 10))
	h.Set("X-Modelgate-Sha256", fm.sha256)
	if sp != nil {
		// The bytes in hand are the bytes judged.
		cw := &countingWriter{ResponseWriter: w}
		http.ServeContent(cw, r, "", time.Time{}, io.NewSectionReader(sp, 0, sp.size))
		p.met.bytes.Add(float64(cw.n))
		return
	}
	p.stream(w, r, pinned, path, fm)
}

// verdict returns the tenant's current verdict for the content, judging
// it now (scanned with Range reads through the hub client) if there is
// none; judged says so, and that the observation was recorded with it.
func (p *Proxy) verdict(ctx context.Context, obs store.Observation, fm fileMeta, sp *spool) (*store.Verdict, bool, error) {
	v, fr, err := p.g.Lookup(ctx, obs.Tenant, fm.sha256)
	if err == nil && fr == store.Current {
		return v, false, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, false, err
	}
	// The scan finishes even if the client hangs up: its retry will find
	// the verdict.
	jctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.JudgeTimeout)
	defer cancel()
	req := gate.JudgeRequest{Tenant: obs.Tenant, Repo: obs.Repo, Commit: obs.Revision, Source: store.SourceProxy,
		File: gate.RemoteFile{Path: obs.Path, Size: fm.size, SHA256: fm.sha256, GitOID: fm.gitOID}}
	if sp != nil {
		req.Content = sp
	}
	v, _, err = p.g.JudgeFile(jctx, req)
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

// block answers 403 for a denied file, with the reasons.
func (p *Proxy) block(w http.ResponseWriter, r *http.Request, tenant string, obs store.Observation, v *store.Verdict) {
	pol, err := p.g.TenantPolicy(r.Context(), tenant)
	if err != nil {
		p.internal(w, r, err)
		return
	}
	reasons := gate.Reasons(v, obs.Path, pol.Threshold)
	msg := fmt.Sprintf("modelgate blocked %s in %s@%s: its verdict is %s", obs.Path, obs.Repo, obs.Revision, v.Decision)
	if len(reasons) > 0 {
		msg += fmt.Sprintf(" (%s %s: %s)", reasons[0].Severity, reasons[0].Rule, reasons[0].Message)
	}
	p.log.LogAttrs(r.Context(), slog.LevelInfo, "proxy: download blocked", slog.String("tenant", tenant),
		slog.String("repo", obs.Repo), slog.String("revision", obs.Revision), slog.String("path", obs.Path),
		slog.String("sha256", v.SHA256), slog.Int64("scan_id", v.ID))
	hubError(w, r, http.StatusForbidden, codeBlocked, XErrorBlocked, msg, map[string]any{
		"decision": v.Decision, "sha256": v.SHA256, "scan_id": v.ID, "repo": obs.Repo, "revision": obs.Revision,
		"path": obs.Path, "reasons": reasons,
	})
}

// stream serves an LFS file from the upstream while hashing it. The bytes
// asked for are sent as they arrive, except the very last one, which is
// sent only once the whole file has been read and its sha256 matched the
// verdict's. On a mismatch (or an upstream failure) the response is cut
// off, so the client sees a broken transfer and never a complete file.
// A Range request is served the same way: the whole file is read and
// hashed, and only the range is sent.
func (p *Proxy) stream(w http.ResponseWriter, r *http.Request, ref hub.Ref, path string, fm fileMeta) {
	start, end, partial, ok := parseRange(r, fm)
	if !ok {
		w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(fm.size, 10))
		hubError(w, r, http.StatusRequestedRangeNotSatisfiable, codeInvalidRange, "", "the range is outside the file", nil)
		return
	}
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, fm.size))
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Length", strconv.FormatInt(end-start+1, 10))
		w.WriteHeader(status)
		return
	}
	fill, finish, served := p.fromCache(w, r, fm)
	if served {
		return
	}
	stored := false
	defer func() {
		if finish != nil {
			finish(stored)
		}
	}()
	w.Header().Set("Content-Length", strconv.FormatInt(end-start+1, 10))
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	body, n, err := p.c.Download(ctx, ref, path)
	if err != nil {
		upstreamError(w, r, err)
		return
	}
	defer body.Close()
	if n >= 0 && n != fm.size {
		hubError(w, r, http.StatusBadGateway, codeUnverifiable, "",
			fmt.Sprintf("the upstream serves %d bytes where it listed %d", n, fm.size), nil)
		return
	}
	w.WriteHeader(status)
	rc := http.NewResponseController(w)
	rc.Flush() // the client learns the answer before the bytes come
	idle := time.AfterFunc(p.opts.IdleTimeout, cancel)
	defer idle.Stop()
	h := sha256.New()
	buf := make([]byte, 256<<10)
	var off, sent int64
	var held []byte
	for {
		idle.Reset(p.opts.IdleTimeout)
		k, rerr := body.Read(buf)
		if k > 0 {
			chunk := buf[:k]
			h.Write(chunk)
			if fill != nil {
				if _, err := fill.Write(chunk); err != nil {
					p.log.Warn("proxy: blob cache write failed", "error", err)
					finish(false)
					fill, finish = nil, nil
				}
			}
			// Send what lies in [start, end), holding back byte end.
			if lo, hi := max(start, off), min(end, off+int64(k)); lo < hi {
				if _, err := w.Write(chunk[lo-off : hi-off]); err != nil {
					return // the client went away
				}
				sent += hi - lo
			}
			if off <= end && end < off+int64(k) {
				held = []byte{chunk[end-off]}
			}
			off += int64(k)
			if off > fm.size {
				p.abort(r, rc, "mismatch", ref, path, fmt.Errorf("the upstream sent more than the listed %d bytes", fm.size))
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			p.abort(r, rc, "upstream", ref, path, rerr)
		}
	}
	if got := hex.EncodeToString(h.Sum(nil)); off != fm.size || got != fm.sha256 {
		p.abort(r, rc, "mismatch", ref, path, fmt.Errorf("the upstream's %d bytes hash to %s, the verdict is for %s (%d bytes)", off, got, fm.sha256, fm.size))
	}
	// Verified: the whole file is kept for the next requests.
	stored = fill != nil
	if stored {
		p.met.blobs.WithLabelValues("stored").Inc()
	}
	if held != nil {
		if _, err := w.Write(held); err != nil {
			return
		}
		sent++
	}
	p.met.bytes.Add(float64(sent))
}

// fromCache serves an allowed file from the blob cache when it holds it
// (served). Otherwise, when the file may be cached, it returns a
// temporary file to copy the upstream's bytes into and the function that
// keeps them once verified; a concurrent request for the same content
// waits for that copy and is then served from the cache.
func (p *Proxy) fromCache(w http.ResponseWriter, r *http.Request, fm fileMeta) (*os.File, func(bool), bool) {
	if p.blobs == nil {
		return nil, nil, false
	}
	for {
		if f := p.blobs.open(fm.sha256, fm.size); f != nil {
			defer f.Close()
			p.met.blobs.WithLabelValues("hit").Inc()
			cw := &countingWriter{ResponseWriter: w}
			http.ServeContent(cw, r, "", time.Time{}, f)
			p.met.bytes.Add(float64(cw.n))
			return nil, nil, true
		}
		if fm.size > p.blobs.max {
			p.met.blobs.WithLabelValues("miss").Inc()
			return nil, nil, false
		}
		f, finish, err := p.blobs.claim(r.Context(), fm.sha256, fm.size)
		switch {
		case err != nil:
			if r.Context().Err() == nil {
				p.log.Warn("proxy: blob cache unavailable", "error", err)
			}
			p.met.blobs.WithLabelValues("miss").Inc()
			return nil, nil, false
		case f != nil:
			return f, finish, false
		}
		// Another request's fill ended: look in the cache again.
	}
}

// abort cuts the response off: what was sent so far (never the last
// byte) is flushed, then the connection is closed, so the client sees a
// broken transfer.
func (p *Proxy) abort(r *http.Request, rc *http.ResponseController, reason string, ref hub.Ref, path string, err error) {
	rc.Flush()
	p.met.aborted.WithLabelValues(reason).Inc()
	level := slog.LevelWarn
	if reason == "mismatch" {
		level = slog.LevelError
	}
	p.log.Log(r.Context(), level, "proxy: download cut off", "reason", reason, "repo", ref.String(), "path", path, "error", err)
	panic(http.ErrAbortHandler)
}

const codeInvalidRange = "range_not_satisfiable"

// countingWriter counts body bytes written.
type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

// parseRange reads a single-range Range header against the file. A
// multi-range request, or an If-Range that does not match, gets the
// whole file (RFC 9110 lets a server ignore Range).
func parseRange(r *http.Request, fm fileMeta) (start, end int64, partial, ok bool) {
	full := func() (int64, int64, bool, bool) { return 0, fm.size - 1, false, true }
	spec := r.Header.Get("Range")
	if spec == "" || fm.size == 0 {
		return full()
	}
	if ir := r.Header.Get("If-Range"); ir != "" && strings.Trim(strings.TrimPrefix(ir, "W/"), `"`) != fm.etag {
		return full()
	}
	rest, found := strings.CutPrefix(strings.TrimSpace(spec), "bytes=")
	if !found || strings.Contains(rest, ",") {
		return full()
	}
	a, b, found := strings.Cut(strings.TrimSpace(rest), "-")
	if !found {
		return full()
	}
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return full()
		}
		if n == 0 {
			return 0, 0, false, false
		}
		return max(fm.size-n, 0), fm.size - 1, true, true
	}
	s, err := strconv.ParseInt(a, 10, 64)
	if err != nil || s < 0 {
		return full()
	}
	e := fm.size - 1
	if b != "" {
		if e, err = strconv.ParseInt(b, 10, 64); err != nil || e < s {
			return full()
		}
	}
	if s >= fm.size {
		return 0, 0, false, false
	}
	return s, min(e, fm.size-1), true, true
}

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
