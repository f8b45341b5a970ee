package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"modelgate/internal/gate"
)

// runTenant manages tenants and tokens directly in the store: the
// bootstrap path before any admin token exists, and for scripts on the
// gate's machine.
func runTenant(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("tenant", "create ID | token ID | revoke TOKEN-ID | list | admin-token", env)
	var sf storeFlags
	sf.register(fs, env)
	name := fs.String("name", "", "a name for the tenant or token")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	fail := func(err error) int {
		fmt.Fprintln(env.Stderr, "modelgate tenant:", err)
		return ExitError
	}
	want := func(n int) bool {
		if len(pos) != n {
			fs.Usage()
			return false
		}
		return true
	}
	if len(pos) == 0 {
		fs.Usage()
		return ExitError
	}
	if pos[0] == "admin-token" {
		if !want(1) {
			return ExitError
		}
		tok, err := gate.NewAdminToken()
		if err != nil {
			return fail(err)
		}
		fmt.Fprintln(env.Stdout, tok)
		return ExitOK
	}
	b, err := sf.open(ctx)
	if err != nil {
		return fail(err)
	}
	defer b.Close()
	g := gate.New(gate.Options{Store: b})
	switch pos[0] {
	case "create":
		if !want(2) {
			return ExitError
		}
		t, err := g.CreateTenant(ctx, pos[1], *name)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(env.Stdout, "created tenant %s\n", t.ID)
	case "token":
		if !want(2) {
			return ExitError
		}
		secret, tok, err := g.IssueToken(ctx, pos[1], *name)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(env.Stderr, "token %s for tenant %s (shown once; keep it secret):\n", tok.ID, tok.Tenant)
		fmt.Fprintln(env.Stdout, secret)
	case "revoke":
		if !want(2) {
			return ExitError
		}
		if err := g.RevokeToken(ctx, pos[1]); err != nil {
			return fail(err)
		}
		fmt.Fprintf(env.Stdout, "revoked token %s\n", pos[1])
	case "list":
		if !want(1) {
			return ExitError
		}
		ts, err := b.ListTenants(ctx)
		if err != nil {
			return fail(err)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TENANT\tNAME\tPOLICY\tTOKENS")
		for _, t := range ts {
			toks, err := b.ListTokens(ctx, t.ID)
			if err != nil {
				return fail(err)
			}
			active := 0
			for _, k := range toks {
				if k.RevokedAt.IsZero() {
					active++
				}
			}
			pol := t.Policy.Version
			if pol == "" {
				pol = "default"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d active, %d revoked\n", t.ID, t.Name, pol, active, len(toks)-active)
		}
		tw.Flush()
	default:
		fs.Usage()
		return ExitError
	}
	return ExitOK
}
