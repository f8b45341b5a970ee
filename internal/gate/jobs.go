package gate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"modelgate/internal/store"
)

// Job kinds the gate's worker handles.
const (
	// KindScanFile scans one file of a repository revision (FileJob).
	KindScanFile = "scan.file"
	// KindScanRevision lists a repository revision and enqueues a
	// KindScanFile job for each file without a current verdict
	// (RevisionJob).
	KindScanRevision = "scan.revision"
)

// FileJob is the payload of a KindScanFile job.
type FileJob struct {
	Hub      string     `json:"hub"`
	Repo     string     `json:"repo"`
	Revision string     `json:"revision"` // a commit sha
	File     RemoteFile `json:"file"`
	// Source is recorded in the observation (default store.SourceWorker).
	Source store.Source `json:"source,omitempty"`
}

// RevisionJob is the payload of a KindScanRevision job.
type RevisionJob struct {
	Hub      string       `json:"hub"`
	Repo     string       `json:"repo"`
	Revision string       `json:"revision"` // a commit sha, or a branch to resolve
	Source   store.Source `json:"source,omitempty"`
	// Include, if set, keeps only files whose path or base name matches
	// one of these path.Match patterns (e.g. "*.bin"); others are not
	// scanned.
	Include []string `json:"include,omitempty"`
}

// Includes reports whether the job's Include patterns select a file.
func (j RevisionJob) Includes(p string) bool {
	if len(j.Include) == 0 {
		return true
	}
	for _, pat := range j.Include {
		if ok, _ := path.Match(pat, p); ok {
			return true
		}
		if ok, _ := path.Match(pat, path.Base(p)); ok {
			return true
		}
	}
	return false
}

// ValidPatterns checks Include patterns.
func ValidPatterns(pats []string) error {
	for _, p := range pats {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("%w: file pattern %q: %v", ErrInvalid, p, err)
		}
	}
	return nil
}

// FileJobKey is the idempotency key of a file scan: the content and the
// versions it is judged under, so a file already queued or scanned is not
// queued again, whichever repository it was seen in; content without a
// listed sha256 is keyed by where it is.
func FileJobKey(tenant string, v store.Versions, j FileJob) string {
	what := "sha256:" + j.File.SHA256
	if j.File.SHA256 == "" {
		what = "at:" + j.Hub + "/" + j.Repo + "@" + j.Revision + "/" + j.File.Path
	}
	return strings.Join([]string{KindScanFile, tenant, v.Scanner, v.Policy, what}, "|")
}

// RevisionJobKey is the idempotency key of a revision scan. Jobs with
// different Include patterns are different jobs.
func RevisionJobKey(tenant string, v store.Versions, j RevisionJob) string {
	parts := []string{KindScanRevision, tenant, v.Scanner, v.Policy, j.Hub + "/" + j.Repo + "@" + j.Revision}
	if len(j.Include) > 0 {
		h := sha256.Sum256([]byte(strings.Join(j.Include, "\x00")))
		parts = append(parts, "include:"+hex.EncodeToString(h[:8]))
	}
	return strings.Join(parts, "|")
}

// EnqueueFile queues a file scan for a tenant under the given versions
// (normally TenantPolicy's); it is idempotent (see FileJobKey).
func (g *Gate) EnqueueFile(ctx context.Context, tenant string, v store.Versions, j FileJob) (*store.Job, bool, error) {
	if g.opts.Queue == nil {
		return nil, false, errors.New("gate: no job queue")
	}
	payload, err := json.Marshal(j)
	if err != nil {
		return nil, false, err
	}
	return g.opts.Queue.Enqueue(ctx, store.JobSpec{Kind: KindScanFile, Key: FileJobKey(tenant, v, j), Tenant: tenant, Payload: payload})
}

// EnqueueRevision queues a revision scan for a tenant; idempotent.
func (g *Gate) EnqueueRevision(ctx context.Context, tenant string, j RevisionJob) (*store.Job, bool, error) {
	if g.opts.Queue == nil {
		return nil, false, errors.New("gate: no job queue")
	}
	pol, err := g.TenantPolicy(ctx, tenant)
	if err != nil {
		return nil, false, err
	}
	payload, err := json.Marshal(j)
	if err != nil {
		return nil, false, err
	}
	return g.opts.Queue.Enqueue(ctx, store.JobSpec{Kind: KindScanRevision, Key: RevisionJobKey(tenant, pol.Versions, j), Tenant: tenant, Payload: payload})
}

// Handlers returns the gate's job handlers by kind, for a Worker.
func (g *Gate) Handlers() map[string]Handler {
	return map[string]Handler{KindScanFile: g.handleFile, KindScanRevision: g.handleRevision}
}

