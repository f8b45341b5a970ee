package gate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"modelgate/internal/store"
)

// Upload is a file submitted for scanning.
type Upload struct {
	Tenant string
	// Name is the file's name as the client gave it (shown in reports;
	// never used to pick the format, which is detected from content).
	Name string
	Body io.Reader
	// Where the client found it, all optional.
	Hub, Repo, Revision, Path string
}

// Outcome is a verdict with how the gate came by it.
type Outcome struct {
	Verdict *store.Verdict
	// Cached: an earlier verdict under the same versions was reused and
	// the content was not scanned again.
	Cached bool
}

// ScanUpload streams an upload to a temporary file, hashing it as it
// arrives and refusing it past the size limit, then returns the tenant's
// current verdict for the content, scanning it if there is none. The
// content is only ever read, never executed, and the temporary file is
// removed before returning.
func (g *Gate) ScanUpload(ctx context.Context, u Upload) (*Outcome, error) {
	pol, err := g.TenantPolicy(ctx, u.Tenant)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(g.opts.TempDir, "upload-*")
	if err != nil {
		return nil, fmt.Errorf("gate: temporary file: %w", err)
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	h := sha256.New()
	limit := g.opts.MaxUpload
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(u.Body, limit+1))
	if err != nil {
		// The client's body broke off (or the disk is full; the log says).
		return nil, fmt.Errorf("%w: receiving the upload failed: %v", ErrInvalid, err)
	}
	if n > limit {
		return nil, ErrTooLarge
	}
	sum := hex.EncodeToString(h.Sum(nil))
	name := cleanName(u.Name)
	if name == "" {
		name = sum
	}
	obs := store.Observation{Tenant: u.Tenant, SHA256: sum, Source: store.SourceUpload,
		Hub: u.Hub, Repo: u.Repo, Revision: u.Revision, Path: firstNonEmpty(u.Path, name)}
	if v, fr, err := g.st.LookupVerdict(ctx, u.Tenant, sum, pol.Versions); err == nil && fr == store.Current {
		if err := g.st.Observe(ctx, obs); err != nil {
			return nil, err
		}
		g.met.lookups.WithLabelValues("cached").Inc()
		return &Outcome{Verdict: v, Cached: true}, nil
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	// The scan and the record outlive a client that hangs up: the work is
	// done, and the next request for this content finds it.
	v, err := g.scanContent(context.WithoutCancel(ctx), u.Tenant, pol, name, f, n, sum, store.SourceUpload, obs)
	if err != nil {
		return nil, err
	}
	return &Outcome{Verdict: v}, nil
}

// Lookup returns the tenant's verdict for content under its current
// policy (store.Current), or its newest under other versions
// (store.Stale), or store.ErrNotFound.
func (g *Gate) Lookup(ctx context.Context, tenant, sha string) (*store.Verdict, store.Freshness, error) {
	if !ValidSHA256(sha) {
		return nil, "", fmt.Errorf("%w: %q is not a sha256 (64 lower-case hex digits)", ErrInvalid, sha)
	}
	pol, err := g.TenantPolicy(ctx, tenant)
	if err != nil {
		return nil, "", err
	}
	k := vkey{tenant, sha, pol.Versions}
	if v, ok := g.verdicts.get(k); ok {
		g.met.lookups.WithLabelValues(string(store.Current)).Inc()
		return v, store.Current, nil
	}
	v, fr, err := g.st.LookupVerdict(ctx, tenant, sha, pol.Versions)
	if err == nil && fr == store.Current {
		g.verdicts.put(k, v)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		g.met.lookups.WithLabelValues("unknown").Inc()
	case err == nil:
		g.met.lookups.WithLabelValues(string(fr)).Inc()
	}
	return v, fr, err
}

// ValidSHA256 reports whether s is a sha256 in lower-case hex.
func ValidSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// cleanName keeps a client-given name printable and short.
func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > 512 {
		s = s[:512]
	}
	return strings.ToValidUTF8(s, "")
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
