package gate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sync"

	"modelgate/internal/finding"
	"modelgate/internal/scan"
	"modelgate/internal/store"
)

// AdmitRequest asks whether a repository revision may be loaded.
type AdmitRequest struct {
	Tenant   string
	Repo     string
	Revision string
	// Async: rather than scanning missing files in the request, enqueue
	// them and answer "pending" (needs a queue and a worker).
	Async bool
}

// Admission decisions besides store.Allow and store.Deny.
const Pending store.Decision = "pending"

// AdmitResult is the answer: deny if any file is denied or could not be
// judged, else pending if any is being scanned, else allow.
type AdmitResult struct {
	Decision store.Decision `json:"decision"`
	Hub      string         `json:"hub"`
	Repo     string         `json:"repo"`
	Revision string         `json:"revision"`
	// Commit is the sha the revision resolved to: what was judged. Pin it
	// when loading, since a branch can move after admission.
	Commit   string         `json:"commit"`
	Versions store.Versions `json:"versions"`
	Files    []AdmitFile    `json:"files"`
	// Reasons lists the findings at or above the fail threshold, and
	// files that could not be judged.
	Reasons []Reason `json:"reasons"`
}

// AdmitFile is one file's part of an admission.
type AdmitFile struct {
	Path     string         `json:"path"`
	SHA256   string         `json:"sha256,omitempty"`
	Size     int64          `json:"size"`
	Decision store.Decision `json:"decision"`
	// VerdictID is the verdict's ID, for GET /v1/scans/{id}.
	VerdictID int64 `json:"verdict_id,omitempty"`
	// Scanned: scanned for this request (no earlier verdict existed).
	Scanned bool   `json:"scanned"`
	Error   string `json:"error,omitempty"`
}

// Reason is why an admission was denied.
type Reason struct {
	Path     string `json:"path"`
	SHA256   string `json:"sha256,omitempty"`
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	Member   string `json:"member,omitempty"`
	Message  string `json:"message"`
	Evidence string `json:"evidence,omitempty"`
}

const (
	maxReasons     = 100
	admitParallel  = 4
	maxRepoFiles   = 10_000
	revisionMaxLen = 256
)

var repoRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$`)

// ValidRepo reports whether s looks like a hub repository ID (org/name).
func ValidRepo(s string) bool { return repoRE.MatchString(s) }

// Admit judges every file of a repository revision under the tenant's
// policy, scanning those without a current verdict.
func (g *Gate) Admit(ctx context.Context, req AdmitRequest) (*AdmitResult, error) {
	if g.opts.Hub == nil {
		return nil, ErrNoHub
	}
	if !ValidRepo(req.Repo) || len(req.Revision) > revisionMaxLen {
		return nil, fmt.Errorf("%w: repo must be ORG/NAME and revision at most %d characters", ErrInvalid, revisionMaxLen)
	}
	if req.Async && g.opts.Queue == nil {
		return nil, fmt.Errorf("%w: async admission needs a job queue", ErrInvalid)
	}
	pol, err := g.TenantPolicy(ctx, req.Tenant)
	if err != nil {
		return nil, err
	}
	hub := g.opts.Hub
	commit, files, err := hub.ListFiles(ctx, req.Repo, req.Revision)
	if err != nil {
		return nil, err
	}
	if len(files) > maxRepoFiles {
		return nil, fmt.Errorf("%w: the revision has %d files, over the gate's %d", ErrInvalid, len(files), maxRepoFiles)
	}
	res := &AdmitResult{Hub: hub.Name(), Repo: req.Repo, Revision: req.Revision, Commit: commit, Versions: pol.Versions,
		Files: make([]AdmitFile, len(files)), Reasons: []Reason{}}
	reasons := make([][]Reason, len(files))
	var wg sync.WaitGroup
	sem := make(chan struct{}, admitParallel)
	for i, f := range files {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			res.Files[i], reasons[i] = g.admitFile(ctx, req, pol, commit, f)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.Decision = store.Allow
	for i, f := range res.Files {
		switch f.Decision {
		case store.Deny:
			res.Decision = store.Deny
		case Pending:
			if res.Decision == store.Allow {
				res.Decision = Pending
			}
		}
		for _, r := range reasons[i] {
			if len(res.Reasons) < maxReasons {
				res.Reasons = append(res.Reasons, r)
			}
		}
	}
	g.met.admissions.WithLabelValues(string(res.Decision)).Inc()
	return res, nil
}

// admitFile judges one file. A file that cannot be read is denied (fail
// closed) without recording a verdict, since the failure is not the
// content's.
func (g *Gate) admitFile(ctx context.Context, req AdmitRequest, pol *Policy, commit string, f RemoteFile) (AdmitFile, []Reason) {
	out := AdmitFile{Path: f.Path, SHA256: f.SHA256, Size: f.Size}
	unreadable := func(err error) (AdmitFile, []Reason) {
		out.Decision, out.Error = store.Deny, err.Error()
		return out, []Reason{{Path: f.Path, SHA256: out.SHA256, Rule: finding.RuleIOError, Severity: finding.High.String(),
			Message: "could not be read from the hub, so it could not be judged: " + err.Error()}}
	}
	if !req.Async {
		v, scanned, err := g.JudgeFile(ctx, JudgeRequest{Tenant: req.Tenant, Repo: req.Repo, Commit: commit, File: f, Source: store.SourceAdmit})
		if err != nil {
			return unreadable(err)
		}
		out.SHA256, out.Scanned = v.SHA256, scanned
		return g.judged(out, v, pol)
	}
	if out.SHA256 == "" {
		sha, err := g.hashRemote(ctx, pol, req.Repo, commit, f)
		if err != nil {
			return unreadable(err)
		}
		out.SHA256 = sha
	}
	if v, fr, err := g.st.LookupVerdict(ctx, req.Tenant, out.SHA256, pol.Versions); err == nil && fr == store.Current {
		if err := g.st.Observe(ctx, store.Observation{Tenant: req.Tenant, SHA256: out.SHA256, Source: store.SourceAdmit,
			Hub: g.opts.Hub.Name(), Repo: req.Repo, Revision: commit, Path: f.Path}); err != nil {
			return unreadable(err)
		}
		return g.judged(out, v, pol)
	}
	f.SHA256 = out.SHA256
	_, created, err := g.EnqueueFile(ctx, req.Tenant, pol.Versions, FileJob{Hub: g.opts.Hub.Name(), Repo: req.Repo,
		Revision: commit, File: f, Source: store.SourceAdmit})
	if err != nil {
		return unreadable(err)
	}
	if !created {
		// Queued already from another place, which its job records.
		if err := g.st.Observe(ctx, store.Observation{Tenant: req.Tenant, SHA256: out.SHA256, Source: store.SourceAdmit,
			Hub: g.opts.Hub.Name(), Repo: req.Repo, Revision: commit, Path: f.Path}); err != nil {
			return unreadable(err)
		}
	}
	out.Decision = Pending
	return out, nil
}

// JudgeRequest names one file of a repository revision to judge.
type JudgeRequest struct {
	Tenant string
	Repo   string
	Commit string
	File   RemoteFile
	// Source is recorded in the observation (store.SourceProxy for the
	// download proxy).
	Source store.Source
	// Content, if set, is the file's content the caller already read in
	// full (File.Size bytes) and hashed into File.SHA256; it is scanned
	// instead of opening the file on the hub, so what is judged is
	// exactly what the caller holds. The caller keeps ownership.
	Content io.ReaderAt
}

// JudgeFile returns the tenant's current verdict for one file of a
// repository revision on the gate's hub, scanning it now if there is none
// (scanned is then true), and records where it was seen. A file without a
// listed sha256 is read and hashed first. An error means the file could
// not be read or judged; callers must then refuse it (fail closed).
func (g *Gate) JudgeFile(ctx context.Context, req JudgeRequest) (v *store.Verdict, scanned bool, err error) {
	hub := g.opts.Hub
	if hub == nil {
		return nil, false, ErrNoHub
	}
	pol, err := g.TenantPolicy(ctx, req.Tenant)
	if err != nil {
		return nil, false, err
	}
	f := req.File
	if req.Content != nil && !ValidSHA256(f.SHA256) {
		return nil, false, fmt.Errorf("%w: content given without its sha256", ErrInvalid)
	}
	var content scan.Content
	if req.Content != nil {
		content = nopContent{req.Content}
	}
	defer func() {
		if content != nil {
			content.Close()
		}
	}()
	sha := f.SHA256
	if sha == "" {
		// Not an LFS file: the hub gives no hash, so read it for one.
		if f.Size > pol.Limits().MaxFileSize {
			return nil, false, fmt.Errorf("no sha256 listed and %d bytes is over the scan limit", f.Size)
		}
		c, err := hub.Open(ctx, req.Repo, req.Commit, f)
		if err != nil {
			return nil, false, err
		}
		content = c
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(c, 0, f.Size)); err != nil {
			return nil, false, err
		}
		sha = hex.EncodeToString(h.Sum(nil))
	}
	obs := store.Observation{Tenant: req.Tenant, SHA256: sha, Source: req.Source, Hub: hub.Name(),
		Repo: req.Repo, Revision: req.Commit, Path: f.Path}
	if v, fr, err := g.st.LookupVerdict(ctx, req.Tenant, sha, pol.Versions); err == nil && fr == store.Current {
		return v, false, g.st.Observe(ctx, obs)
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, false, err
	}
	if content == nil {
		c, err := hub.Open(ctx, req.Repo, req.Commit, f)
		if err != nil {
			return nil, false, err
		}
		content = c
	}
	v, err = g.scanContent(ctx, req.Tenant, pol, f.Path, content, f.Size, sha, req.Source, obs)
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

// nopContent is content the caller owns: closing it does nothing.
type nopContent struct{ io.ReaderAt }

func (nopContent) Close() error { return nil }

// hashRemote reads a file without a listed sha256 to compute it.
func (g *Gate) hashRemote(ctx context.Context, pol *Policy, repo, commit string, f RemoteFile) (string, error) {
	if f.Size > pol.Limits().MaxFileSize {
		return "", fmt.Errorf("no sha256 listed and %d bytes is over the scan limit", f.Size)
	}
	c, err := g.opts.Hub.Open(ctx, repo, commit, f)
	if err != nil {
		return "", err
	}
	defer c.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(c, 0, f.Size)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// judged fills a file's decision and reasons from its verdict.
func (g *Gate) judged(out AdmitFile, v *store.Verdict, pol *Policy) (AdmitFile, []Reason) {
	out.Decision, out.VerdictID = v.Decision, v.ID
	if v.Decision != store.Deny {
		return out, nil
	}
	return out, Reasons(v, out.Path, pol.Threshold)
}

// Reasons lists a denied verdict's findings at or above the threshold (all
// of them if none is), most severe first, for a file at path.
func Reasons(v *store.Verdict, path string, threshold finding.Severity) []Reason {
	f, err := v.File()
	if err != nil {
		return []Reason{{Path: path, SHA256: v.SHA256, Rule: finding.RuleIOError, Severity: finding.High.String(),
			Message: "the stored verdict could not be read: " + err.Error()}}
	}
	pick := func(all bool) []Reason {
		var out []Reason
		for _, x := range f.Findings {
			if len(out) == maxReasons {
				break
			}
			if all || x.Severity >= threshold {
				out = append(out, Reason{Path: path, SHA256: v.SHA256, Rule: x.Rule, Severity: x.Severity.String(),
					Member: x.Member, Message: x.Message, Evidence: x.Evidence})
			}
		}
		return out
	}
	if out := pick(false); len(out) > 0 {
		return out
	}
	return pick(true)
}
