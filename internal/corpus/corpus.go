// Package corpus locates the evaluation corpus in testdata/corpus and reads
// its manifest, for tests that scan every sample.
package corpus

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
)

// Entry is one manifest row.
type Entry struct {
	Path        string `json:"path"`
	Format      string `json:"format"`
	Expected    string `json:"expected"` // "benign" or "malicious"
	Technique   string `json:"technique"`
	Description string `json:"description"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

// Dir returns the corpus folder in this repository.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "corpus")
}

// Manifest reads the corpus manifest.
func Manifest() ([]Entry, error) {
	b, err := os.ReadFile(filepath.Join(Dir(), "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m struct {
		Files []Entry `json:"files"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m.Files, nil
}
