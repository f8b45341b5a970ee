package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"modelgate/internal/gate"
	"modelgate/internal/gatehub"
	"modelgate/internal/version"
)

// runWorker takes scan jobs from the store's queue until it is stopped:
// the scale-out half of the gate. Any number of workers, on any number of
// machines, share a PostgreSQL store.
func runWorker(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("worker", "[flags]", env)
	var sf storeFlags
	sf.register(fs, env)
	var hf hubFlags
	hf.register(fs, env)
	concurrency := fs.Int("concurrency", 2, "jobs run at once")
	maxScans := fs.Int("max-scans", 0, "scans run at once (default: all cores)")
	lease := fs.Duration("lease", 0, "how long a job is held without a heartbeat before another worker may take it (default 2m)")
	metricsAddr := fs.String("metrics-addr", "", "serve /metrics and /healthz on this address (default: off)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if _, err := parseInterleaved(fs, args); err != nil {
		return flagExit(err)
	}
	fail := func(err error) int {
		fmt.Fprintln(env.Stderr, "modelgate worker:", err)
		return ExitError
	}
	log, err := newLogger(*logLevel, env)
	if err != nil {
		return fail(err)
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
	if *metricsAddr != "" {
		if err := serveMetrics(ctx, *metricsAddr, reg, log); err != nil {
			return fail(err)
		}
	}
	host, _ := os.Hostname()
	w := &gate.Worker{Queue: b, Handlers: g.Handlers(), Owner: fmt.Sprintf("worker-%s-%d", host, os.Getpid()),
		Concurrency: *concurrency, Lease: *lease, Logger: log, Metrics: g.Metrics()}
	log.Info("worker started", slog.String("store", b.Kind()), slog.String("hub", hc.Endpoint()),
		slog.Int("concurrency", *concurrency), slog.String("version", version.Version), slog.String("scanner", version.Scanner))
	w.Run(ctx) // returns after ctx ends and the jobs under way finish
	log.Info("worker stopped")
	return ExitOK
}
