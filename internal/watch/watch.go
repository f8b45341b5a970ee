// Package watch is `modelgate watch`: it follows a hub's listing of
// repositories newest first, enqueues a scan of each changed repository
// revision on the gate's job queue (workers list the revision and scan
// every file not yet judged), and raises an alert for every verdict at or
// above a threshold: logged, recorded, and posted to a signed webhook.
//
// Restart safety comes from three idempotent steps. The listing's
// high-water mark (the newest lastModified enqueued) is stored only after
// the enqueues it covers, and each poll goes back an overlap below it, so
// a watcher killed at any point enqueues again what it may have missed;
// enqueueing is idempotent by key (tenant, versions, repository@commit),
// and scan workers look up a verdict before scanning, so nothing is
// scanned twice. Alerts are unique per (watch, verdict, place) and their
// deliveries are queue jobs, retried with backoff.
package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"modelgate/internal/alert"
	"modelgate/internal/finding"
	"modelgate/internal/gate"
	"modelgate/internal/gatehub"
	"modelgate/internal/hub"
	"modelgate/internal/store"
)

// Config configures a Watcher. Zero fields take the defaults noted.
type Config struct {
	// ID names the watch's state in the store (default
	// "TENANT@HUB/TYPE"). A watcher restarted with the same ID resumes.
	ID string
	// Tenant is who the watcher acts for: verdicts and alerts are its.
	Tenant string
	// Type is the repositories followed (default hub.Model).
	Type hub.RepoType
	// Authors, if set, follows only these authors (one listing each).
	Authors []string
	// Filters are tags a repository must all carry (the listing's filter).
	Filters []string
	// Include, if set, scans only files whose path or base name matches
	// one of these path.Match patterns.
	Include []string
	// Interval is the wait between polls (default 1 minute).
	Interval time.Duration
	// Overlap is how far below the high-water mark each poll looks again,
	// for listings that show a change late (default 10 minutes).
	Overlap time.Duration
	// Since is how far back a new watch starts (default 1 hour).
	Since time.Duration
	// PageSize is the listing page size asked for (default 1000, the
	// hub's largest).
	PageSize int
	// AlertSeverity is the alert threshold (default high).
	AlertSeverity finding.Severity
	// AlertInterval is the wait between looks for new alerts (default 5s).
	AlertInterval time.Duration
	// AlertOverlap is how far back each look for alerts reaches before
	// the previous one, for verdicts committed late or recorded by
	// workers whose clocks differ a little (default 5 minutes).
	AlertOverlap time.Duration
	// Webhook receives alerts; nil logs them only.
	Webhook *alert.Webhook
	// WebhookAttempts bounds delivery attempts (default
	// alert.DefaultMaxAttempts).
	WebhookAttempts int
	// Workers is how many scan jobs run at once in this process; 0 leaves
	// scanning to `modelgate worker` processes on the same store.
	Workers int
	// JobRetention is how long done and failed jobs are kept before Run
	// deletes them (default 7 days). A deleted job's key is free again:
	// content whose scan failed for good is tried again when it is next
	// listed, and the jobs table does not grow without end.
	JobRetention time.Duration
	// Lease, Poll and Backoff configure the workers (see gate.Worker).
	Lease, Poll time.Duration
	Backoff     func(attempt int) time.Duration
	Logger      *slog.Logger
	Now         func() time.Time
}

// Watcher follows one hub for one tenant.
type Watcher struct {
	cfg Config
	g   *gate.Gate
	b   store.Backend
	c   *hub.Client
	hub string
	log *slog.Logger
}

