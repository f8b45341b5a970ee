package fakehub

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// window is a fixed-window request quota, as the hub applies per bucket
// ("api", "resolvers") over five minutes.
type window struct {
	quota  int
	length time.Duration
	start  time.Time
	used   int
}

// SetRateLimit limits a bucket ("api" or "resolvers") to quota requests
// per fixed window; quota 0 removes the limit. Over quota, requests get a
// 429 with RateLimit, RateLimit-Policy and Retry-After headers.
func (h *Hub) SetRateLimit(bucket string, quota int, length time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if quota <= 0 {
		delete(h.rate, bucket)
		return
	}
	h.rate[bucket] = &window{quota: quota, length: length, start: h.opts.Now()}
}

// FailNext makes the next n API and resolve requests fail with status
// (a 5xx, or 429 with retryAfter in its headers).
func (h *Hub) FailNext(n, status int, retryAfter time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failNext, h.failStatus, h.failWait = n, status, retryAfter
}

// admit applies injected failures and rate limits, writing the refusal
// and returning false when the request must not proceed.
func (h *Hub) admit(w http.ResponseWriter, bucket string) bool {
	h.mu.Lock()
	if h.failNext > 0 {
		h.failNext--
		status, wait := h.failStatus, h.failWait
		h.mu.Unlock()
		if status == http.StatusTooManyRequests {
			rateHeaders(w, bucket, 0, wait, 0, 0)
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		}
		hubError(w, status, "", fmt.Sprintf("fakehub: injected %d", status))
		return false
	}
	win := h.rate[bucket]
	if win == nil {
		h.mu.Unlock()
		return true
	}
	now := h.opts.Now()
	if now.Sub(win.start) >= win.length {
		win.start, win.used = now, 0
	}
	win.used++
	remaining := win.quota - win.used
	reset := win.start.Add(win.length).Sub(now)
	quota, length := win.quota, win.length
	h.mu.Unlock()
	rateHeaders(w, bucket, max(remaining, 0), reset, quota, length)
	if remaining < 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(reset.Seconds()))))
		hubError(w, http.StatusTooManyRequests, "", "You have exceeded our hourly quotas for action: "+bucket+". We invite you to retry later.")
		return false
	}
	return true
}

func rateHeaders(w http.ResponseWriter, bucket string, remaining int, reset time.Duration, quota int, length time.Duration) {
	secs := int(math.Ceil(reset.Seconds()))
	w.Header().Set("RateLimit", fmt.Sprintf(`"%s";r=%d;t=%d`, bucket, remaining, secs))
	if quota > 0 {
		w.Header().Set("RateLimit-Policy", fmt.Sprintf(`"fixed window";"%s";q=%d;w=%d`, bucket, quota, int(length.Seconds())))
	}
}

func pathUnescape(s string) (string, error) { return url.PathUnescape(s) }
