package corpus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/report"
	"modelgate/internal/scan"
)

// TestManifest scans every corpus file as a user would and compares the
// verdict with the manifest: malicious files fail a default scan; benign
// ones pass with no suspicious or dangerous import.
func TestManifest(t *testing.T) {
	entries, err := Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 150 {
		t.Fatalf("manifest has %d entries, want the full corpus", len(entries))
	}
	s := scan.New(scan.Options{})
	rules := s.Rules()
	for _, e := range entries {
		t.Run(e.Path, func(t *testing.T) {
			path := filepath.Join(Dir(), e.Path)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != e.SHA256 {
				t.Fatalf("sha256 mismatch: the copy differs from the manifest")
			}
			info, _ := os.Stat(path)
			res := s.ScanEntry(context.Background(), scan.Entry{Path: e.Path, Size: info.Size(), Dir: filepath.Dir(path),
				Open: func(context.Context) (scan.Content, error) { return os.Open(path) }})
			fails := report.FileFails(res, finding.High, false, rules)
			switch e.Expected {
			case "malicious":
				if !fails {
					t.Errorf("%s (%s) passed a default scan; findings: %v", e.Path, e.Technique, res.Findings)
				}
			case "benign":
				if fails {
					t.Errorf("%s (%s) failed a default scan: %v", e.Path, e.Technique, res.Findings)
				}
				for _, imp := range res.Imports {
					if imp.Safety != finding.Innocuous {
						t.Errorf("benign %s imports %s.%s [%s]", e.Path, imp.Module, imp.Name, imp.Safety)
					}
				}
				if res.Status != report.StatusComplete {
					t.Errorf("benign %s not fully scanned: %s", e.Path, res.Error)
				}
			default:
				t.Fatalf("unknown expectation %q", e.Expected)
			}
		})
	}
}