// New returns a watcher. The gate must use the hub client c (through
// gatehub) and the backend b.
func New(g *gate.Gate, b store.Backend, c *hub.Client, cfg Config) (*Watcher, error) {
	if cfg.Tenant == "" {
		return nil, errors.New("watch: a tenant is required (--tenant)")
	}
	if g.Hub() == nil || g.Hub().Name() != c.Endpoint() {
		return nil, errors.New("watch: the gate must read the hub the watcher follows")
	}
	if err := gate.ValidPatterns(cfg.Include); err != nil {
		return nil, err
	}
	if cfg.Type == "" {
		cfg.Type = hub.Model
	}
	if cfg.Type != hub.Model && cfg.Type != hub.Dataset && cfg.Type != hub.Space {
		return nil, fmt.Errorf("watch: unknown repository type %q", cfg.Type)
	}
	if cfg.ID == "" {
		cfg.ID = cfg.Tenant + "@" + c.Endpoint() + "/" + string(cfg.Type)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Interval, time.Minute)
	def(&cfg.Overlap, 10*time.Minute)
	def(&cfg.Since, time.Hour)
	def(&cfg.AlertInterval, 5*time.Second)
	def(&cfg.AlertOverlap, 5*time.Minute)
	def(&cfg.JobRetention, 7*24*time.Hour)
	if cfg.PageSize <= 0 {
		cfg.PageSize = 1000
	}
	if cfg.AlertSeverity == 0 {
		cfg.AlertSeverity = finding.High
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Watcher{cfg: cfg, g: g, b: b, c: c, hub: c.Endpoint(), log: cfg.Logger.With("watch", cfg.ID)}, nil
}

// ID is the watch's ID.
func (w *Watcher) ID() string { return w.cfg.ID }

func (w *Watcher) open(ctx context.Context) (*store.Watch, error) {
	if _, err := w.g.TenantPolicy(ctx, w.cfg.Tenant); errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("watch: tenant %q does not exist (create it with 'modelgate tenant create %s')", w.cfg.Tenant, w.cfg.Tenant)
	} else if err != nil {
		return nil, err
	}
	return w.b.OpenWatch(ctx, store.Watch{ID: w.cfg.ID, Tenant: w.cfg.Tenant, Hub: w.hub})
}

// PollResult says what a poll did.
type PollResult struct {
	// Listed counts repositories looked at; Enqueued the revisions newly
	// queued (the others were queued before).
	Listed, Enqueued int
	// Mark is the high-water mark afterwards.
	Mark time.Time
}

var errStop = errors.New("below the floor")

