package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
)

const tenantSQL = `SELECT id, name, created_at, policy_text, policy_format, policy_version, policy_updated_at
	FROM tenants WHERE id = ?`

const tokenSQL = `SELECT id, tenant_id, name, hash, created_at, revoked_at FROM tokens WHERE id = ?`

var tenantIDRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidTenantID reports whether id is a well-formed tenant ID.
func ValidTenantID(id string) bool { return tenantIDRE.MatchString(id) }

// CreateTenant implements TenantStore.
func (d *db) CreateTenant(ctx context.Context, t Tenant) error {
	if !ValidTenantID(t.ID) {
		return fmt.Errorf("store: invalid tenant ID %q (lower-case letters, digits and '-', at most 63)", t.ID)
	}
	now := d.now()
	return d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, d.q(`INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)
			ON CONFLICT (id) DO NOTHING`), t.ID, clean(t.Name), nanos(now))
		if err != nil {
			return fmt.Errorf("store: create tenant: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("tenant %q: %w", t.ID, ErrExists)
		}
		return nil
	})
}

func scanTenant(row scanner) (*Tenant, error) {
	var t Tenant
	var created, updated int64
	err := row.Scan(&t.ID, &t.Name, &created, &t.Policy.Text, &t.Policy.Format, &t.Policy.Version, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	t.CreatedAt, t.Policy.UpdatedAt = fromNanos(created), fromNanos(updated)
	return &t, nil
}

// Tenant implements TenantStore.
func (d *db) Tenant(ctx context.Context, id string) (*Tenant, error) {
	return scanTenant(d.tenantStmt.QueryRowContext(ctx, id))
}

// ListTenants implements TenantStore.
func (d *db) ListTenants(ctx context.Context) ([]Tenant, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT id, name, created_at, policy_text, policy_format, policy_version,
		policy_updated_at FROM tenants ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *t)
	}
	return out, rows.Err()
}

// SetPolicy implements TenantStore.
func (d *db) SetPolicy(ctx context.Context, tenant string, p TenantPolicy) error {
	if p.Text != "" && (p.Version == "" || (p.Format != "toml" && p.Format != "yaml")) {
		return errors.New("store: a policy needs its version and a format of toml or yaml")
	}
	if p.Text == "" {
		p = TenantPolicy{}
	}
	now := d.now()
	return d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, d.q(`UPDATE tenants SET policy_text = ?, policy_format = ?,
			policy_version = ?, policy_updated_at = ? WHERE id = ?`), clean(p.Text), p.Format, p.Version, nanos(now), tenant)
		if err != nil {
			return fmt.Errorf("store: set policy: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// CreateToken implements TenantStore.
func (d *db) CreateToken(ctx context.Context, t Token) error {
	if t.ID == "" || len(t.Hash) == 0 {
		return errors.New("store: a token needs an ID and a hash")
	}
	now := d.now()
	return d.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, d.q(`SELECT 1 FROM tenants WHERE id = ?`), t.Tenant).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("tenant %q: %w", t.Tenant, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		res, err := tx.ExecContext(ctx, d.q(`INSERT INTO tokens (id, tenant_id, name, hash, created_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`), t.ID, t.Tenant, clean(t.Name), t.Hash, nanos(now))
		if err != nil {
			return fmt.Errorf("store: create token: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("token %q: %w", t.ID, ErrExists)
		}
		return nil
	})
}

func scanToken(row scanner) (*Token, error) {
	var t Token
	var created, revoked int64
	err := row.Scan(&t.ID, &t.Tenant, &t.Name, &t.Hash, &created, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	t.CreatedAt, t.RevokedAt = fromNanos(created), fromNanos(revoked)
	return &t, nil
}

// Token implements TenantStore.
func (d *db) Token(ctx context.Context, id string) (*Token, error) {
	return scanToken(d.tokenStmt.QueryRowContext(ctx, id))
}

// ListTokens implements TenantStore.
func (d *db) ListTokens(ctx context.Context, tenant string) ([]Token, error) {
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT id, tenant_id, name, hash, created_at, revoked_at FROM tokens
		WHERE tenant_id = ? ORDER BY created_at, id`), tenant)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *t)
	}
	return out, rows.Err()
}

// RevokeToken implements TenantStore.
func (d *db) RevokeToken(ctx context.Context, id string) error {
	now := d.now()
	return d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, d.q(`UPDATE tokens SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END
			WHERE id = ?`), nanos(now), id)
		if err != nil {
			return fmt.Errorf("store: revoke token: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}
