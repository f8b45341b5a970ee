package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"modelgate/internal/fakehub"
)

// runFakehub serves a folder of repositories with the hub's API on
// loopback, for demos and for trying modelgate against known content.
func runFakehub(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("fakehub", "[flags] DIR", env)
	addr := fs.String("addr", "127.0.0.1:0", "address of the hub API (loopback only)")
	cdnAddr := fs.String("cdn-addr", "127.0.0.1:0", "address of the CDN that LFS downloads redirect to (loopback only)")
	var tokens stringList
	fs.Var(&tokens, "token", "an access token the hub accepts; repeatable")
	rescan := fs.Duration("rescan", time.Second, "how often the folder is looked at again for changes")
	lfs := fs.Int64("lfs-threshold", 10<<20, "files at least this big are served as LFS files (as are *.bin, *.safetensors, …)")
	verbose := fs.Bool("v", false, "log every request")
	dirs, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(dirs) != 1 {
		fmt.Fprintln(env.Stderr, "modelgate fakehub: give one folder: DIR/ORG/REPO/… are models, DIR/datasets/ORG/REPO/… and DIR/spaces/ORG/REPO/… datasets and spaces")
		fs.Usage()
		return ExitError
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	h, err := fakehub.New(fakehub.Options{Dir: dirs[0], Tokens: tokens, Rescan: *rescan, LFSThreshold: *lfs,
		Logger: slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))})
	if err != nil {
		fmt.Fprintln(env.Stderr, "modelgate fakehub:", err)
		return ExitError
	}
	srv, err := fakehub.Start(h, *addr, *cdnAddr)
	if err != nil {
		fmt.Fprintln(env.Stderr, "modelgate fakehub:", err)
		return ExitError
	}
	repos := h.Repos()
	fmt.Fprintf(env.Stdout, "fakehub: serving %d repositories from %s at %s (CDN %s)\n", len(repos), dirs[0], srv.URL, srv.CDNURL)
	for _, r := range repos {
		typ, id, _ := strings.Cut(r, "/")
		addr := "hf://" + id
		if typ != "models" {
			addr = "hf://" + typ + "/" + id
		}
		fmt.Fprintf(env.Stdout, "  %s\n", addr)
	}
	fmt.Fprintf(env.Stdout, "\nTry:\n  HF_ENDPOINT=%s modelgate scan hf://ORG/REPO\nStop with Ctrl-C.\n", srv.URL)
	<-ctx.Done()
	st := h.Stats()
	srv.Close()
	fmt.Fprintf(env.Stdout, "fakehub: served %d requests, %d bytes (API %d, resolve %d, CDN %d)\n",
		st.Requests, st.APIBytes+st.ResolveBytes+st.CDNBytes, st.APIBytes, st.ResolveBytes, st.CDNBytes)
	return ExitOK
}
