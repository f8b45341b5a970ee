package gate

import (
	"strings"
	"testing"
)

func TestTokenFormat(t *testing.T) {
	secret, tok, err := NewToken("acme", "ci")
	if err != nil {
		t.Fatal(err)
	}
	id, ok := tokenID(secret)
	if !ok || id != tok.ID || len(tok.Hash) != 32 {
		t.Fatalf("%q: id %q ok %v", secret, id, ok)
	}
	other, _, _ := NewToken("acme", "ci")
	if other == secret {
		t.Fatal("two tokens are equal")
	}
	for _, bad := range []string{"", "mgt_", "mgt_" + id, "mgt_" + id + "_short", "mga_" + strings.Repeat("a", 43),
		"mgt_" + strings.ToUpper(id) + "x_" + strings.Repeat("a", 43), "mgt_zzzzzzzzzzzzzzzz_" + strings.Repeat("a", 43)} {
		if _, ok := tokenID(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// FuzzTokenID: the bearer token is attacker input; only well-formed tenant
// tokens yield an ID, and the ID is always 16 hex digits.
func FuzzTokenID(f *testing.F) {
	secret, _, _ := NewToken("t", "")
	f.Add(secret)
	f.Add("mgt_0123456789abcdef_" + strings.Repeat("A", 43))
	f.Add("Bearer x")
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := tokenID(s)
		if !ok {
			return
		}
		if len(id) != 16 || strings.Trim(id, "0123456789abcdefABCDEF") != "" || !strings.HasPrefix(s, "mgt_"+id+"_") {
			t.Fatalf("%q gave ID %q", s, id)
		}
	})
}
