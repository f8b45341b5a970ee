package jinja

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPathological: long chains and many tags finish (a generous deadline
// only catches hangs and blow-ups; timing is benchmarked, not tested).
func TestPathological(t *testing.T) {
	for _, src := range []string{
		"{{ " + strings.Repeat("1 ~ ", 2000) + "1 }}",
		"{{ " + strings.Repeat("not ", 2000) + "1 }}",
		"{{ x" + strings.Repeat(".a", 2000) + " }}",
		"{{ x" + strings.Repeat("|f", 2000) + " }}",
		"{{ x" + strings.Repeat("[0]", 1000) + " }}",
		strings.Repeat("{% if x %}", 120) + strings.Repeat("{% endif %}", 120),
		strings.Repeat("{{ '_' ~ '_' ~ 'class' ~ x }}", 5000),
		strings.Repeat("{% set ns.a = ns.a ~ b %}", 3000),
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		if _, err := Check(ctx, src, Options{}); err != nil && ctx.Err() != nil {
			t.Errorf("%.30q…: %v", src, err)
		}
		cancel()
	}
}

// BenchmarkRealTemplates checks the whole benign table once per op.
func BenchmarkRealTemplates(b *testing.B) {
	files, _ := filepath.Glob("testdata/benign/*.jinja")
	var srcs []string
	for _, f := range files {
		s, _ := os.ReadFile(f)
		srcs = append(srcs, string(s))
	}
	for b.Loop() {
		for _, s := range srcs {
			if _, err := Check(context.Background(), s, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
