// Package gate is the admission logic of `modelgate serve`, independent of
// HTTP: it scans uploads, looks up verdicts, admits repository revisions,
// authenticates tokens to tenants, and runs scan jobs from the queue. Every
// operation is scoped to one tenant and judged under that tenant's policy.
package gate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"modelgate/internal/finding"
	"modelgate/internal/policy"
	"modelgate/internal/report"
	"modelgate/internal/scan"
	"modelgate/internal/store"
	"modelgate/internal/version"
)

// Errors the API maps to HTTP statuses.
var (
	ErrUnauthorized = errors.New("gate: missing, unknown or revoked token")
	ErrTooLarge     = errors.New("gate: upload over the size limit")
	ErrNoHub        = errors.New("gate: no hub is configured")
	ErrInvalid      = errors.New("gate: invalid request")
)

// Scanner scans content under a policy without executing it. The default
// runs internal/scan with decompiled listings; tests substitute slow or
// counting scanners.
type Scanner interface {
	Scan(ctx context.Context, pol *policy.Policy, path string, r io.ReaderAt, size int64, sha256 string) *report.File
}

// Options configure a Gate.
type Options struct {
	Store store.Store
	// Queue, if set, lets Admit answer "pending" and enqueue scans
	// instead of scanning in the request, and runs scan jobs.
	Queue store.Queue
	// Hub lists and opens repository files for Admit and scan jobs.
	Hub Hub
	// Scanner defaults to internal/scan.
	Scanner Scanner
	// AdminTokenSHA256 is the SHA-256 of the admin token; nil disables
	// the admin API.
	AdminTokenSHA256 []byte
	// TempDir holds uploads while they are scanned; default os.TempDir().
	TempDir string
	// MaxUpload bounds an upload's size; default DefaultMaxUpload.
	MaxUpload int64
	// MaxScans bounds concurrent scans; default GOMAXPROCS.
	MaxScans int
	// CacheTTL bounds how long a token or tenant read from the store is
	// trusted in memory. A token revoked through another gate process
	// stops working within this time; through this one, at once.
	// Default DefaultCacheTTL; negative disables the cache.
	CacheTTL time.Duration
	// VerdictCacheBytes bounds the memory of current verdicts kept for
	// lookups; default DefaultVerdictCacheBytes, negative disables it.
	VerdictCacheBytes int
	Logger            *slog.Logger
	Metrics           *Metrics
	Now               func() time.Time
}

// Defaults.
const (
	DefaultMaxUpload = 4 << 30
	DefaultCacheTTL  = 2 * time.Second
	// DefaultVerdictCacheBytes is the default budget of the verdict cache.
	DefaultVerdictCacheBytes = 64 << 20
	// maxListingBytes bounds the decompiled pickle text kept per verdict.
	maxListingBytes = 1 << 20
)

// Gate is the gate's logic. It is safe for concurrent use.
type Gate struct {
	opts     Options
	st       store.Store
	rules    *finding.Catalogue
	log      *slog.Logger
	met      *Metrics
	sem      chan struct{}
	auth     *authCache
	policies *policyCache
	verdicts *verdictCache
	flight   flight
	// inflight counts scans under way, for graceful shutdown.
	inflight sync.WaitGroup
}

