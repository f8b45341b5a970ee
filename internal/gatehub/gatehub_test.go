package gatehub_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"modelgate/internal/fakehub"
	"modelgate/internal/gate"
	"modelgate/internal/gate/gatetest"
	"modelgate/internal/gatehub"
	"modelgate/internal/hub"
	"modelgate/internal/store"
	"modelgate/internal/store/storetest"
)

// start serves an empty fake hub and returns it with an adapter over a
// client of it.
func start(t *testing.T) (*fakehub.Server, *gatehub.Hub) {
	t.Helper()
	h, err := fakehub.New(fakehub.Options{Dir: t.TempDir(), Rescan: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s, err := fakehub.Start(h, "", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c, err := hub.New(hub.Config{Endpoint: s.URL, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	return s, gatehub.New(c)
}

func TestListAndOpen(t *testing.T) {
	ctx := context.Background()
	s, h := start(t)
	weights := []byte("0123456789abcdef")
	config := []byte(`{"model_type":"bert"}`)
	if err := s.Hub.Upload("models", "acme/tiny", map[string][]byte{"weights.safetensors": weights, "sub/config.json": config}); err != nil {
		t.Fatal(err)
	}
	if err := s.Hub.Upload("datasets", "acme/data", map[string][]byte{"train.pkl": gatetest.Benign()}); err != nil {
		t.Fatal(err)
	}
	if h.Name() != s.URL {
		t.Errorf("name %q, want the endpoint %q", h.Name(), s.URL)
	}
	commit, files, err := h.ListFiles(ctx, "acme/tiny", "main")
	if err != nil {
		t.Fatal(err)
	}
	if commit != s.Hub.Commit("models", "acme/tiny") || len(files) != 2 {
		t.Fatalf("commit %s, files %+v", commit, files)
	}
	byPath := map[string]gate.RemoteFile{}
	for _, f := range files {
		byPath[f.Path] = f
	}
	if f := byPath["weights.safetensors"]; f.SHA256 != gatetest.SHA256(weights) || f.Size != 16 || f.GitOID != "" {
		t.Errorf("LFS file: %+v", f)
	}
	cfg := byPath["sub/config.json"]
	if cfg.SHA256 != "" || len(cfg.GitOID) != 40 || cfg.Size != int64(len(config)) {
		t.Errorf("regular file: %+v", cfg)
	}
	c, err := h.Open(ctx, "acme/tiny", commit, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(io.NewSectionReader(c, 0, cfg.Size))
	if err != nil || string(got) != string(config) {
		t.Errorf("read %q, %v", got, err)
	}
	// Content that differs from the listed git blob id is refused.
	bad := cfg
	bad.GitOID = "0000000000000000000000000000000000000000"
	c, _ = h.Open(ctx, "acme/tiny", commit, bad)
	if _, err := io.ReadAll(io.NewSectionReader(c, 0, bad.Size)); !errors.Is(err, hub.ErrChecksum) {
		t.Errorf("tampered listing: %v", err)
	}

	commit, files, err = h.ListFiles(ctx, "datasets/acme/data", "")
	if err != nil || commit != s.Hub.Commit("datasets", "acme/data") || len(files) != 1 || files[0].Path != "train.pkl" {
		t.Errorf("dataset: %s %+v %v", commit, files, err)
	}

	for _, c := range []struct{ repo, rev string }{{"acme/none", "main"}, {"acme/tiny", "v9"}, {"spaces/acme/tiny", ""}} {
		if _, _, err := h.ListFiles(ctx, c.repo, c.rev); !errors.Is(err, gate.ErrNotOnHub) {
			t.Errorf("%s@%s: %v, want ErrNotOnHub", c.repo, c.rev, err)
		}
	}
	for _, repo := range []string{"acme", "acme/tiny/extra/x", "models/acme/tiny@main", "../x/y"} {
		if _, _, err := h.ListFiles(ctx, repo, ""); !errors.Is(err, gate.ErrInvalid) {
			t.Errorf("%q: %v, want ErrInvalid", repo, err)
		}
	}
	gone := gate.RemoteFile{Path: "nope.bin", Size: 10}
	c, _ = h.Open(ctx, "acme/tiny", commit, gone)
	if _, err := c.ReadAt(make([]byte, 4), 0); !errors.Is(err, gate.ErrNotOnHub) {
		t.Errorf("missing file: %v", err)
	}
}

func TestRepoNames(t *testing.T) {
	for _, name := range []string{"org/model", "datasets/org/set", "spaces/org/app"} {
		r, err := gatehub.ParseRepo(name)
		if err != nil || gatehub.RepoName(r) != name {
			t.Errorf("%s: %+v %v", name, r, err)
		}
	}
}

// Admission through the real client: the malicious repository is denied,
// the clean one allowed, and a hub that fails while a file is read
// records no verdict (the failure is the network's, not the content's).
func TestAdmitThroughHub(t *testing.T) {
	storetest.ForEach(t, store.Options{}, func(t *testing.T, b store.Backend) {
		ctx := context.Background()
		s, h := start(t)
		g := gate.New(gate.Options{Store: b, Queue: b, Hub: h})
		if _, err := g.CreateTenant(ctx, "acme", ""); err != nil {
			t.Fatal(err)
		}
		bad, good := gatetest.Malicious(), gatetest.Benign()
		s.Hub.Upload("models", "org/evil", map[string][]byte{"pytorch_model.bin": bad, "config.json": []byte("{}")})
		s.Hub.Upload("models", "org/clean", map[string][]byte{"model.pkl": good})
		res, err := g.Admit(ctx, gate.AdmitRequest{Tenant: "acme", Repo: "org/evil", Revision: "main"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Decision != store.Deny || res.Hub != s.URL || res.Commit != s.Hub.Commit("models", "org/evil") ||
			len(res.Reasons) == 0 || res.Reasons[0].Path != "pytorch_model.bin" || res.Reasons[0].Rule != "PICKLE-DANGEROUS-GLOBAL" {
			t.Errorf("evil: %+v", res)
		}
		if res, err = g.Admit(ctx, gate.AdmitRequest{Tenant: "acme", Repo: "org/clean"}); err != nil || res.Decision != store.Allow {
			t.Errorf("clean: %+v %v", res, err)
		}

		other := []byte("\x80\x04K\x07.") // pickle of 7, not seen before
		s.Hub.Upload("models", "org/flaky", map[string][]byte{"other.pkl": other})
		commit, files, err := h.ListFiles(ctx, "org/flaky", "")
		if err != nil {
			t.Fatal(err)
		}
		s.Hub.FailNext(100, http.StatusServiceUnavailable, 0)
		_, _, err = g.JudgeFile(ctx, gate.JudgeRequest{Tenant: "acme", Repo: "org/flaky", Commit: commit, File: files[0], Source: store.SourceAdmit})
		s.Hub.FailNext(0, 0, 0)
		if err == nil {
			t.Fatal("a file the hub failed to serve was judged")
		}
		if _, _, err := b.LookupVerdict(ctx, "acme", gatetest.SHA256(other), store.Versions{}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a verdict was recorded for content never read: %v", err)
		}
	})
}
