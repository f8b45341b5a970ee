package store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"

	"modelgate/internal/store"
	"modelgate/internal/store/storetest"
)

func TestTenantsAndTokens(t *testing.T) {
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		tenants(t, b, "acme", "b-2")
		if err := b.CreateTenant(ctx, store.Tenant{ID: "acme"}); !errors.Is(err, store.ErrExists) {
			t.Errorf("duplicate tenant: %v", err)
		}
		for _, bad := range []string{"", "Acme", "-x", "x-", "a b", "a/b", string(make([]byte, 64))} {
			if err := b.CreateTenant(ctx, store.Tenant{ID: bad}); err == nil {
				t.Errorf("tenant ID %q accepted", bad)
			}
		}
		ts, err := b.ListTenants(ctx)
		if err != nil || len(ts) != 2 || ts[0].ID != "acme" || ts[1].ID != "b-2" || ts[0].Name != "ACME" {
			t.Fatalf("list: %v %+v", err, ts)
		}
		if _, err := b.Tenant(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing tenant: %v", err)
		}

		// Policies.
		pol := store.TenantPolicy{Text: "fail_on = \"medium\"\n", Format: "toml", Version: "abc123"}
		if err := b.SetPolicy(ctx, "acme", pol); err != nil {
			t.Fatal(err)
		}
		got, err := b.Tenant(ctx, "acme")
		if err != nil || got.Policy.Text != pol.Text || got.Policy.Version != "abc123" || got.Policy.UpdatedAt.IsZero() {
			t.Fatalf("policy: %v %+v", err, got.Policy)
		}
		if err := b.SetPolicy(ctx, "acme", store.TenantPolicy{Text: "x", Format: "json", Version: "v"}); err == nil {
			t.Error("policy in an unknown format accepted")
		}
		if err := b.SetPolicy(ctx, "nope", pol); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("policy of a missing tenant: %v", err)
		}
		if err := b.SetPolicy(ctx, "acme", store.TenantPolicy{}); err != nil {
			t.Fatal(err)
		}
		if got, _ := b.Tenant(ctx, "acme"); got.Policy.Text != "" || got.Policy.Version != "" {
			t.Errorf("policy not reset: %+v", got.Policy)
		}

		// Tokens.
		h := sha256.Sum256([]byte("secret"))
		tok := store.Token{ID: "tok1", Tenant: "acme", Name: "ci", Hash: h[:]}
		if err := b.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if err := b.CreateToken(ctx, tok); !errors.Is(err, store.ErrExists) {
			t.Errorf("duplicate token: %v", err)
		}
		if err := b.CreateToken(ctx, store.Token{ID: "tok2", Tenant: "nope", Hash: h[:]}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("token of a missing tenant: %v", err)
		}
		gt, err := b.Token(ctx, "tok1")
		if err != nil || gt.Tenant != "acme" || string(gt.Hash) != string(h[:]) || !gt.RevokedAt.IsZero() {
			t.Fatalf("token: %v %+v", err, gt)
		}
		if err := b.RevokeToken(ctx, "tok1"); err != nil {
			t.Fatal(err)
		}
		first, _ := b.Token(ctx, "tok1")
		if first.RevokedAt.IsZero() {
			t.Fatal("revoked token still valid")
		}
		if err := b.RevokeToken(ctx, "tok1"); err != nil {
			t.Errorf("second revoke: %v", err)
		}
		if again, _ := b.Token(ctx, "tok1"); !again.RevokedAt.Equal(first.RevokedAt) {
			t.Error("second revoke moved the revocation time")
		}
		if err := b.RevokeToken(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoke missing: %v", err)
		}
		if l, _ := b.ListTokens(ctx, "acme"); len(l) != 1 {
			t.Errorf("acme tokens: %+v", l)
		}
		if l, _ := b.ListTokens(ctx, "b-2"); len(l) != 0 {
			t.Errorf("b-2 sees tokens: %+v", l)
		}
	})
}