func (g *Gate) jobHub(name string) (Hub, error) {
	hub := g.opts.Hub
	if hub == nil {
		return nil, Permanent(ErrNoHub)
	}
	if name != "" && name != hub.Name() {
		return nil, Permanent(fmt.Errorf("gate: job for hub %q, this worker serves %q", name, hub.Name()))
	}
	return hub, nil
}

// handleFile scans one file unless the tenant already has a current
// verdict for its content: a job re-run after a crash between recording
// and completing finds the verdict and scans nothing twice.
func (g *Gate) handleFile(ctx context.Context, job *store.Job) error {
	var j FileJob
	if err := json.Unmarshal(job.Payload, &j); err != nil {
		return Permanent(fmt.Errorf("gate: %s payload: %w", KindScanFile, err))
	}
	if j.Source == "" {
		j.Source = store.SourceWorker
	}
	pol, err := g.TenantPolicy(ctx, job.Tenant)
	if err != nil {
		return err
	}
	hub, err := g.jobHub(j.Hub)
	if err != nil {
		return err
	}
	obs := func(sha string) store.Observation {
		return store.Observation{Tenant: job.Tenant, SHA256: sha, Source: j.Source, Hub: hub.Name(), Repo: j.Repo,
			Revision: j.Revision, Path: j.File.Path}
	}
	if sha := j.File.SHA256; sha != "" {
		if _, fr, err := g.st.LookupVerdict(ctx, job.Tenant, sha, pol.Versions); err == nil && fr == store.Current {
			return g.st.Observe(ctx, obs(sha))
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	c, err := hub.Open(ctx, j.Repo, j.Revision, j.File)
	if err != nil {
		if errors.Is(err, ErrNotOnHub) {
			return Permanent(err)
		}
		return err
	}
	defer c.Close()
	sha := j.File.SHA256
	if sha == "" {
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(c, 0, j.File.Size)); err != nil {
			if errors.Is(err, ErrNotOnHub) {
				return Permanent(err)
			}
			return err
		}
		sha = hex.EncodeToString(h.Sum(nil))
		if _, fr, err := g.st.LookupVerdict(ctx, job.Tenant, sha, pol.Versions); err == nil && fr == store.Current {
			return g.st.Observe(ctx, obs(sha))
		}
	}
	_, err = g.scanContent(ctx, job.Tenant, pol, j.File.Path, c, j.File.Size, sha, j.Source, obs(sha))
	if errors.Is(err, ErrNotOnHub) {
		return Permanent(err) // deleted or made private since it was listed
	}
	return err
}

// handleRevision lists a revision and queues the files that need a scan.
func (g *Gate) handleRevision(ctx context.Context, job *store.Job) error {
	var j RevisionJob
	if err := json.Unmarshal(job.Payload, &j); err != nil {
		return Permanent(fmt.Errorf("gate: %s payload: %w", KindScanRevision, err))
	}
	if j.Source == "" {
		j.Source = store.SourceWorker
	}
	pol, err := g.TenantPolicy(ctx, job.Tenant)
	if err != nil {
		return err
	}
	hub, err := g.jobHub(j.Hub)
	if err != nil {
		return err
	}
	commit, files, err := hub.ListFiles(ctx, j.Repo, j.Revision)
	if err != nil {
		if errors.Is(err, ErrNotOnHub) {
			return Permanent(err)
		}
		return err
	}
	var seen []store.Observation
	for _, f := range files {
		if !j.Includes(f.Path) {
			continue
		}
		if f.SHA256 != "" {
			if _, fr, err := g.st.LookupVerdict(ctx, job.Tenant, f.SHA256, pol.Versions); err == nil && fr == store.Current {
				seen = append(seen, store.Observation{Tenant: job.Tenant, SHA256: f.SHA256, Source: j.Source,
					Hub: hub.Name(), Repo: j.Repo, Revision: commit, Path: f.Path})
				continue
			}
		}
		fj := FileJob{Hub: hub.Name(), Repo: j.Repo, Revision: commit, File: f, Source: j.Source}
		_, created, err := g.EnqueueFile(ctx, job.Tenant, pol.Versions, fj)
		if err != nil {
			return err
		}
		if !created && f.SHA256 != "" {
			// The content is queued already, from another place: that
			// job records its own place only, so record this one now.
			seen = append(seen, store.Observation{Tenant: job.Tenant, SHA256: f.SHA256, Source: j.Source,
				Hub: hub.Name(), Repo: j.Repo, Revision: commit, Path: f.Path})
		}
	}
	return g.st.Observe(ctx, seen...)
}
