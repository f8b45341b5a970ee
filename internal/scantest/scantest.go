// Package scantest helps analyzer tests scan content through the whole
// scan pipeline (the registry, the default policy, limits and reports),
// as a user's scan would.
package scantest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/report"
	"modelgate/internal/scan"
)

// Bytes scans b as a file named name (a name only: detection is by content).
func Bytes(t testing.TB, name string, b []byte) *report.File {
	t.Helper()
	return scan.New(scan.Options{}).ScanReader(context.Background(), name, bytes.NewReader(b), int64(len(b)), "")
}

// File scans the file at path from disk, with its folder, as a folder scan
// would (formats that look at sibling files see them).
func File(t testing.TB, path string) *report.File {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return scan.New(scan.Options{}).ScanEntry(context.Background(), scan.Entry{Path: path, Size: info.Size(), Dir: filepath.Dir(path),
		Open: func(context.Context) (scan.Content, error) { return os.Open(path) }})
}

// Rules returns the distinct rules of findings at or above min, sorted.
func Rules(res *report.File, min finding.Severity) []string {
	var out []string
	for _, f := range res.Findings {
		if f.Severity >= min && !slices.Contains(out, f.Rule) {
			out = append(out, f.Rule)
		}
	}
	slices.Sort(out)
	return out
}
