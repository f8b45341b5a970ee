package kerascfg

import (
	"context"
	"os"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/policy"
)

func BenchmarkCheck(b *testing.B) {
	for _, name := range []string{"benign_keras3_functional.json", "malicious_keras3_lambda_nested.json"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			b.Fatal(err)
		}
		opt := Options{Rules: finding.Default(), Policy: policy.Default()}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := Check(context.Background(), data, opt, func(finding.Finding, *Nested) {}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
