// Package store keeps the gate's state: verdicts keyed by content and
// versions, the observations that led to them, tenants with their tokens and
// policies, and the job queue scan workers take work from.
//
// Two backends implement the same interfaces with the same SQL shape:
// SQLite (modernc.org/sqlite, pure Go) in a data folder for one machine, and
// PostgreSQL (pgx) for several. Open picks one from a URL. Every write that
// returns without error has been committed durably (SQLite in WAL mode with
// synchronous=FULL, PostgreSQL with its default synchronous commit), so an
// acknowledged verdict survives a crash of the process or the machine.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"modelgate/internal/finding"
	"modelgate/internal/report"
)

// Errors callers test for with errors.Is.
var (
	// ErrNotFound: no such object for this tenant. Another tenant's object
	// is reported the same way, so its existence is not revealed.
	ErrNotFound = errors.New("store: not found")
	// ErrExists: an object with that identity already exists.
	ErrExists = errors.New("store: already exists")
	// ErrNoJob: no job is ready to be leased.
	ErrNoJob = errors.New("store: no job ready")
	// ErrLeaseLost: the job's lease expired and another worker took it, or
	// the job is no longer leased by this attempt.
	ErrLeaseLost = errors.New("store: lease lost")
	// ErrSchemaTooNew: the database was migrated by a newer modelgate.
	ErrSchemaTooNew = errors.New("store: database schema is newer than this binary")
	// ErrBadCursor: a paging cursor that this store did not issue.
	ErrBadCursor = errors.New("store: invalid cursor")
)

// Versions name what a verdict depends on besides the content: the
// scanner (version.Scanner) and the effective policy (policy.Version()).
// A verdict recorded under other versions is stale: the file must be
// scanned again before it is trusted.
type Versions struct {
	Scanner string `json:"scanner_version"`
	Policy  string `json:"policy_version"`
}

// Decision is the gate's answer for a file.
type Decision string

// Decisions.
const (
	Allow Decision = "allow"
	Deny  Decision = "deny"
)

// NoSeverity is MaxSeverity of a verdict without findings.
const NoSeverity = -1

// Verdict is the judgement of one content (by sha256) for one tenant under
// one scanner and policy version. It is immutable once recorded.
type Verdict struct {
	ID     int64
	Tenant string
	SHA256 string
	Versions
	Decision Decision
	Format   string
	Status   report.Status
	// MaxSeverity is the most severe finding's finding.Severity, or
	// NoSeverity.
	MaxSeverity int
	// Findings counts the findings in Result.
	Findings int
	Size     int64
	// Path is the name the file had when it was scanned.
	Path string
	// Result is the report.File JSON without its listings.
	Result json.RawMessage
	// Listings is the JSON of report.File.Listings (the decompiled
	// pickles); only filled when asked for, since it can be large.
	Listings  json.RawMessage
	CreatedAt time.Time
}

// NewVerdict builds the verdict to record for a scan result. The result's
// listings are kept apart from the rest (see Verdict.Listings).
func NewVerdict(tenant string, v Versions, d Decision, f *report.File) (*Verdict, error) {
	listings := f.Listings
	g := *f
	g.Listings, g.Cached = nil, false
	res, err := json.Marshal(&g)
	if err != nil {
		return nil, err
	}
	var lst json.RawMessage
	if len(listings) > 0 {
		if lst, err = json.Marshal(listings); err != nil {
			return nil, err
		}
	}
	sev := NoSeverity
	if s, ok := f.MaxSeverity(); ok {
		sev = int(s)
	}
	return &Verdict{
		Tenant: tenant, SHA256: f.SHA256, Versions: v, Decision: d, Format: f.Format, Status: f.Status,
		MaxSeverity: sev, Findings: len(f.Findings), Size: f.Size, Path: f.Path, Result: res, Listings: lst,
	}, nil
}

// File decodes the verdict's result, with its listings when they were
// loaded.
func (v *Verdict) File() (*report.File, error) {
	var f report.File
	if err := json.Unmarshal(v.Result, &f); err != nil {
		return nil, err
	}
	if len(v.Listings) > 0 {
		if err := json.Unmarshal(v.Listings, &f.Listings); err != nil {
			return nil, err
		}
	}
	return &f, nil
}

// Severity returns the most severe finding's severity and whether there is
// any finding.
func (v *Verdict) Severity() (finding.Severity, bool) {
	return finding.Severity(max(v.MaxSeverity, 0)), v.MaxSeverity != NoSeverity
}

// Freshness says whether a looked-up verdict was made under the versions
// asked for.
type Freshness string

// Freshness values.
const (
	// Current: the verdict was made by these scanner and policy versions.
	Current Freshness = "current"
	// Stale: only verdicts under other versions exist; the newest is
	// returned as evidence, but the content must be scanned again.
	Stale Freshness = "stale"
)

// Source says how the gate came to see a file.
type Source string

// Observation sources. The proxy and watcher of issue 6's second half use
// SourceProxy and SourceWatch.
const (
	SourceUpload Source = "upload"
	SourceAdmit  Source = "admit"
	SourceProxy  Source = "proxy"
	SourceWatch  Source = "watch"
	SourceWorker Source = "worker"
)

// Observation records that a tenant saw content somewhere: uploaded, or at
// a path of a repository revision on a hub. Recording the same observation
// again only updates LastSeen and Count.
type Observation struct {
	ID        int64
	Tenant    string
	SHA256    string
	Source    Source
	Hub       string // e.g. "https://huggingface.co"; "" for uploads
	Repo      string // e.g. "org/name"
	Revision  string // the commit sha, when known
	Path      string // the path in the repository, or the uploaded name
	FirstSeen time.Time
	LastSeen  time.Time
	Count     int
}

