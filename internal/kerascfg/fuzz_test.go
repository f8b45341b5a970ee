package kerascfg

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/policy"
)

// FuzzCheck walks arbitrary JSON-ish input. It must never panic or hang.
func FuzzCheck(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"class_name": "Lambda", "config": {"function": ["4wEAAAAAAAAAAAAAAAMAAAADAAAA", null, null]}}`))
	opt := Options{Rules: finding.Default(), Policy: policy.Default()}
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = Check(context.Background(), b, opt, func(finding.Finding, *Nested) {})
		_, _ = RawConfigs(bytes.NewReader(b), int64(len(b)), 4096, func(int64, []byte) error { return nil })
	})
}
