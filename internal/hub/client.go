// Package hub is a client for the Hugging Face Hub HTTP API, and for any
// server with the same API (HF_ENDPOINT): repository info, file trees,
// listings and Range downloads, with retries, rate-limit handling and a
// shared block cache so that remote files can be read as io.ReaderAt
// without downloading them in full.
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"modelgate/internal/version"
)

// DefaultEndpoint is the public hub.
const DefaultEndpoint = "https://huggingface.co"

// Config configures a Client. Zero fields take the defaults noted.
type Config struct {
	// Endpoint is the hub's base URL (default DefaultEndpoint).
	Endpoint string
	// Token is sent as "Authorization: Bearer" to the endpoint only,
	// never to another host a redirect leads to.
	Token string
	// HTTPClient is used for requests; its redirect policy is replaced,
	// since the client follows redirects itself. Default: a client with
	// dial, TLS and response-header timeouts.
	HTTPClient *http.Client
	// UserAgent is sent with every request.
	UserAgent string
	// MaxRetries is how often a request is retried after a network
	// error, a 5xx or a 429 (default 5).
	MaxRetries int
	// MaxWait is the longest the client waits before a retry; a 429 that
	// asks for longer fails with the wait in the error (default 2m).
	MaxWait time.Duration
	// RequestTimeout bounds one request, its body included (default 2m).
	RequestTimeout time.Duration
	// BlockSize is the unit of Range reads and of the block cache
	// (default 64 KiB, the size of the probe every file gets).
	BlockSize int64
	// CacheBytes bounds the block cache shared by every open file
	// (default 64 MiB).
	CacheBytes int64
	// WholeFileMax: files up to this size are fetched whole on first
	// read and verified at once (default 1 MiB).
	WholeFileMax int64
	// MaxEntries bounds the entries a tree listing may return (default
	// 1,000,000).
	MaxEntries int
	Logger     *slog.Logger
	// sleep waits; tests replace it.
	sleep func(context.Context, time.Duration) error
}

// Client talks to one hub. It is safe for concurrent use.
type Client struct {
	cfg      Config
	base     *url.URL
	http     *http.Client
	cache    *blockCache
	bytes    atomic.Int64
	requests atomic.Int64
}

// maxAPIBody bounds a JSON answer; a hostile endpoint cannot make the
// client allocate more.
const maxAPIBody = 64 << 20

// New returns a client.
func New(cfg Config) (*Client, error) {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	base, err := url.Parse(strings.TrimRight(cfg.Endpoint, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("hub: endpoint %q is not an http(s) URL", cfg.Endpoint)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "modelgate/" + version.Version
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 5
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 2 * time.Minute
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 2 * time.Minute
	}
	if cfg.BlockSize <= 0 {
		cfg.BlockSize = 64 << 10
	}
	if cfg.CacheBytes == 0 {
		cfg.CacheBytes = 64 << 20
	}
	if cfg.WholeFileMax == 0 {
		cfg.WholeFileMax = 1 << 20
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = 1_000_000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.sleep == nil {
		cfg.sleep = sleepCtx
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   15 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   16,
		}}
	}
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{cfg: cfg, base: base, http: &c, cache: newBlockCache(cfg.CacheBytes)}, nil
}

// Endpoint returns the hub's base URL.
func (c *Client) Endpoint() string { return c.base.String() }

// BytesRead is the total of response body bytes read so far.
func (c *Client) BytesRead() int64 { return c.bytes.Load() }

// Requests is the number of HTTP requests sent so far, retries included.
func (c *Client) Requests() int64 { return c.requests.Load() }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// request describes one call; body, if set, makes a fresh body per attempt.
type request struct {
	method string
	url    string // absolute, or a path on the endpoint
	header http.Header
	body   func() io.Reader
	// stream lifts RequestTimeout from the body: a streamed download
	// may take longer, and its reader bounds idle time instead.
	stream bool
}