// Order is the order of a verdict listing.
type Order int

// Orders.
const (
	// Newest: most recently recorded first.
	Newest Order = iota
	// Worst: most severe finding first, then newest.
	Worst
)

// VerdictQuery selects a page of a tenant's verdicts.
type VerdictQuery struct {
	Limit  int    // default DefaultLimit, at most MaxLimit
	Cursor string // from the previous page; "" for the first
	Order  Order
	// Decision, if set, keeps verdicts with this decision only.
	Decision Decision
	// MinSeverity, if set, keeps verdicts with a finding at or above it.
	MinSeverity *finding.Severity
	// SHA256, if set, keeps verdicts of this content only (every version).
	SHA256 string
}

// Paging limits.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// FindingQuery selects a page of a tenant's findings, newest verdict
// first, in each verdict in report order (most severe first).
type FindingQuery struct {
	Limit       int
	Cursor      string
	MinSeverity *finding.Severity
	Rule        string
	VerdictID   int64
}

// FindingRow is a finding with the verdict it belongs to.
type FindingRow struct {
	VerdictID int64
	SHA256    string
	// Finding.Path is the path the file had when it was scanned.
	finding.Finding
}

// RepoSummary is a repository with files a tenant's current policy denies.
type RepoSummary struct {
	Hub, Repo   string
	MaxSeverity int
	// Files counts distinct denied contents observed in the repository.
	Files    int
	LastSeen time.Time
}

// VerdictStore records and finds verdicts and observations. Every method
// is scoped to one tenant.
type VerdictStore interface {
	// RecordVerdict stores v (ID and CreatedAt are set by the store)
	// together with observations of it, in one durable transaction. It is
	// idempotent: if a verdict with the same tenant, sha256 and versions
	// exists, that one is kept and returned with created false, and the
	// observations are still recorded.
	RecordVerdict(ctx context.Context, v *Verdict, obs ...Observation) (stored *Verdict, created bool, err error)
	// LookupVerdict returns the tenant's verdict for the content under
	// the given versions (Current), else its newest verdict under other
	// versions (Stale), else ErrNotFound. Listings are not loaded.
	LookupVerdict(ctx context.Context, tenant, sha256 string, current Versions) (*Verdict, Freshness, error)
	// Verdict returns one verdict by ID, with its listings if asked.
	Verdict(ctx context.Context, tenant string, id int64, withListings bool) (*Verdict, error)
	// ListVerdicts returns a page and the cursor of the next ("" at the end).
	ListVerdicts(ctx context.Context, tenant string, q VerdictQuery) ([]*Verdict, string, error)
	// ListFindings returns a page of findings and the next cursor.
	ListFindings(ctx context.Context, tenant string, q FindingQuery) ([]FindingRow, string, error)
	// Observe records observations (idempotently, see Observation).
	Observe(ctx context.Context, obs ...Observation) error
	// Observations lists where the tenant saw the content, latest first.
	Observations(ctx context.Context, tenant, sha256 string, limit int) ([]Observation, error)
	// FlaggedRepos lists repositories in which the tenant observed content
	// whose current verdict is deny, most severe first.
	FlaggedRepos(ctx context.Context, tenant string, current Versions, limit int) ([]RepoSummary, error)
}

// Tenant is an isolated customer of the gate.
type Tenant struct {
	// ID is a short slug: lower-case letters, digits and '-', 1–63 long.
	ID        string
	Name      string
	CreatedAt time.Time
	Policy    TenantPolicy
}

// TenantPolicy is a tenant's own policy file, merged over the default.
// An empty Text means the default policy.
type TenantPolicy struct {
	Text string
	// Format is "toml" or "yaml".
	Format string
	// Version is policy.Version() of the compiled policy, kept so that
	// readers need not compile it to know it.
	Version   string
	UpdatedAt time.Time
}

// Token is an API token. Only the SHA-256 of the secret token is stored.
type Token struct {
	// ID is public: it is part of the token and names it for revocation.
	ID        string
	Tenant    string
	Name      string
	Hash      []byte
	CreatedAt time.Time
	// RevokedAt is zero while the token is valid.
	RevokedAt time.Time
}

// TenantStore manages tenants, their policies and tokens.
type TenantStore interface {
	// CreateTenant fails with ErrExists if the ID is taken.
	CreateTenant(ctx context.Context, t Tenant) error
	Tenant(ctx context.Context, id string) (*Tenant, error)
	ListTenants(ctx context.Context) ([]Tenant, error)
	// SetPolicy replaces the tenant's policy (an empty Text restores the
	// default).
	SetPolicy(ctx context.Context, tenant string, p TenantPolicy) error
	// CreateToken stores a token; its tenant must exist.
	CreateToken(ctx context.Context, t Token) error
	// Token returns a token by ID, revoked or not.
	Token(ctx context.Context, id string) (*Token, error)
	ListTokens(ctx context.Context, tenant string) ([]Token, error)
	// RevokeToken revokes a token; revoking it again is not an error.
	RevokeToken(ctx context.Context, id string) error
}

// Store is the whole state of the gate except the queue.
type Store interface {
	VerdictStore
	TenantStore
	AlertStore
	// Ping checks the database answers (readiness).
	Ping(ctx context.Context) error
	Close() error
}

// Backend is a Store with its Queue in the same database, so a worker's
// verdict and the jobs it works from share one durable home.
type Backend interface {
	Store
	Queue
	WatchStore
	// Kind is "sqlite" or "postgres".
	Kind() string
}
