// Package alert delivers the watcher's alerts: a JSON POST to a webhook,
// signed with HMAC-SHA256 over a timestamp and the body, retried with
// backoff from the gate's job queue so that a restart loses none.
//
// The signature header is
//
//	X-Modelgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// A receiver recomputes the HMAC over the raw body with the shared secret,
// compares it in constant time, and refuses a timestamp older than a few
// minutes (Verify does all three). The timestamp is signed with the body
// so that a captured delivery cannot be replayed later: without it, anyone
// who saw one signed request (in a proxy's log, say) could send it again
// forever. Within the tolerance, the X-Modelgate-Delivery ID (the alert's)
// lets a receiver drop repeats, which also arise legitimately: delivery is
// at least once (a crash after the receiver answered but before the gate
// recorded it sends the alert again).
package alert

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Headers of a delivery.
const (
	SignatureHeader = "X-Modelgate-Signature"
	DeliveryHeader  = "X-Modelgate-Delivery"
	EventHeader     = "X-Modelgate-Event"
)

// DefaultTolerance is how old a signed timestamp Verify accepts.
const DefaultTolerance = 5 * time.Minute

// Sign returns the signature header value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("alert: signature does not match")
	ErrExpired      = errors.New("alert: signature timestamp outside the tolerance")
	ErrMalformed    = errors.New("alert: malformed signature header")
)

// Verify checks a signature header against the raw body: the HMAC must
// match (compared in constant time) and the timestamp must be within
// tolerance of now, in either direction (clocks disagree a little).
// Several v1 values are accepted (one matching is enough), so a sender
// can sign with an old and a new secret while they are rotated.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrMalformed
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrMalformed
	}
	want := []byte(mac(secret, ts, body))
	ok := false
	for _, s := range sigs {
		if hmac.Equal([]byte(s), want) {
			ok = true
		}
	}
	if !ok {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w (%s)", ErrExpired, d.Round(time.Second))
	}
	return nil
}
