package gate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"modelgate/internal/store"
)

// Handler runs one job. A returned error fails the attempt: the job is
// retried with backoff, unless the error is Permanent.
type Handler func(ctx context.Context, job *store.Job) error

type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks an error retrying cannot fix (a malformed payload, a
// repository that does not exist): the job is failed at once.
func Permanent(err error) error { return permanent{err} }

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// Worker takes jobs from a queue and runs their handlers. Several workers,
// in one process or many, may share a queue.
type Worker struct {
	Queue    store.Queue
	Handlers map[string]Handler
	// Owner names this worker in leases; default host-pid.
	Owner string
	// Lease is how long a job is held without a heartbeat; a worker that
	// dies loses its jobs to others after this long. Default 2 minutes;
	// heartbeats renew it every Lease/3.
	Lease time.Duration
	// Poll is the wait between empty leases; default 1 second.
	Poll time.Duration
	// Concurrency is how many jobs run at once; default 1.
	Concurrency int
	// Backoff gives the delay before retry n (1-based); default
	// exponential from 5 seconds, at most 10 minutes.
	Backoff func(attempt int) time.Duration
	Logger  *slog.Logger
	Metrics *Metrics
}

// DefaultBackoff is 5s·2^(n-1), at most 10 minutes.
func DefaultBackoff(attempt int) time.Duration {
	d := 5 * time.Second << min(max(attempt-1, 0), 10)
	return min(d, 10*time.Minute)
}

// Run works until ctx is cancelled, then stops taking jobs, lets the jobs
// under way finish, and returns. A job under way is cancelled only if its
// lease is lost.
func (w *Worker) Run(ctx context.Context) error {
	if w.Queue == nil || len(w.Handlers) == 0 {
		return errors.New("gate: a worker needs a queue and handlers")
	}
	if w.Owner == "" {
		host, _ := os.Hostname()
		w.Owner = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if w.Lease <= 0 {
		w.Lease = 2 * time.Minute
	}
	if w.Poll <= 0 {
		w.Poll = time.Second
	}
	if w.Backoff == nil {
		w.Backoff = DefaultBackoff
	}
	if w.Logger == nil {
		w.Logger = slog.New(slog.DiscardHandler)
	}
	if w.Metrics == nil {
		w.Metrics = NewMetrics(nil)
	}
	kinds := slices.Sorted(maps.Keys(w.Handlers))
	var wg sync.WaitGroup
	for i := range max(w.Concurrency, 1) {
		owner := fmt.Sprintf("%s/%d", w.Owner, i)
		wg.Go(func() { w.loop(ctx, owner, kinds) })
	}
	wg.Wait()
	return nil
}

func (w *Worker) loop(ctx context.Context, owner string, kinds []string) {
	for ctx.Err() == nil {
		job, err := w.Queue.Lease(ctx, owner, kinds, w.Lease)
		if err != nil {
			if !errors.Is(err, store.ErrNoJob) && ctx.Err() == nil {
				w.Logger.Error("lease", slog.String("worker", owner), slog.Any("error", err))
			}
			t := time.NewTimer(w.Poll)
			select {
			case <-ctx.Done():
			case <-w.Queue.Notify():
			case <-t.C:
			}
			t.Stop()
			continue
		}
		w.run(ctx, owner, job)
	}
}

// run runs one leased job with heartbeats, then completes or fails it.
func (w *Worker) run(parent context.Context, owner string, job *store.Job) {
	// The job finishes even if the worker is shutting down; it is
	// cancelled only when its lease is lost to another worker.
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	defer cancel()
	log := w.Logger.With(slog.String("worker", owner), slog.Int64("job", job.ID), slog.String("kind", job.Kind),
		slog.Int("attempt", job.Attempt))
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		t := time.NewTicker(w.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := w.Queue.Extend(ctx, job.ID, job.Attempt, w.Lease); err != nil {
					if errors.Is(err, store.ErrLeaseLost) {
						log.Warn("lease lost; abandoning the job")
						cancel()
						return
					}
					log.Error("heartbeat", slog.Any("error", err))
				}
			}
		}
	}()
	start := time.Now()
	err := w.call(ctx, job)
	cancel()
	<-hbDone
	done := context.WithoutCancel(parent)
	switch {
	case err == nil:
		if cerr := w.Queue.Complete(done, job.ID, job.Attempt); cerr != nil {
			log.Warn("complete", slog.Any("error", cerr))
		}
		w.Metrics.jobs.WithLabelValues(job.Kind, "done").Inc()
		log.Info("job done", slog.Duration("took", time.Since(start)))
	default:
		retry := w.Backoff(job.Attempt)
		outcome := "retry"
		if IsPermanent(err) {
			retry, outcome = -1, "failed"
		} else if job.Attempt >= job.MaxAttempts {
			outcome = "failed"
		}
		if ferr := w.Queue.Fail(done, job.ID, job.Attempt, err.Error(), retry); ferr != nil {
			log.Warn("fail", slog.Any("error", ferr))
		}
		w.Metrics.jobs.WithLabelValues(job.Kind, outcome).Inc()
		log.Warn("job failed", slog.String("outcome", outcome), slog.Any("error", err))
	}
}

// call runs the handler, turning a panic into an error so one bad job
// cannot take the worker down.
func (w *Worker) call(ctx context.Context, job *store.Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	h, ok := w.Handlers[job.Kind]
	if !ok {
		return Permanent(fmt.Errorf("no handler for job kind %q", job.Kind))
	}
	return h(ctx, job)
}
