package hub

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseRef(t *testing.T) {
	cases := []struct {
		in   string
		want Ref
		err  bool
	}{
		{in: "hf://org/repo", want: Ref{Type: Model, ID: "org/repo"}},
		{in: "hf://org/repo@v1.0", want: Ref{Type: Model, ID: "org/repo", Revision: "v1.0"}},
		{in: "hf://org/repo@refs%2Fpr%2F3/sub/dir", want: Ref{Type: Model, ID: "org/repo", Revision: "refs/pr/3", Path: "sub/dir"}},
		{in: "hf://datasets/org/data", want: Ref{Type: Dataset, ID: "org/data"}},
		{in: "hf://spaces/org/app@0123456789abcdef0123456789abcdef01234567", want: Ref{Type: Space, ID: "org/app", Revision: "0123456789abcdef0123456789abcdef01234567"}},
		{in: "hf://models/org/repo/config.json", want: Ref{Type: Model, ID: "org/repo", Path: "config.json"}},
		{in: "hf://gpt2", want: Ref{Type: Model, ID: "gpt2"}},
		{in: "hf://gpt2@main", want: Ref{Type: Model, ID: "gpt2", Revision: "main"}},
		{in: "hf://", err: true},
		{in: "hf://org/re po", err: true},
		{in: "hf://org/repo@", err: true},
		{in: "hf://org/repo/../x", err: true},
		{in: "s3://org/repo", err: true},
	}
	for _, c := range cases {
		got, err := ParseRef(c.in)
		if (err != nil) != c.err {
			t.Errorf("ParseRef(%q) error = %v, want error %v", c.in, err, c.err)
			continue
		}
		if !c.err && got != c.want {
			t.Errorf("ParseRef(%q) = %+v, want %+v", c.in, got, c.want)
		}
		if !c.err {
			back, err := ParseRef(got.String())
			if err != nil || back != got {
				t.Errorf("round trip of %q: %q → %+v, %v", c.in, got.String(), back, err)
			}
		}
	}
}

func TestFromEnvToken(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	os.MkdirAll(filepath.Join(home, ".cache", "huggingface"), 0o700)
	os.WriteFile(filepath.Join(home, ".cache", "huggingface", "token"), []byte("hf_fromfile\n"), 0o600)
	hfHome := filepath.Join(dir, "hfhome")
	os.MkdirAll(hfHome, 0o700)
	os.WriteFile(filepath.Join(hfHome, "token"), []byte("hf_fromhfhome"), 0o600)
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HOME": home}, "hf_fromfile"},
		{map[string]string{"HOME": home, "HF_HOME": hfHome}, "hf_fromhfhome"},
		{map[string]string{"HOME": home, "HF_TOKEN": "hf_env"}, "hf_env"},
		{map[string]string{"HOME": home, "HUGGING_FACE_HUB_TOKEN": "hf_old"}, "hf_old"},
		{map[string]string{"HOME": filepath.Join(dir, "nobody")}, ""},
	}
	for _, c := range cases {
		cfg, err := FromEnv(env(c.env))
		if err != nil || cfg.Token != c.want {
			t.Errorf("FromEnv(%v) token %q, %v; want %q", c.env, cfg.Token, err, c.want)
		}
	}
	cfg, _ := FromEnv(env(map[string]string{"HF_ENDPOINT": "http://127.0.0.1:9/"}))
	if cfg.Endpoint != "http://127.0.0.1:9" {
		t.Errorf("endpoint %q", cfg.Endpoint)
	}
}
