// Package server is the HTTP face of the gate (`modelgate serve`): the JSON
// API under /v1 (docs/openapi.yaml), the admin API, /metrics, /healthz,
// /readyz and the dashboard. Handlers only parse, authorize and encode; the
// work is in package gate.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"modelgate/internal/gate"
)

// Options configure a Server.
type Options struct {
	Gate *gate.Gate
	// Registry collects the metrics served at /metrics; the server adds
	// its HTTP metrics to it.
	Registry *prometheus.Registry
	// Dashboard, if set, is mounted at /ui/.
	Dashboard http.Handler
	// Proxy, if set, serves the hub-compatible routes (/api/…, and
	// /{repo}/resolve/{revision}/{path}) that no route of the gate's own
	// takes.
	Proxy  HubProxy
	Logger *slog.Logger
	// ShutdownTimeout bounds the wait for requests under way (uploads
	// being scanned) on shutdown; default 2 minutes.
	ShutdownTimeout time.Duration
}

// HubProxy is the hub-compatible download proxy (internal/proxy).
type HubProxy interface {
	http.Handler
	// Match reports whether the proxy serves a request, and the route
	// that labels it in metrics.
	Match(r *http.Request) (route string, ok bool)
	// Routes lists the proxy's documented operations ("GET /api/…").
	Routes() []string
}

// Server serves the gate over HTTP.
type Server struct {
	g        *gate.Gate
	log      *slog.Logger
	mux      *http.ServeMux
	reg      *prometheus.Registry
	opts     Options
	draining atomic.Bool
	routes   []Route
	proxied  map[string]http.Handler // instrumented proxy, by route
	proxyMu  sync.Mutex
	reqs     *prometheus.CounterVec
	dur      *prometheus.HistogramVec
}

// Route is a registered method and path pattern.
type Route struct{ Method, Path string }

// New builds the server and its routes.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 2 * time.Minute
	}
	s := &Server{g: o.Gate, log: o.Logger, mux: http.NewServeMux(), reg: o.Registry, opts: o}
	s.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "modelgate_http_requests_total",
		Help: "HTTP requests by route and status code."}, []string{"route", "code"})
	s.dur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "modelgate_http_request_duration_seconds",
		Help: "HTTP request latency by route.", Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 60}},
		[]string{"route"})
	s.reg.MustRegister(s.reqs, s.dur)
	s.routesAPI()
	s.handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}))
	s.handle("GET /readyz", http.HandlerFunc(s.readyz))
	s.handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	if o.Dashboard != nil {
		s.mux.Handle("/ui/", s.instrument("/ui/", o.Dashboard))
		s.mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
	}
	if o.Proxy != nil {
		// The proxy's paths (/{org}/{name}/resolve/…) overlap the mux's
		// patterns in ways it refuses to register, so requests no gate
		// route takes are handed to the proxy here.
		s.proxied = map[string]http.Handler{}
		for _, op := range o.Proxy.Routes() {
			method, path, _ := cutPattern(op)
			s.routes = append(s.routes, Route{method, path})
		}
	}
	return s
}

// Routes lists the API's routes (for tests against docs/openapi.yaml).
func (s *Server) Routes() []Route { return s.routes }

func (s *Server) handle(pattern string, h http.Handler) {
	method, path, _ := cutPattern(pattern)
	s.routes = append(s.routes, Route{method, path})
	s.mux.Handle(pattern, s.instrument(pattern, h))
}

func cutPattern(p string) (method, path string, ok bool) {
	method, path, ok = strings.Cut(p, " ")
	if !ok {
		return "", p, false
	}
	return method, path, true
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.proxied != nil && !strings.HasPrefix(r.URL.Path, "/v1/") {
		if route, ok := s.opts.Proxy.Match(r); ok {
			if _, pattern := s.mux.Handler(r); pattern == "" {
				s.proxyHandler(route).ServeHTTP(w, r)
				return
			}
		}
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) proxyHandler(route string) http.Handler {
	s.proxyMu.Lock()
	defer s.proxyMu.Unlock()
	h, ok := s.proxied[route]
	if !ok {
		h = s.instrument(route, s.opts.Proxy)
		s.proxied[route] = h
	}
	return h
}

// instrument records metrics and an access log line, and turns a panic
// into a 500.
func (s *Server) instrument(route string, h http.Handler) http.Handler {
	_, label, _ := cutPattern(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic", slog.String("route", label), slog.Any("panic", p))
				if !sw.wrote {
					writeError(sw, http.StatusInternalServerError, "internal", "internal error")
				}
			}
			took := time.Since(start)
			s.reqs.WithLabelValues(label, strconv.Itoa(sw.code)).Inc()
			s.dur.WithLabelValues(label).Observe(took.Seconds())
			// Successful requests are logged at debug level: at thousands
			// of lookups a second, a line each would cost more than the
			// lookup. Failures and slow requests are logged at info.
			level := slog.LevelDebug
			if sw.code >= 400 || took > time.Second {
				level = slog.LevelInfo
			}
			if s.log.Enabled(r.Context(), level) {
				s.log.LogAttrs(r.Context(), level, "http", slog.String("method", r.Method),
					slog.String("route", label), slog.Int("status", sw.code), slog.Duration("took", took),
					slog.String("remote", r.RemoteAddr))
			}
		}()
		h.ServeHTTP(sw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "shutting down")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.g.Store().Ping(ctx); err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "store: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// Serve serves on ln until ctx is cancelled, then shuts down gracefully:
// /readyz turns 503, the listener closes, requests under way (uploads
// being scanned) finish, and scans detached from their requests finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.log.Info("shutting down: finishing requests under way", slog.Duration("timeout", s.opts.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	done := make(chan struct{})
	go func() { s.g.Wait(); close(done) }()
	select {
	case <-done:
	case <-sctx.Done():
	}
	if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) {
		err = errors.Join(err, e)
	}
	s.log.Info("shut down")
	return err
}
