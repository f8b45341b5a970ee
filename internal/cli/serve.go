package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"modelgate/internal/dashboard"
	"modelgate/internal/gate"
	"modelgate/internal/server"
	"modelgate/internal/store"
	"modelgate/internal/version"
)

// storeFlags name the store, shared by serve and tenant.
type storeFlags struct {
	data  string
	store string
}

func (s *storeFlags) register(fs *flag.FlagSet, env Env) {
	def := env.Getenv("MODELGATE_DATA")
	if def == "" {
		def = "modelgate-data"
	}
	fs.StringVar(&s.data, "data", def, "data folder for the embedded SQLite store and temporary uploads (or $MODELGATE_DATA)")
	fs.StringVar(&s.store, "store", env.Getenv("MODELGATE_STORE"), "store URL: postgres://… for PostgreSQL, sqlite:PATH, or empty for SQLite in --data (or $MODELGATE_STORE)")
}

func (s *storeFlags) open(ctx context.Context) (store.Backend, error) {
	return store.Open(ctx, s.store, s.data, store.Options{})
}

func runServe(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("serve", "[flags]", env)
	var sf storeFlags
	sf.register(fs, env)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	adminFile := fs.String("admin-token-file", "", "file holding the admin token (or $MODELGATE_ADMIN_TOKEN); without one the admin API is off")
	maxUpload := fs.String("max-upload", "4GiB", "largest upload accepted (bytes, or with KiB, MiB, GiB)")
	maxScans := fs.Int("max-scans", 0, "scans run at once (default: all cores)")
	workers := fs.Int("workers", 1, "in-process workers taking scan jobs from the queue (0: none)")
	authCache := fs.Duration("auth-cache", gate.DefaultCacheTTL, "how long a token or tenant read from the store is trusted in memory")
	shutdown := fs.Duration("shutdown-timeout", 2*time.Minute, "how long shutdown waits for scans under way")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	secure := fs.Bool("secure-cookies", false, "mark the dashboard cookie Secure (set when users reach the gate over HTTPS)")
	noDashboard := fs.Bool("no-dashboard", false, "do not serve the dashboard at /ui/")
	if _, err := parseInterleaved(fs, args); err != nil {
		return flagExit(err)
	}
	fail := func(err error) int {
		fmt.Fprintln(env.Stderr, "modelgate serve:", err)
		return ExitError
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fail(fmt.Errorf("--log-level: %w", err))
	}
	upload, err := parseSize(*maxUpload)
	if err != nil {
		return fail(fmt.Errorf("--max-upload: %w", err))
	}
	adminHash, err := adminToken(*adminFile, env)
	if err != nil {
		return fail(err)
	}
	log := slog.New(slog.NewJSONHandler(lockedWriter{mu: new(sync.Mutex), w: env.Stderr}, &slog.HandlerOptions{Level: level}))

	b, err := sf.open(ctx)
	if err != nil {
		return fail(err)
	}
	defer b.Close()
	tmp := filepath.Join(sf.data, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fail(err)
	}
	// Uploads left by a crash: nobody will answer them now.
	if stale, _ := filepath.Glob(filepath.Join(tmp, "upload-*")); len(stale) > 0 {
		for _, p := range stale {
			os.Remove(p)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), gate.NewQueueCollector(b))
	g := gate.New(gate.Options{Store: b, Queue: b, AdminTokenSHA256: adminHash, TempDir: tmp, MaxUpload: upload,
		MaxScans: *maxScans, CacheTTL: *authCache, Logger: log, Metrics: gate.NewMetrics(reg)})
	so := server.Options{Gate: g, Registry: reg, Logger: log, ShutdownTimeout: *shutdown}
	if !*noDashboard {
		so.Dashboard = dashboard.New(dashboard.Options{Gate: g, Secure: *secure, Logger: log})
	}
	srv := server.New(so)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fail(err)
	}
	if adminHash == nil {
		log.Warn("no admin token: the admin API is off; create tenants and tokens with 'modelgate tenant'")
	}
	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.String("store", b.Kind()),
		slog.String("version", version.Version), slog.String("scanner", version.Scanner))

	var wg sync.WaitGroup
	for i := range *workers {
		w := &gate.Worker{Queue: b, Handlers: g.Handlers(), Owner: fmt.Sprintf("serve-%d-%d", os.Getpid(), i), Logger: log, Metrics: g.Metrics()}
		wg.Go(func() { w.Run(ctx) })
	}
	err = srv.Serve(ctx, ln)
	wg.Wait()
	if err != nil {
		return fail(err)
	}
	return ExitOK
}

// adminToken reads the admin token from a file or the environment and
// returns its SHA-256; nil when none is configured.
func adminToken(file string, env Env) ([]byte, error) {
	tok := env.Getenv("MODELGATE_ADMIN_TOKEN")
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--admin-token-file: %w", err)
		}
		tok = strings.TrimSpace(string(b))
	}
	if tok == "" {
		return nil, nil
	}
	if len(tok) < 32 {
		return nil, errors.New("the admin token is too short (at least 32 characters; 'modelgate tenant admin-token' makes one)")
	}
	return gate.HashToken(tok), nil
}

// lockedWriter serializes log writes: slog's JSON handler writes each
// record with one Write, but the CLI's writer may be a plain buffer.
type lockedWriter struct {
	mu *sync.Mutex
	w  interface{ Write([]byte) (int, error) }
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
