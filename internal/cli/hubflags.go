package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"modelgate/internal/hub"
)

// hubFlags name the upstream hub of serve, watch and worker, and the
// gate's own credential for it.
type hubFlags struct {
	endpoint  string
	tokenFile string
}

func (h *hubFlags) register(fs *flag.FlagSet, env Env) {
	def := env.Getenv("HF_ENDPOINT")
	if def == "" {
		def = hub.DefaultEndpoint
	}
	fs.StringVar(&h.endpoint, "hub", def, "the hub to read repositories from ($HF_ENDPOINT, else the public hub)")
	fs.StringVar(&h.tokenFile, "hub-token-file", "", "file holding the gate's own hub token (or $MODELGATE_HUB_TOKEN); use a read-only token")
}

// client returns the hub client and the gate's hub token. The token comes
// only from --hub-token-file or MODELGATE_HUB_TOKEN, never from HF_TOKEN
// or the official client's login file: on a gate's machine HF_TOKEN may
// well be a tenant token meant for the gate, and a personal login token
// (often with write access) must not silently become the credential every
// tenant's downloads use.
func (h *hubFlags) client(env Env, log *slog.Logger) (*hub.Client, string, error) {
	tok := strings.TrimSpace(env.Getenv("MODELGATE_HUB_TOKEN"))
	if h.tokenFile != "" {
		b, err := os.ReadFile(h.tokenFile)
		if err != nil {
			return nil, "", fmt.Errorf("--hub-token-file: %w", err)
		}
		tok = strings.TrimSpace(string(b))
	}
	c, err := hub.New(hub.Config{Endpoint: h.endpoint, Token: tok, Logger: log})
	if err != nil {
		return nil, "", err
	}
	return c, tok, nil
}

// newLogger is the JSON logger of the long-running commands.
func newLogger(level string, env Env) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewJSONHandler(lockedWriter{mu: new(sync.Mutex), w: env.Stderr}, &slog.HandlerOptions{Level: l})), nil
}

// serveMetrics serves /metrics and /healthz on addr until ctx ends; for
// watch and worker, which have no API server of their own.
func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info("metrics listening", slog.String("addr", ln.Addr().String()))
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", slog.Any("error", err))
		}
	}()
	return nil
}
