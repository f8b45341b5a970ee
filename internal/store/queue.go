package store

import (
	"context"
	"encoding/json"
	"time"
)

// JobState is where a job is in its life.
type JobState string

// Job states. A job moves queued → leased → done, or back to queued when a
// worker fails it or its lease expires, and to failed after MaxAttempts.
const (
	JobQueued JobState = "queued"
	JobLeased JobState = "leased"
	JobDone   JobState = "done"
	JobFailed JobState = "failed"
)

// DefaultMaxAttempts is the number of leases a job gets before it is
// failed (dead-lettered): a file that crashes or hangs every worker must
// not be retried forever.
const DefaultMaxAttempts = 5

// JobSpec describes a job to enqueue.
type JobSpec struct {
	// Kind selects the handler, e.g. "scan.file".
	Kind string
	// Key makes enqueueing idempotent: while a job with this key exists,
	// in any state, enqueueing it again returns that job. Required. A
	// watcher restarted after a crash can thus enqueue everything it is
	// unsure of without causing a second scan.
	Key    string
	Tenant string
	// Payload is the kind's JSON arguments.
	Payload json.RawMessage
	// MaxAttempts defaults to DefaultMaxAttempts.
	MaxAttempts int
	// RunAfter delays the first lease; zero means now.
	RunAfter time.Time
}

// Job is a queued job. While leased, (ID, Attempt) is the lease: Extend,
// Complete and Fail take it, so a worker whose lease expired and was
// handed to another cannot complete or fail the job behind its back.
type Job struct {
	ID          int64
	Kind        string
	Key         string
	Tenant      string
	Payload     json.RawMessage
	State       JobState
	Attempt     int // leases so far; the current lease's number
	MaxAttempts int
	RunAfter    time.Time
	LeaseOwner  string
	LeaseUntil  time.Time
	LastError   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Queue is a durable job queue with leases. Any number of workers, in
// this process or on other machines (PostgreSQL), may lease from it at
// once; each ready job is leased by one worker at a time.
type Queue interface {
	// Enqueue adds a job, or returns the existing job with the same key
	// (created false).
	Enqueue(ctx context.Context, spec JobSpec) (job *Job, created bool, err error)
	// Lease takes the oldest ready job of one of the kinds (all kinds if
	// none are given) for ttl: a queued job whose RunAfter has passed, or
	// a leased job whose lease expired (its worker died). It returns
	// ErrNoJob when none is ready. A job whose lease expired after its
	// last attempt is failed instead of leased again.
	Lease(ctx context.Context, owner string, kinds []string, ttl time.Duration) (*Job, error)
	// Extend renews a lease (a heartbeat for long jobs).
	Extend(ctx context.Context, id int64, attempt int, ttl time.Duration) error
	// Complete marks the job done. It is idempotent: completing a done
	// job is not an error. It returns ErrLeaseLost if another attempt
	// holds the job now.
	Complete(ctx context.Context, id int64, attempt int) error
	// Fail records why the attempt failed and queues the job again after
	// retryAfter, or fails it for good when it has had MaxAttempts or
	// retryAfter is negative (a permanent error).
	Fail(ctx context.Context, id int64, attempt int, reason string, retryAfter time.Duration) error
	// Job returns a job by ID.
	Job(ctx context.Context, id int64) (*Job, error)
	// QueueStats counts jobs by state.
	QueueStats(ctx context.Context) (map[JobState]int, error)
	// CountJobs counts the jobs a filter selects.
	CountJobs(ctx context.Context, f JobFilter) (int, error)
	// PurgeJobs deletes done and failed jobs last updated before t, which
	// frees their keys; it returns how many it deleted.
	PurgeJobs(ctx context.Context, before time.Time) (int64, error)
	// Notify receives a value soon after a job is enqueued through this
	// process, so local workers need not wait for their poll interval.
	Notify() <-chan struct{}
}
