package gate

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"modelgate/internal/store"
)

// Tokens look like mgt_<id>_<secret>: the 16-hex-digit ID is public (it
// names the token for listing and revocation and finds its row), the
// secret is 32 random bytes in base64url. The store keeps SHA-256 of the
// whole token, not the token.
//
// Why a plain SHA-256 and not a password hash such as bcrypt: the secret
// has 256 bits of entropy from crypto/rand, so a leaked table cannot be
// reversed by guessing, however fast the hash; a deliberately slow hash
// only protects low-entropy secrets, and would cost every API request
// milliseconds. The comparison with the stored hash is constant-time, and
// the row is found by the public ID, so no timing depends on the secret.
const tokenPrefix = "mgt_"

// Principal is who a request acts for.
type Principal struct {
	// Tenant is set for tenant tokens.
	Tenant string
	// TokenID names the token ("admin" for the admin token).
	TokenID string
	Admin   bool
}

// NewToken makes a token for a tenant; the caller stores the returned
// store.Token and shows the secret token to the user once.
func NewToken(tenant, name string) (secret string, tok store.Token, err error) {
	var id [8]byte
	var key [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", store.Token{}, err
	}
	if _, err := rand.Read(key[:]); err != nil {
		return "", store.Token{}, err
	}
	tid := hex.EncodeToString(id[:])
	secret = tokenPrefix + tid + "_" + base64.RawURLEncoding.EncodeToString(key[:])
	h := sha256.Sum256([]byte(secret))
	return secret, store.Token{ID: tid, Tenant: tenant, Name: name, Hash: h[:]}, nil
}

// NewAdminToken makes a random admin token.
func NewAdminToken() (string, error) {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return "", err
	}
	return "mga_" + base64.RawURLEncoding.EncodeToString(key[:]), nil
}

// HashToken is the SHA-256 of a token, as stored.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// tokenID extracts the public ID from a tenant token.
func tokenID(token string) (string, bool) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return "", false
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 16 || len(secret) != 43 {
		return "", false
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", false
	}
	return id, true
}

// Authenticate resolves a bearer token to a principal, or returns
// ErrUnauthorized.
func (g *Gate) Authenticate(ctx context.Context, token string) (Principal, error) {
	if token == "" || len(token) > 256 {
		return Principal{}, ErrUnauthorized
	}
	h := sha256.Sum256([]byte(token))
	if len(g.opts.AdminTokenSHA256) == sha256.Size && subtle.ConstantTimeCompare(h[:], g.opts.AdminTokenSHA256) == 1 {
		return Principal{TokenID: "admin", Admin: true}, nil
	}
	id, ok := tokenID(token)
	if !ok {
		return Principal{}, ErrUnauthorized
	}
	tok, err := g.auth.get(id, func() (*store.Token, error) { return g.st.Token(ctx, id) })
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrUnauthorized
	}
	if err != nil {
		return Principal{}, err
	}
	if subtle.ConstantTimeCompare(h[:], tok.Hash) != 1 || !tok.RevokedAt.IsZero() {
		return Principal{}, ErrUnauthorized
	}
	return Principal{Tenant: tok.Tenant, TokenID: tok.ID}, nil
}

// CreateTenant creates a tenant (admin).
func (g *Gate) CreateTenant(ctx context.Context, id, name string) (*store.Tenant, error) {
	if !store.ValidTenantID(id) {
		return nil, fmt.Errorf("%w: tenant ID %q: lower-case letters, digits and '-', at most 63", ErrInvalid, id)
	}
	if err := g.st.CreateTenant(ctx, store.Tenant{ID: id, Name: name}); err != nil {
		return nil, err
	}
	return g.st.Tenant(ctx, id)
}

// IssueToken makes and stores a token for a tenant and returns the secret.
func (g *Gate) IssueToken(ctx context.Context, tenant, name string) (string, *store.Token, error) {
	secret, tok, err := NewToken(tenant, name)
	if err != nil {
		return "", nil, err
	}
	if err := g.st.CreateToken(ctx, tok); err != nil {
		return "", nil, err
	}
	return secret, &tok, nil
}

// RevokeToken revokes a token; this process stops accepting it at once.
func (g *Gate) RevokeToken(ctx context.Context, id string) error {
	if err := g.st.RevokeToken(ctx, id); err != nil {
		return err
	}
	g.auth.forget(id)
	return nil
}

// authCache keeps tokens read from the store for a short time, so the
// hot path of a verdict lookup does not read the token table every time.
type authCache struct {
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	m   map[string]cachedToken
}

type cachedToken struct {
	tok *store.Token
	at  time.Time
}

func newAuthCache(ttl time.Duration, now func() time.Time) *authCache {
	return &authCache{ttl: ttl, now: now, m: map[string]cachedToken{}}
}

func (c *authCache) get(id string, load func() (*store.Token, error)) (*store.Token, error) {
	if c.ttl > 0 {
		c.mu.Lock()
		e, ok := c.m[id]
		c.mu.Unlock()
		if ok && c.now().Sub(e.at) < c.ttl {
			return e.tok, nil
		}
	}
	tok, err := load()
	if err != nil || c.ttl <= 0 {
		return tok, err
	}
	c.mu.Lock()
	if len(c.m) > 100_000 {
		clear(c.m)
	}
	c.m[id] = cachedToken{tok, c.now()}
	c.mu.Unlock()
	return tok, nil
}

func (c *authCache) forget(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}