// Poll walks the listing from the newest change down to the high-water
// mark less the overlap, enqueues a scan of each repository revision, and
// then raises the mark to the newest change it enqueued. An error leaves
// the mark where it was: the next poll covers the same ground again.
func (w *Watcher) Poll(ctx context.Context) (PollResult, error) {
	st, err := w.open(ctx)
	if err != nil {
		return PollResult{}, err
	}
	floor := st.Mark.Add(-w.cfg.Overlap)
	if st.Mark.IsZero() {
		floor = w.cfg.Now().Add(-w.cfg.Since)
	}
	res := PollResult{Mark: st.Mark}
	newest := st.Mark
	authors := w.cfg.Authors
	if len(authors) == 0 {
		authors = []string{""}
	}
	for _, author := range authors {
		opts := hub.ListOptions{Sort: "lastModified", Author: author, Filter: w.cfg.Filters, Limit: w.cfg.PageSize,
			Expand: []string{"sha", "lastModified"}}
		err := w.c.List(ctx, w.cfg.Type, opts, func(ri hub.RepoInfo) error {
			// A listing without dates cannot be walked down to a floor;
			// such items are enqueued (idempotently) and the walk goes on.
			if !ri.LastModified.IsZero() && ri.LastModified.Before(floor) {
				return errStop
			}
			res.Listed++
			created, err := w.enqueue(ctx, ri)
			if err != nil {
				return err
			}
			if created {
				res.Enqueued++
			}
			if ri.LastModified.After(newest) {
				newest = ri.LastModified
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			return res, fmt.Errorf("watch: listing %s: %w", w.cfg.Type, err)
		}
	}
	if newest.After(st.Mark) {
		if err := w.b.AdvanceWatch(ctx, w.cfg.ID, newest); err != nil {
			return res, err
		}
		res.Mark = newest
	}
	w.log.Info("poll", "listed", res.Listed, "enqueued", res.Enqueued, "mark", res.Mark)
	return res, nil
}

// enqueue queues a scan of one repository revision.
func (w *Watcher) enqueue(ctx context.Context, ri hub.RepoInfo) (bool, error) {
	ref := hub.Ref{Type: w.cfg.Type, ID: ri.ID}
	name := gatehub.RepoName(ref)
	if _, err := gatehub.ParseRepo(name); err != nil {
		w.log.Warn("skipping a repository the gate cannot name", "repo", ri.ID, "error", err)
		return false, nil
	}
	sha := ri.SHA
	if !hub.IsCommit(sha) {
		// The listing did not give the commit; resolve the default
		// branch, since a job must name the commit it judges.
		var err error
		if sha, err = w.c.Resolve(ctx, ref); err != nil {
			if gatehub.NotOnHub(err) {
				w.log.Info("skipping a repository that is gone or not visible", "repo", name, "error", err)
				return false, nil
			}
			return false, err
		}
	}
	job, created, err := w.g.EnqueueRevision(ctx, w.cfg.Tenant, gate.RevisionJob{Hub: w.hub, Repo: name, Revision: sha,
		Source: store.SourceWatch, Include: w.cfg.Include})
	if err != nil {
		return false, err
	}
	if created {
		w.log.Debug("enqueued", "repo", name, "revision", sha, "job", job.ID)
	}
	return created, nil
}

// RaiseAlerts records alerts for verdicts at or above the threshold made
// or seen since the last look (less the overlap), logs each, and queues
// their deliveries.
func (w *Watcher) RaiseAlerts(ctx context.Context) ([]store.Alert, error) {
	st, err := w.open(ctx)
	if err != nil {
		return nil, err
	}
	pol, err := w.g.TenantPolicy(ctx, w.cfg.Tenant)
	if err != nil {
		return nil, err
	}
	status := store.AlertLogged
	if w.cfg.Webhook != nil {
		status = store.AlertPending
	}
	now := w.cfg.Now()
	raised, err := w.b.RaiseAlerts(ctx, store.AlertRule{Watch: w.cfg.ID, Tenant: w.cfg.Tenant, MinSeverity: w.cfg.AlertSeverity,
		Versions: pol.Versions, Since: st.AlertsChecked.Add(-w.cfg.AlertOverlap), Checked: now, Status: status})
	if err != nil {
		return nil, err
	}
	for i := range raised {
		a := &raised[i]
		w.log.Warn("alert", "alert", a.ID, "tenant", a.Tenant, "hub", a.Hub, "repo", a.Repo, "revision", a.Revision,
			"path", a.Path, "sha256", a.SHA256, "severity", a.Severity.String(), "scan_id", a.VerdictID)
		if w.cfg.Webhook != nil {
			if _, _, err := w.b.Enqueue(ctx, alert.Job(a, w.cfg.WebhookAttempts)); err != nil {
				return raised, err
			}
		}
	}
	return raised, nil
}

// repair queues the delivery of every pending alert: a watcher killed
// between recording alerts and queueing their deliveries sends them now.
// An alert whose delivery job ran out of attempts without saying so (its
// worker died on the last one) is marked failed.
func (w *Watcher) repair(ctx context.Context) error {
	if w.cfg.Webhook == nil {
		return nil
	}
	var after int64
	for {
		pending, err := w.b.Alerts(ctx, w.cfg.ID, store.AlertPending, after, store.MaxLimit)
		if err != nil {
			return err
		}
		for i := range pending {
			job, _, err := w.b.Enqueue(ctx, alert.Job(&pending[i], w.cfg.WebhookAttempts))
			if err != nil {
				return err
			}
			if job.State == store.JobFailed {
				if err := w.b.RecordDelivery(ctx, pending[i].ID, store.AlertFailed, job.LastError); err != nil {
					return err
				}
			}
			after = pending[i].ID
		}
		if len(pending) < store.MaxLimit {
			return nil
		}
	}
}

// workers returns the scan worker (nil without Workers) and the alert
// delivery worker (nil without a webhook).
func (w *Watcher) workers() (scan, deliver *gate.Worker) {
	if w.cfg.Workers > 0 {
		scan = &gate.Worker{Queue: w.b, Handlers: w.g.Handlers(), Concurrency: w.cfg.Workers, Lease: w.cfg.Lease,
			Poll: w.cfg.Poll, Backoff: w.cfg.Backoff, Logger: w.cfg.Logger, Metrics: w.g.Metrics()}
	}
	if w.cfg.Webhook != nil {
		d := &alert.Deliverer{Store: w.b, Webhook: w.cfg.Webhook, Logger: w.cfg.Logger}
		deliver = &gate.Worker{Queue: w.b, Handlers: map[string]gate.Handler{alert.Kind(w.cfg.ID): d.Handle}, Lease: w.cfg.Lease,
			Poll: w.cfg.Poll, Backoff: w.cfg.Backoff, Logger: w.cfg.Logger, Metrics: w.g.Metrics()}
	}
	return scan, deliver
}
