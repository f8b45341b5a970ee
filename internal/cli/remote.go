package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"modelgate/internal/hub"
	"modelgate/internal/hubsource"
	"modelgate/internal/report"
	"modelgate/internal/scan"
	"modelgate/internal/verdictcache"
)

// remote sets up hub access for hf:// targets: one client (and so one
// block cache and one byte counter) for every target of a run.
type remote struct {
	env    Env
	quiet  bool
	client *hub.Client
	token  bool
}

func newRemote(env Env, quiet bool) *remote { return &remote{env: env, quiet: quiet} }

// source returns the scan source of an hf:// target.
func (r *remote) source(target string) (scan.Source, error) {
	ref, err := hub.ParseRef(target)
	if err != nil {
		return nil, err
	}
	if r.client == nil {
		cfg, err := hub.FromEnv(r.env.Getenv)
		if err != nil {
			return nil, err
		}
		if r.client, err = hub.New(cfg); err != nil {
			return nil, err
		}
		r.token = cfg.Token != ""
	}
	return &hubsource.Source{Client: r.client, Ref: ref, HasToken: r.token, Resolved: r.resolved}, nil
}

func (r *remote) resolved(res hubsource.Resolution) {
	if r.quiet {
		return
	}
	rev := res.Ref.Revision
	if rev == "" {
		rev = "main"
	}
	files := "files"
	if res.Files == 1 {
		files = "file"
	}
	fmt.Fprintf(r.env.Stderr, "modelgate: %s: %s is commit %s (%d %s, %s)\n", res.Ref.At(""), rev, res.Commit, res.Files, files, report.HumanBytes(res.Bytes))
}

// finish reports what was read from the hub.
func (r *remote) finish() {
	if r.client == nil || r.quiet {
		return
	}
	fmt.Fprintf(r.env.Stderr, "modelgate: read %s from %s in %d requests\n", report.HumanBytes(r.client.BytesRead()), r.client.Endpoint(), r.client.Requests())
}

// sourcesFor turns command-line targets into scan sources: local paths,
// and hf:// repositories through the hub.
func sourcesFor(paths []string, rm *remote) ([]scan.Source, error) {
	var local scan.Paths
	var out []scan.Source
	for _, p := range paths {
		switch {
		case hub.IsRef(p):
			src, err := rm.source(p)
			if err != nil {
				return nil, err
			}
			out = append(out, src)
		case strings.Contains(p, "://"):
			return nil, fmt.Errorf("%s: only hf:// addresses and local paths can be scanned", p)
		default:
			local = append(local, p)
		}
	}
	if len(local) > 0 {
		out = append([]scan.Source{local}, out...)
	}
	return out, nil
}

func hasRemote(paths []string) bool {
	for _, p := range paths {
		if hub.IsRef(p) {
			return true
		}
	}
	return false
}

// openCache opens the verdict cache, or returns nil (no cache) when the
// environment names no cache folder or it cannot be created.
func openCache(env Env) scan.VerdictCache {
	dir := verdictcache.Dir(env.Getenv)
	if dir == "" {
		return nil
	}
	salt, err := buildID()
	if err != nil {
		return nil
	}
	c, err := verdictcache.Open(verdictcache.Options{Dir: dir, Salt: salt})
	if err != nil {
		fmt.Fprintln(env.Stderr, "modelgate: verdict cache disabled:", err)
		return nil
	}
	return c
}

// buildID hashes the running executable, so that a rebuilt modelgate
// never reuses verdicts of another build, even with the same version.
var buildID = sync.OnceValues(func() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	f, err := os.Open(exe)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
})
