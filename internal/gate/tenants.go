package gate

import (
	"context"
	"fmt"
	"sync"
	"time"

	"modelgate/internal/policy"
	"modelgate/internal/store"
)

// MaxPolicySize bounds a stored policy file.
const MaxPolicySize = 1 << 20

// TenantPolicy returns the tenant's compiled policy: its own policy file
// merged over the default, or the default.
func (g *Gate) TenantPolicy(ctx context.Context, tenant string) (*Policy, error) {
	return g.policies.get(tenant, func() (*store.Tenant, error) { return g.st.Tenant(ctx, tenant) })
}

// SetPolicy validates and stores a tenant's policy; empty text restores
// the default. format is "toml" or "yaml".
func (g *Gate) SetPolicy(ctx context.Context, tenant, text, format string) (*Policy, error) {
	if len(text) > MaxPolicySize {
		return nil, fmt.Errorf("%w: policy over %d bytes", ErrInvalid, MaxPolicySize)
	}
	var tp store.TenantPolicy
	var p *Policy
	if text == "" {
		p = defaultPolicy()
	} else {
		if format != "toml" && format != "yaml" {
			return nil, fmt.Errorf("%w: policy format %q (want toml or yaml)", ErrInvalid, format)
		}
		pol, err := policy.Compile("tenant "+tenant, []byte(text), "."+format)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		p = compiled(pol)
		tp = store.TenantPolicy{Text: text, Format: format, Version: pol.Version()}
	}
	if err := g.st.SetPolicy(ctx, tenant, tp); err != nil {
		return nil, err
	}
	g.policies.forget(tenant)
	return p, nil
}

var defaultPolicy = sync.OnceValue(func() *Policy { return compiled(policy.Default()) })

// policyCache keeps tenants' compiled policies. The tenant row is re-read
// after ttl; the policy is compiled again only when its version changed.
type policyCache struct {
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	m   map[string]cachedPolicy
}

type cachedPolicy struct {
	version string
	p       *Policy
	at      time.Time
}

func newPolicyCache(ttl time.Duration, now func() time.Time) *policyCache {
	return &policyCache{ttl: ttl, now: now, m: map[string]cachedPolicy{}}
}

func (c *policyCache) get(tenant string, load func() (*store.Tenant, error)) (*Policy, error) {
	c.mu.Lock()
	e, ok := c.m[tenant]
	c.mu.Unlock()
	if ok && c.ttl > 0 && c.now().Sub(e.at) < c.ttl {
		return e.p, nil
	}
	t, err := load()
	if err != nil {
		return nil, err
	}
	var p *Policy
	switch {
	case t.Policy.Text == "":
		p = defaultPolicy()
	case ok && e.version == t.Policy.Version:
		p = e.p
	default:
		pol, err := policy.Compile("tenant "+tenant, []byte(t.Policy.Text), "."+t.Policy.Format)
		if err != nil {
			// It was valid when stored; a newer binary may disagree.
			// Fail closed: no policy, no decisions.
			return nil, fmt.Errorf("gate: tenant %s: stored policy: %w", tenant, err)
		}
		p = compiled(pol)
	}
	c.mu.Lock()
	c.m[tenant] = cachedPolicy{version: t.Policy.Version, p: p, at: c.now()}
	c.mu.Unlock()
	return p, nil
}

func (c *policyCache) forget(tenant string) {
	c.mu.Lock()
	delete(c.m, tenant)
	c.mu.Unlock()
}
