package hub

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// FromEnv returns a Config as the official client would set itself up:
// HF_ENDPOINT for the endpoint, and the token from HF_TOKEN (or the older
// HUGGING_FACE_HUB_TOKEN), else the file the official client's login
// writes: HF_TOKEN_PATH, else $HF_HOME/token, else
// $XDG_CACHE_HOME/huggingface/token, else ~/.cache/huggingface/token.
// getenv is os.Getenv in production.
func FromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{Endpoint: strings.TrimRight(getenv("HF_ENDPOINT"), "/")}
	for _, k := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if t := strings.TrimSpace(getenv(k)); t != "" {
			cfg.Token = t
			return cfg, nil
		}
	}
	path := TokenPath(getenv)
	if path == "" {
		return cfg, nil
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return cfg, nil
	case err != nil:
		return cfg, fmt.Errorf("hub: reading the token file: %w", err)
	}
	cfg.Token = strings.TrimSpace(string(b))
	return cfg, nil
}

// TokenPath is where the official client stores the login token.
func TokenPath(getenv func(string) string) string {
	if p := getenv("HF_TOKEN_PATH"); p != "" {
		return p
	}
	if h := getenv("HF_HOME"); h != "" {
		return filepath.Join(h, "token")
	}
	if x := getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "huggingface", "token")
	}
	if home := getenv("HOME"); home != "" {
		return filepath.Join(home, ".cache", "huggingface", "token")
	}
	return ""
}