// New returns a gate.
func New(o Options) *Gate {
	if o.Scanner == nil {
		o.Scanner = NewScanner()
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	if o.MaxUpload <= 0 {
		o.MaxUpload = DefaultMaxUpload
	}
	if o.MaxScans <= 0 {
		o.MaxScans = runtime.GOMAXPROCS(0)
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = DefaultCacheTTL
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.VerdictCacheBytes == 0 {
		o.VerdictCacheBytes = DefaultVerdictCacheBytes
	}
	return &Gate{
		opts: o, st: o.Store, rules: finding.Default(), log: o.Logger, met: o.Metrics,
		sem:      make(chan struct{}, o.MaxScans),
		auth:     newAuthCache(o.CacheTTL, o.Now),
		policies: newPolicyCache(o.CacheTTL, o.Now),
		verdicts: newVerdictCache(o.VerdictCacheBytes),
	}
}

// Store returns the gate's store.
func (g *Gate) Store() store.Store { return g.st }

// Queue returns the gate's queue, or nil.
func (g *Gate) Queue() store.Queue { return g.opts.Queue }

// Hub returns the gate's hub, or nil.
func (g *Gate) Hub() Hub { return g.opts.Hub }

// Metrics returns the gate's metrics.
func (g *Gate) Metrics() *Metrics { return g.met }

// Wait blocks until scans under way have finished (graceful shutdown).
func (g *Gate) Wait() { g.inflight.Wait() }

// defaultScanner scans with internal/scan, one Scanner per policy.
type defaultScanner struct {
	mu sync.Mutex
	by map[*policy.Policy]*scan.Scanner
}

// NewScanner returns the default Scanner.
func NewScanner() Scanner { return &defaultScanner{by: map[*policy.Policy]*scan.Scanner{}} }

func (d *defaultScanner) Scan(ctx context.Context, pol *policy.Policy, path string, r io.ReaderAt, size int64, sha string) *report.File {
	d.mu.Lock()
	s, ok := d.by[pol]
	if !ok {
		if len(d.by) > 256 {
			clear(d.by) // policies replaced over a long run
		}
		s = scan.New(scan.Options{Policy: pol, Explain: true, Jobs: 1})
		d.by[pol] = s
	}
	d.mu.Unlock()
	return s.ScanReader(ctx, path, r, size, sha)
}

// Policy is a tenant's compiled policy and what verdicts under it are
// keyed by.
type Policy struct {
	*policy.Policy
	Versions  store.Versions
	Threshold finding.Severity
}

// Decide applies the policy's fail threshold to a scan result.
func (p *Policy) Decide(f *report.File, rules *finding.Catalogue) store.Decision {
	if report.FileFails(f, p.Threshold, false, rules) {
		return store.Deny
	}
	return store.Allow
}

func compiled(p *policy.Policy) *Policy {
	th, _ := p.FailOn()
	return &Policy{Policy: p, Versions: store.Versions{Scanner: version.Scanner, Policy: p.Version()}, Threshold: th}
}

// scanContent scans content under a tenant's policy and records the
// verdict with its observations. Concurrent scans of the same content for
// the same tenant and versions are joined into one.
func (g *Gate) scanContent(ctx context.Context, tenant string, pol *Policy, path string, r io.ReaderAt, size int64, sha string, src store.Source, obs ...store.Observation) (*store.Verdict, error) {
	key := tenant + "\x00" + sha + "\x00" + pol.Versions.Scanner + "\x00" + pol.Versions.Policy
	if sha == "" {
		key = "" // unknown content: never joined
	}
	return g.flight.do(key, func() (*store.Verdict, error) {
		g.inflight.Add(1)
		defer g.inflight.Done()
		select {
		case g.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		defer func() { <-g.sem }()
		start := g.opts.Now()
		g.met.scansInFlight.Inc()
		tr := &readTracker{r: r}
		res := g.opts.Scanner.Scan(ctx, pol.Policy, path, tr, size, sha)
		g.met.scansInFlight.Dec()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := tr.failed(); err != nil {
			// The bytes could not be read (a network failure, content
			// that differs from the hub's listed hash): that says nothing
			// about the content, so no verdict is recorded for it.
			return nil, fmt.Errorf("gate: reading %s failed during the scan: %w", path, err)
		}
		trimListings(res)
		d := pol.Decide(res, g.rules)
		v, err := store.NewVerdict(tenant, pol.Versions, d, res)
		if err != nil {
			return nil, err
		}
		stored, _, err := g.st.RecordVerdict(ctx, v, obs...)
		if err != nil {
			return nil, err
		}
		g.met.observeScan(res.Format, string(d), string(src), size, g.opts.Now().Sub(start))
		g.log.LogAttrs(ctx, slog.LevelInfo, "scan", slog.String("tenant", tenant), slog.String("sha256", res.SHA256),
			slog.String("path", path), slog.String("format", res.Format), slog.String("decision", string(d)),
			slog.Int("findings", len(res.Findings)), slog.String("source", string(src)),
			slog.Duration("took", g.opts.Now().Sub(start)))
		return stored, nil
	})
}

// readTracker remembers the first read error other than io.EOF.
type readTracker struct {
	r   io.ReaderAt
	mu  sync.Mutex
	err error
}

func (t *readTracker) ReadAt(p []byte, off int64) (int, error) {
	n, err := t.r.ReadAt(p, off)
	if err != nil && err != io.EOF {
		t.mu.Lock()
		if t.err == nil {
			t.err = err
		}
		t.mu.Unlock()
	}
	return n, err
}

func (t *readTracker) failed() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// trimListings keeps the decompiled pickles within maxListingBytes.
func trimListings(f *report.File) {
	left := maxListingBytes
	for i := range f.Listings {
		t := f.Listings[i].Text
		if len(t) > left {
			cut := max(left, 0)
			for cut > 0 && cut < len(t) && t[cut]&0xC0 == 0x80 {
				cut-- // keep UTF-8 whole
			}
			f.Listings[i].Text = t[:cut] + "\n# … listing truncated by the gate (over 1 MiB)\n"
		}
		left -= len(f.Listings[i].Text)
	}
}
