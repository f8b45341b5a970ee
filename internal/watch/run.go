package watch

import (
	"context"
	"sync"
	"time"

	"modelgate/internal/alert"
	"modelgate/internal/gate"
	"modelgate/internal/store"
)

// Run polls every Interval and looks for alerts every AlertInterval until
// ctx is cancelled, running the in-process scan workers and the alert
// deliveries beside; it returns once the jobs under way have finished.
// Errors of one poll are logged and the next poll tries again.
func (w *Watcher) Run(ctx context.Context) error {
	if _, err := w.open(ctx); err != nil {
		return err
	}
	if err := w.repair(ctx); err != nil {
		return err
	}
	stop := w.startWorkers(ctx)
	defer stop()
	poll := time.NewTimer(0)
	defer poll.Stop()
	alerts := time.NewTicker(w.cfg.AlertInterval)
	defer alerts.Stop()
	purge := time.NewTicker(time.Hour)
	defer purge.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-purge.C:
			if n, err := w.b.PurgeJobs(ctx, w.cfg.Now().Add(-w.cfg.JobRetention)); err != nil && ctx.Err() == nil {
				w.log.Error("purging old jobs failed", "error", err)
			} else if n > 0 {
				w.log.Info("purged old jobs", "jobs", n)
			}
		case <-poll.C:
			if _, err := w.Poll(ctx); err != nil && ctx.Err() == nil {
				w.log.Error("poll failed; trying again at the next interval", "error", err)
			}
			poll.Reset(w.cfg.Interval)
		case <-alerts.C:
			if _, err := w.RaiseAlerts(ctx); err != nil && ctx.Err() == nil {
				w.log.Error("looking for alerts failed", "error", err)
			}
		}
	}
}

// startWorkers runs the workers until the returned function is called,
// which stops them and waits for the jobs under way.
func (w *Watcher) startWorkers(ctx context.Context) func() {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	scan, deliver := w.workers()
	for _, wk := range []*gate.Worker{scan, deliver} {
		if wk != nil {
			wg.Go(func() { wk.Run(ctx) })
		}
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// Summary is what RunOnce did.
type Summary struct {
	Poll   PollResult
	Alerts []store.Alert
}

// RunOnce polls once, waits until the scans it queued (and any other
// scans of the tenant) are done, whether by this process's workers or
// others, raises the alerts they call for, and delivers them; a delivery
// that fails stays queued for its retries, which a later run (or Run)
// carries out. It suits cron jobs and tests.
func (w *Watcher) RunOnce(ctx context.Context) (Summary, error) {
	var sum Summary
	if _, err := w.open(ctx); err != nil {
		return sum, err
	}
	if err := w.repair(ctx); err != nil {
		return sum, err
	}
	stop := w.startWorkers(ctx)
	defer stop()
	var err error
	if sum.Poll, err = w.Poll(ctx); err != nil {
		return sum, err
	}
	scans := store.JobFilter{Tenant: w.cfg.Tenant, Kinds: []string{gate.KindScanRevision, gate.KindScanFile},
		States: []store.JobState{store.JobQueued, store.JobLeased}}
	if err := w.waitFor(ctx, scans); err != nil {
		return sum, err
	}
	if sum.Alerts, err = w.RaiseAlerts(ctx); err != nil {
		return sum, err
	}
	if w.cfg.Webhook != nil {
		kind := []string{alert.Kind(w.cfg.ID)}
		if err := w.waitFor(ctx, store.JobFilter{Kinds: kind, States: []store.JobState{store.JobLeased}},
			store.JobFilter{Kinds: kind, States: []store.JobState{store.JobQueued}, DueBy: time.Now()}); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// waitFor waits until no job matches any of the filters.
func (w *Watcher) waitFor(ctx context.Context, filters ...store.JobFilter) error {
	wait := 20 * time.Millisecond
	lastLog := time.Now()
	for {
		busy := 0
		for _, f := range filters {
			if !f.DueBy.IsZero() {
				f.DueBy = time.Now()
			}
			n, err := w.b.CountJobs(ctx, f)
			if err != nil {
				return err
			}
			busy += n
		}
		if busy == 0 {
			return nil
		}
		if time.Since(lastLog) > 30*time.Second {
			lastLog = time.Now()
			w.log.Info("waiting for jobs (with --workers 0, 'modelgate worker' processes must run)", "jobs", busy)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}
