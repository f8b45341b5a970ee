package jinja

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzCheck feeds arbitrary templates to the checker: it must never panic
// or hang, and every issue must point inside the template.
func FuzzCheck(f *testing.F) {
	files, _ := filepath.Glob("testdata/benign/*.jinja")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	for _, tc := range sstiCases {
		f.Add(tc.src)
	}
	f.Fuzz(func(t *testing.T, src string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, _ := Check(ctx, src, Options{MaxBytes: 1 << 16})
		if res == nil {
			t.Fatal("nil result")
		}
		for _, is := range res.Issues {
			if is.Offset < -1 || is.Offset > len(src) {
				t.Fatalf("issue %s offset %d outside a %d-byte template", is.Rule, is.Offset, len(src))
			}
		}
	})
}