// do sends a request, following redirects and retrying network errors,
// 5xx and 429 answers with backoff. The caller must close the body of a
// successful (2xx, or 3xx for a HEAD) response; other statuses come back
// as *Error.
func (c *Client) do(ctx context.Context, rq request) (*http.Response, error) {
	var lastErr error
	for attempt := 0; ; attempt++ {
		resp, err := c.follow(ctx, rq)
		if err == nil && (resp.StatusCode < 300 || rq.method == http.MethodHead && resp.StatusCode < 400) {
			return resp, nil // a HEAD keeps its redirect: see follow
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		wait := backoff(attempt)
		retry := false
		if err != nil {
			lastErr, retry = err, !errors.Is(err, errNoRetry)
		} else {
			herr := c.httpError(resp)
			lastErr = herr
			switch {
			case resp.StatusCode == http.StatusTooManyRequests:
				retry = true
				if herr.RetryAfter > 0 {
					wait = herr.RetryAfter
				}
			case resp.StatusCode >= 500:
				retry = true
			}
		}
		if !retry || attempt >= c.cfg.MaxRetries {
			return nil, lastErr
		}
		if wait > c.cfg.MaxWait {
			return nil, fmt.Errorf("%w; the wait asked for (%s) is longer than allowed (%s)", lastErr, wait, c.cfg.MaxWait)
		}
		c.cfg.Logger.Debug("hub: retrying", "url", stripQuery(rq.url), "attempt", attempt+1, "wait", wait, "error", lastErr)
		if err := c.cfg.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// errNoRetry marks errors that a retry cannot fix.
var errNoRetry = errors.New("not retried")

// follow sends the request and follows up to 5 redirects itself, so that
// the token goes only to the endpoint's own origin (the CDN a download
// redirects to never sees it), and the Range header survives.
func (c *Client) follow(ctx context.Context, rq request) (*http.Response, error) {
	raw := rq.url
	if strings.HasPrefix(raw, "/") {
		raw = c.base.String() + raw
	}
	target, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("hub: bad URL %q: %w", stripQuery(rq.url), errors.Join(err, errNoRetry))
	}
	method := rq.method
	for hop := 0; ; hop++ {
		rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
		if rq.stream {
			cancel()
			rctx, cancel = context.WithCancel(ctx)
		}
		var body io.Reader
		if rq.body != nil && method == rq.method {
			body = rq.body()
		}
		req, err := http.NewRequestWithContext(rctx, method, target.String(), body)
		if err != nil {
			cancel()
			return nil, errors.Join(err, errNoRetry)
		}
		for k, v := range rq.header {
			req.Header[k] = v
		}
		req.Header.Set("User-Agent", c.cfg.UserAgent)
		if c.cfg.Token != "" && sameOrigin(target, c.base) {
			req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
		}
		c.requests.Add(1)
		resp, err := c.http.Do(req)
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("hub: %s %s: %w", method, stripQuery(target.String()), scrubURLError(err))
		}
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &c.bytes, cancel: cancel}
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			return resp, nil
		}
		loc := resp.Header.Get("Location")
		// A HEAD keeps the redirect: its headers (X-Linked-Etag,
		// X-Linked-Size) are the answer.
		if loc == "" || method == http.MethodHead {
			return resp, nil
		}
		drain(resp)
		if hop >= 5 {
			return nil, fmt.Errorf("hub: too many redirects from %s: %w", stripQuery(rq.url), errNoRetry)
		}
		next, err := target.Parse(loc)
		if err != nil || (next.Scheme != "http" && next.Scheme != "https") {
			return nil, fmt.Errorf("hub: bad redirect to %q: %w", stripQuery(loc), errNoRetry)
		}
		if resp.StatusCode == http.StatusSeeOther {
			method = http.MethodGet
		}
		target = next
	}
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

// scrubURLError drops the query (CDN signatures) from URL errors.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: stripQuery(ue.URL), Err: ue.Err}
	}
	return err
}

func stripQuery(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}

// countingBody counts bytes read and ends the request's context on Close.
type countingBody struct {
	io.ReadCloser
	n      *atomic.Int64
	cancel context.CancelFunc
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// drain reads a little of an unwanted body so the connection can be
// reused, then closes it.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// httpError turns an error answer into *Error and closes its body.
func (c *Client) httpError(resp *http.Response) *Error {
	defer drain(resp)
	e := &Error{
		Status:    resp.StatusCode,
		Code:      resp.Header.Get("X-Error-Code"),
		Message:   resp.Header.Get("X-Error-Message"),
		URL:       stripQuery(resp.Request.URL.String()),
		TokenSent: resp.Request.Header.Get("Authorization") != "",
	}
	if e.Message == "" {
		var body struct {
			Error string `json:"error"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
		if json.Unmarshal(b, &body) == nil {
			e.Message = body.Error
		}
	}
	if len(e.Message) > 500 {
		e.Message = e.Message[:500] + "…"
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		e.RetryAfter = retryAfter(resp.Header, time.Now())
	}
	return e
}

// retryAfter reads how long a 429 asks to wait: Retry-After (seconds or a
// date), else the reset time t= of the RateLimit header
// ("api";r=0;t=42), else 0.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.Atoi(v); err == nil && s >= 0 {
			return time.Duration(s) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	for _, part := range strings.Split(h.Get("RateLimit"), ";") {
		part = strings.TrimSpace(part)
		if v, ok := strings.CutPrefix(part, "t="); ok {
			if s, err := strconv.Atoi(v); err == nil && s >= 0 {
				return time.Duration(s) * time.Second
			}
		}
	}
	return 0
}

// backoff is the wait before retry attempt+1: exponential from 500ms,
// capped at 30s, with jitter so that parallel readers spread out.
func backoff(attempt int) time.Duration {
	d := 500 * time.Millisecond << min(attempt, 6)
	d = min(d, 30*time.Second)
	return d/2 + rand.N(d/2+1)
}

// getJSON fetches an API path and decodes its JSON answer into v,
// returning the response headers (for Link pagination).
func (c *Client) getJSON(ctx context.Context, path string, v any) (http.Header, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, url: path, header: http.Header{"Accept": {"application/json"}}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return resp.Header, decodeJSON(resp.Body, v)
}

func decodeJSON(r io.Reader, v any) error {
	lr := &io.LimitedReader{R: r, N: maxAPIBody + 1}
	if err := json.NewDecoder(lr).Decode(v); err != nil {
		if lr.N <= 0 {
			return fmt.Errorf("hub: answer larger than %d bytes", maxAPIBody)
		}
		return fmt.Errorf("hub: bad JSON answer: %w", err)
	}
	return nil
}
