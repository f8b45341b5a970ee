package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"modelgate/internal/alert"
	"modelgate/internal/finding"
	"modelgate/internal/gate"
	"modelgate/internal/gatehub"
	"modelgate/internal/hub"
	"modelgate/internal/version"
	"modelgate/internal/watch"
)

// runWatch follows a hub's new uploads for a tenant: see internal/watch.
func runWatch(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("watch", "--tenant ID [flags]", env)
	var sf storeFlags
	sf.register(fs, env)
	var hf hubFlags
	hf.register(fs, env)
	tenant := fs.String("tenant", "", "the tenant the watcher acts for: verdicts and alerts are its (required; 'modelgate tenant create' makes one)")
	name := fs.String("name", "", "the watch's name, under which its progress is stored (default TENANT@HUB/TYPE)")
	typ := fs.String("type", "models", "repositories to follow: models, datasets or spaces")
	var authors, filters, files stringList
	fs.Var(&authors, "author", "follow only this author or organisation (repeatable, or comma-separated)")
	fs.Var(&filters, "filter", "follow only repositories with this tag (repeatable: all must match)")
	fs.Var(&files, "files", "scan only files whose path or name matches this pattern, e.g. '*.bin' (repeatable, or comma-separated)")
	interval := fs.Duration("interval", time.Minute, "wait between polls of the listing")
	overlap := fs.Duration("overlap", 10*time.Minute, "how far below the high-water mark each poll looks again")
	since := fs.Duration("since", time.Hour, "how far back a new watch starts")
	pageSize := fs.Int("page-size", 1000, "listing page size to ask for")
	severity := fs.String("alert-severity", "high", "raise an alert for verdicts with a finding at or above this severity")
	webhook := fs.String("webhook", "", "POST alerts to this URL, signed (see docs/gate.md); without one alerts are logged and recorded only")
	secretFile := fs.String("webhook-secret-file", "", "file holding the webhook's HMAC secret (or $MODELGATE_WEBHOOK_SECRET); required with --webhook")
	attempts := fs.Int("webhook-attempts", alert.DefaultMaxAttempts, "delivery attempts before an alert is marked failed")
	workers := fs.Int("workers", 1, "scan jobs run at once in this process (0: leave scanning to 'modelgate worker' processes)")
	maxScans := fs.Int("max-scans", 0, "scans run at once (default: all cores)")
	retention := fs.Duration("job-retention", 7*24*time.Hour, "delete done and failed jobs older than this (hourly)")
	once := fs.Bool("once", false, "poll once, wait for the scans, raise and deliver the alerts, then exit")
	metricsAddr := fs.String("metrics-addr", "", "serve /metrics and /healthz on this address (default: off)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if _, err := parseInterleaved(fs, args); err != nil {
		return flagExit(err)
	}
	fail := func(err error) int {
		fmt.Fprintln(env.Stderr, "modelgate watch:", err)
		return ExitError
	}
	if *tenant == "" {
		fs.Usage()
		return fail(errors.New("--tenant is required"))
	}
	sev, err := finding.ParseSeverity(*severity)
	if err != nil {
		return fail(fmt.Errorf("--alert-severity: %w", err))
	}
	log, err := newLogger(*logLevel, env)
	if err != nil {
		return fail(err)
	}
	cfg := watch.Config{ID: *name, Tenant: *tenant, Type: hub.RepoType(*typ), Authors: splitList(authors), Filters: filters,
		Include: splitList(files), Interval: *interval, Overlap: *overlap, Since: *since, PageSize: *pageSize,
		AlertSeverity: sev, WebhookAttempts: *attempts, Workers: *workers, JobRetention: *retention, Logger: log}
	if *webhook != "" {
		wh, err := webhookOf(*webhook, *secretFile, env)
		if err != nil {
			return fail(err)
		}
		cfg.Webhook = wh
	}
	b, err := sf.open(ctx)
	if err != nil {
		return fail(err)
	}
	defer b.Close()
	hc, _, err := hf.client(env, log)
	if err != nil {
		return fail(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), gate.NewQueueCollector(b))
	g := gate.New(gate.Options{Store: b, Queue: b, Hub: gatehub.New(hc), MaxScans: *maxScans, Logger: log, Metrics: gate.NewMetrics(reg)})
	w, err := watch.New(g, b, hc, cfg)
	if err != nil {
		return fail(err)
	}
	if *metricsAddr != "" {
		if err := serveMetrics(ctx, *metricsAddr, reg, log); err != nil {
			return fail(err)
		}
	}
	log.Info("watching", slog.String("watch", w.ID()), slog.String("hub", hc.Endpoint()), slog.String("tenant", *tenant),
		slog.String("store", b.Kind()), slog.Bool("webhook", cfg.Webhook != nil), slog.Int("workers", *workers),
		slog.String("version", version.Version))
	if *once {
		sum, err := w.RunOnce(ctx)
		if err != nil {
			return fail(err)
		}
		log.Info("done", slog.Int("listed", sum.Poll.Listed), slog.Int("enqueued", sum.Poll.Enqueued), slog.Int("alerts", len(sum.Alerts)))
		return ExitOK
	}
	if err := w.Run(ctx); err != nil {
		return fail(err)
	}
	log.Info("stopped")
	return ExitOK
}

// webhookOf checks the webhook URL and reads its secret.
func webhookOf(raw, secretFile string, env Env) (*alert.Webhook, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("--webhook %q is not an http(s) URL", raw)
	}
	secret := env.Getenv("MODELGATE_WEBHOOK_SECRET")
	if secretFile != "" {
		b, err := os.ReadFile(secretFile)
		if err != nil {
			return nil, fmt.Errorf("--webhook-secret-file: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	if len(secret) < 16 {
		return nil, errors.New("--webhook needs a secret of at least 16 characters (--webhook-secret-file or $MODELGATE_WEBHOOK_SECRET): unsigned alerts could be forged")
	}
	return &alert.Webhook{URL: raw, Secret: []byte(secret)}, nil
}

// splitList splits comma-separated values of a repeatable flag.
func splitList(l stringList) []string {
	var out []string
	for _, v := range l {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
