package hubsource

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"modelgate/internal/fakehub"
	"modelgate/internal/hub"
	"modelgate/internal/scan"
)

func setup(t *testing.T) (*fakehub.Server, *hub.Client) {
	t.Helper()
	h, err := fakehub.New(fakehub.Options{Dir: t.TempDir(), Rescan: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fakehub.Start(h, "", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	err = h.Upload("models", "acme/m", map[string][]byte{
		"config.json": []byte(`{"a": 1}`), "weights/model.safetensors": []byte("0123456789"), "weights/extra.bin": []byte("x"),
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := hub.New(hub.Config{Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func entries(t *testing.T, s scan.Source) []scan.Entry {
	t.Helper()
	var out []scan.Entry
	if err := s.Entries(context.Background(), func(e scan.Entry) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEntries(t *testing.T) {
	srv, c := setup(t)
	commit := srv.Hub.Commit("models", "acme/m")
	var res Resolution
	es := entries(t, &Source{Client: c, Ref: hub.Ref{Type: hub.Model, ID: "acme/m"}, Resolved: func(r Resolution) { res = r }})
	var paths []string
	for _, e := range es {
		paths = append(paths, e.Path)
		if e.Revision != commit {
			t.Errorf("%s read at %q, want the commit %s", e.Path, e.Revision, commit)
		}
	}
	slices.Sort(paths)
	want := []string{"hf://acme/m/config.json", "hf://acme/m/weights/extra.bin", "hf://acme/m/weights/model.safetensors"}
	if !slices.Equal(paths, want) {
		t.Errorf("paths %v", paths)
	}
	if res.Commit != commit || res.Files != 3 || res.Bytes != 19 {
		t.Errorf("resolution %+v", res)
	}
	for _, e := range es {
		if e.Path == "hf://acme/m/weights/model.safetensors" {
			if len(e.SHA256) != 64 {
				t.Errorf("LFS entry without sha256: %+v", e)
			}
			content, _ := e.Open(context.Background())
			b, _ := io.ReadAll(io.NewSectionReader(content, 0, e.Size))
			if string(b) != "0123456789" {
				t.Errorf("content %q", b)
			}
		}
	}
}

func TestPathAndRevision(t *testing.T) {
	srv, c := setup(t)
	commit := srv.Hub.Commit("models", "acme/m")
	es := entries(t, &Source{Client: c, Ref: hub.Ref{Type: hub.Model, ID: "acme/m", Revision: commit, Path: "weights"}})
	if len(es) != 2 || es[0].Path != "hf://acme/m@"+commit+"/weights/extra.bin" {
		t.Errorf("folder: %+v", es)
	}
	es = entries(t, &Source{Client: c, Ref: hub.Ref{Type: hub.Model, ID: "acme/m", Path: "config.json"}})
	if len(es) != 1 || es[0].Path != "hf://acme/m/config.json" {
		t.Errorf("single file: %+v", es)
	}
	err := (&Source{Client: c, Ref: hub.Ref{Type: hub.Model, ID: "acme/m", Path: "nope"}}).Entries(context.Background(), func(scan.Entry) error { return nil })
	if !errors.Is(err, hub.ErrEntryNotFound) {
		t.Errorf("missing path: %v", err)
	}
}

func TestGatedWithoutToken(t *testing.T) {
	srv, c := setup(t)
	if err := srv.Hub.Configure("models", "acme/m", fakehub.Settings{Gated: "auto"}); err != nil {
		t.Fatal(err)
	}
	err := (&Source{Client: c, Ref: hub.Ref{Type: hub.Model, ID: "acme/m"}}).Entries(context.Background(), func(scan.Entry) error { return nil })
	if !errors.Is(err, hub.ErrGated) {
		t.Errorf("gated: %v", err)
	}
}
