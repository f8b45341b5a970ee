package convert

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzConvert runs the whole conversion (without the scan, so the
// allowlist and the copy meet everything) on mutated checkpoints: it must
// never panic or hang, and whatever it writes must pass its own
// verification.
func FuzzConvert(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.pt")
	more, _ := filepath.Glob("testdata/sharded/*.bin")
	for _, p := range append(seeds, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	opts := testOptions(f)
	opts.MaxExpansion = 16 << 20 // keep each run small
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		in := filepath.Join(dir, "in.pt")
		if err := os.WriteFile(in, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out := filepath.Join(dir, "out.safetensors")
		j, err := prepare(ctx, &opts, in, out)
		if err != nil {
			return
		}
		defer j.discard()
		if err := j.run(ctx); err != nil {
			var r *Refusal
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("conversion did not finish: %v", err)
			}
			_ = errors.As(err, &r)
			return
		}
		if err := j.commit(); err != nil {
			t.Fatal(err)
		}
		readOutput(t, out)
	})
}
