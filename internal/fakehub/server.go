package fakehub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Server serves a Hub on loopback: the API on one port, the CDN that LFS
// downloads redirect to on another (a different origin, as on the real
// hub, so a client that leaks its token to the CDN is caught).
type Server struct {
	Hub *Hub
	// URL is the endpoint (HF_ENDPOINT); CDNURL the CDN's base URL.
	URL, CDNURL string
	api, cdn    *http.Server
}

// Start serves h on addr and cdnAddr ("" for 127.0.0.1 on a free port).
// Only loopback addresses are accepted: the fake hub is never exposed.
func Start(h *Hub, addr, cdnAddr string) (*Server, error) {
	apiLn, err := listenLoopback(addr)
	if err != nil {
		return nil, err
	}
	cdnLn, err := listenLoopback(cdnAddr)
	if err != nil {
		apiLn.Close()
		return nil, err
	}
	s := &Server{
		Hub:    h,
		URL:    "http://" + apiLn.Addr().String(),
		CDNURL: "http://" + cdnLn.Addr().String(),
		api:    &http.Server{Handler: h.API(), ReadHeaderTimeout: 10 * time.Second},
		cdn:    &http.Server{Handler: h.CDN(), ReadHeaderTimeout: 10 * time.Second},
	}
	h.SetCDNBase(s.CDNURL)
	go s.api.Serve(apiLn)
	go s.cdn.Serve(cdnLn)
	return s, nil
}

func listenLoopback(addr string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("fakehub: %q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("fakehub: %s is not a loopback address; the fake hub only listens on 127.0.0.1", addr)
	}
	if host == "localhost" {
		addr = net.JoinHostPort("127.0.0.1", addr[len(host)+1:])
	}
	return net.Listen("tcp", addr)
}

// Close stops both servers.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(s.api.Shutdown(ctx), s.cdn.Shutdown(ctx))
}
