package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"modelgate/internal/dashboard"
	"modelgate/internal/gate"
	"modelgate/internal/gatehub"
	"modelgate/internal/hub"
	"modelgate/internal/proxy"
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
	var hf hubFlags
	hf.register(fs, env)
	noHub := fs.Bool("no-hub", false, "no upstream hub: POST /v1/admit answers 501 and there is no download proxy")
	blobCache := fs.String("blob-cache", "20GiB", "disk kept for verified files the proxy has downloaded, so repeated and ranged downloads don't read the upstream again (0: off; in --data/blobs)")
	noProxy := fs.Bool("no-proxy", false, "do not serve the hub-compatible download proxy (/api/…, /{repo}/resolve/…)")
	publicURL := fs.String("public-url", "", "the gate's URL as clients reach it, for the proxy's pagination links (default: the request's Host, over http unless TLS)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return flagExit(err)
	}
	fail := func(err error) int {
		fmt.Fprintln(env.Stderr, "modelgate serve:", err)
		return ExitError
	}
	log, err := newLogger(*logLevel, env)
	if err != nil {
		return fail(err)
	}
	upload, err := parseSize(*maxUpload)
	if err != nil {
		return fail(fmt.Errorf("--max-upload: %w", err))
	}
	adminHash, err := adminToken(*adminFile, env)
	if err != nil {
		return fail(err)
	}
	b, err := sf.open(ctx)
	if err != nil {
		return fail(err)
	}
	defer b.Close()
	tmp := filepath.Join(sf.data, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fail(err)
	}
	// Uploads and proxied files left by a crash: nobody will answer them now.
	for _, pat := range []string{"upload-*", "proxy-*"} {
		stale, _ := filepath.Glob(filepath.Join(tmp, pat))
		for _, p := range stale {
			os.Remove(p)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), gate.NewQueueCollector(b))
	gopts := gate.Options{Store: b, Queue: b, AdminTokenSHA256: adminHash, TempDir: tmp, MaxUpload: upload,
		MaxScans: *maxScans, CacheTTL: *authCache, Logger: log, Metrics: gate.NewMetrics(reg)}
	var hc *hub.Client
	var hubToken string
	if !*noHub {
		if hc, hubToken, err = hf.client(env, log); err != nil {
			return fail(err)
		}
		gopts.Hub = gatehub.New(hc)
	}
	g := gate.New(gopts)
	so := server.Options{Gate: g, Registry: reg, Logger: log, ShutdownTimeout: *shutdown}
	if !*noDashboard {
		so.Dashboard = dashboard.New(dashboard.Options{Gate: g, Secure: *secure, Logger: log})
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fail(err)
	}
	if hc != nil && !*noProxy {
		if sameHost(hc.Endpoint(), ln.Addr().String(), *publicURL) {
			ln.Close()
			return fail(fmt.Errorf("the hub %s is this gate itself (is HF_ENDPOINT pointed at the gate? set --hub)", hc.Endpoint()))
		}
		popts := proxy.Options{Gate: g, Client: hc, Token: hubToken, PublicURL: *publicURL, TempDir: tmp,
			Logger: log, Registerer: reg}
		if *blobCache != "0" {
			n, err := parseSize(*blobCache)
			if err != nil {
				ln.Close()
				return fail(fmt.Errorf("--blob-cache: %w", err))
			}
			popts.BlobDir, popts.BlobMaxBytes = filepath.Join(sf.data, "blobs"), n
		}
		p, err := proxy.New(popts)
		if err != nil {
			ln.Close()
			return fail(err)
		}
		so.Proxy = p
	}
	srv := server.New(so)
	if adminHash == nil {
		log.Warn("no admin token: the admin API is off; create tenants and tokens with 'modelgate tenant'")
	}
	hubName := "none"
	if hc != nil {
		hubName = hc.Endpoint()
	}
	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.String("store", b.Kind()),
		slog.String("hub", hubName), slog.Bool("proxy", so.Proxy != nil), slog.Bool("hub_token", hubToken != ""),
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

// sameHost reports whether the hub URL names the gate's own listener or
// public URL, which would make the proxy call itself.
func sameHost(hubURL, listen, public string) bool {
	u, err := url.Parse(hubURL)
	if err != nil {
		return false
	}
	if p, err := url.Parse(public); err == nil && public != "" && strings.EqualFold(p.Host, u.Host) {
		return true
	}
	_, lport, _ := net.SplitHostPort(listen)
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || port != lport {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && (ip.IsLoopback() || ip.IsUnspecified())) || u.Host == listen
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
