package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"modelgate/internal/gate"
	"modelgate/internal/store"
	"modelgate/internal/version"
)

// Payload is the JSON body of a delivery.
type Payload struct {
	// ID is the alert's; the X-Modelgate-Delivery header repeats it.
	ID        int64     `json:"id"`
	Event     string    `json:"event"` // "alert"
	Tenant    string    `json:"tenant"`
	Watch     string    `json:"watch"`
	CreatedAt time.Time `json:"created_at"`
	Hub       string    `json:"hub,omitempty"`
	Repo      string    `json:"repo,omitempty"`
	Revision  string    `json:"revision,omitempty"`
	Path      string    `json:"path"`
	SHA256    string    `json:"sha256"`
	Severity  string    `json:"severity"`
	Decision  string    `json:"decision"`
	Format    string    `json:"format"`
	// ScanID is the verdict: GET /v1/scans/{scan_id} on the gate.
	ScanID   int64     `json:"scan_id"`
	Findings []Finding `json:"findings"`
}

// Finding is one of the verdict's findings (the most severe, at most
// maxFindings). Message and Evidence quote the scanned file: escape them.
type Finding struct {
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	Member   string `json:"member,omitempty"`
	Message  string `json:"message"`
	Evidence string `json:"evidence,omitempty"`
}

const maxFindings = 10

// Build makes the body of an alert's delivery. It depends only on the
// alert and its (immutable) verdict, so every retry sends the same body.
func Build(ctx context.Context, st store.VerdictStore, a *store.Alert) ([]byte, error) {
	v, err := st.Verdict(ctx, a.Tenant, a.VerdictID, false)
	if err != nil {
		return nil, err
	}
	f, err := v.File()
	if err != nil {
		return nil, err
	}
	p := Payload{ID: a.ID, Event: "alert", Tenant: a.Tenant, Watch: a.Watch, CreatedAt: a.CreatedAt, Hub: a.Hub, Repo: a.Repo,
		Revision: a.Revision, Path: a.Path, SHA256: a.SHA256, Severity: a.Severity.String(), Decision: string(v.Decision),
		Format: v.Format, ScanID: v.ID, Findings: []Finding{}}
	for _, x := range f.Findings {
		if len(p.Findings) == maxFindings {
			break
		}
		p.Findings = append(p.Findings, Finding{Rule: x.Rule, Severity: x.Severity.String(), Member: x.Member, Message: x.Message, Evidence: x.Evidence})
	}
	return json.Marshal(p)
}

// Webhook posts signed deliveries to a URL.
type Webhook struct {
	URL    string
	Secret []byte
	// Client defaults to one with a 10-second timeout that follows no
	// redirects (a redirect is a failed delivery: the receiver is
	// misconfigured, and the body should not wander to other hosts).
	Client *http.Client
	// Now defaults to time.Now.
	Now func() time.Time
}

// Send posts one signed delivery; a non-2xx answer is an error.
func (w *Webhook) Send(ctx context.Context, id int64, body []byte) error {
	c := w.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("alert: webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "modelgate/"+version.Version)
	req.Header.Set(EventHeader, "alert")
	req.Header.Set(DeliveryHeader, strconv.FormatInt(id, 10))
	req.Header.Set(SignatureHeader, Sign(w.Secret, now(), body))
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("alert: webhook: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("alert: webhook answered %s: %q", resp.Status, snippet)
	}
	return nil
}

// KindPrefix starts the job kind of a watch's deliveries. Each watch has
// its own kind, so only the process that has that watch's webhook and
// secret leases its deliveries.
const KindPrefix = "alert.webhook:"

// Kind is the job kind of a watch's deliveries.
func Kind(watch string) string { return KindPrefix + watch }

type jobPayload struct {
	AlertID int64 `json:"alert_id"`
}

// DefaultMaxAttempts is how often a delivery is tried: with the worker's
// backoff (5 s doubling to 10 min) about two and a half hours.
const DefaultMaxAttempts = 20

// Job is the queue job that delivers an alert; enqueueing it again is a
// no-op while it exists.
func Job(a *store.Alert, maxAttempts int) store.JobSpec {
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	payload, _ := json.Marshal(jobPayload{AlertID: a.ID})
	return store.JobSpec{Kind: Kind(a.Watch), Key: "alert.webhook|" + strconv.FormatInt(a.ID, 10), Tenant: a.Tenant,
		Payload: payload, MaxAttempts: maxAttempts}
}

// Deliverer runs delivery jobs.
type Deliverer struct {
	Store   store.Backend
	Webhook *Webhook
	Logger  *slog.Logger
}

// Handle is the gate.Handler of delivery jobs: it posts the alert unless
// it was delivered already, and records the outcome. On the job's last
// attempt a failure marks the alert failed.
func (d *Deliverer) Handle(ctx context.Context, job *store.Job) error {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var j jobPayload
	if err := json.Unmarshal(job.Payload, &j); err != nil {
		return gate.Permanent(fmt.Errorf("alert: job payload: %w", err))
	}
	a, err := d.Store.Alert(ctx, job.Tenant, j.AlertID)
	if errors.Is(err, store.ErrNotFound) {
		return gate.Permanent(err)
	}
	if err != nil {
		return err
	}
	if a.Status != store.AlertPending {
		return nil // delivered (or given up) already: a job re-run after a crash
	}
	body, err := Build(ctx, d.Store, a)
	if err != nil {
		return err
	}
	sendErr := d.Webhook.Send(ctx, a.ID, body)
	status, msg := store.AlertDelivered, ""
	if sendErr != nil {
		status, msg = store.AlertPending, sendErr.Error()
		if job.Attempt >= job.MaxAttempts {
			status = store.AlertFailed
		}
	}
	if err := d.Store.RecordDelivery(context.WithoutCancel(ctx), a.ID, status, msg); err != nil {
		return errors.Join(sendErr, err)
	}
	attrs := []any{"alert", a.ID, "tenant", a.Tenant, "repo", a.Repo, "path", a.Path, "attempt", job.Attempt}
	switch status {
	case store.AlertDelivered:
		log.Info("alert delivered", attrs...)
	case store.AlertFailed:
		log.Error("alert delivery failed for good", append(attrs, "error", sendErr)...)
	default:
		log.Warn("alert delivery failed; will retry", append(attrs, "error", sendErr)...)
	}
	return sendErr
}
