package pickleaudit_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"modelgate/internal/format"
	"modelgate/internal/limits"
	"modelgate/internal/pickleaudit"
)

// FuzzAudit runs the judge and the decompiler over arbitrary bytes: no
// panics, no hangs, bounded work.
func FuzzAudit(f *testing.F) {
	for _, dir := range []string{"../../testdata/corpus/malicious/pickle", "../../testdata/corpus/benign/sklearn"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.pkl"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil && len(b) < 1<<15 {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("\x80\x02cfunctools\npartial\n(cbuiltins\nprint\ntR(cnumpy\nload\n(X\x01\x00\x00\x00at}Ntb)R."))
	lim := limits.Default()
	lim.MaxPickleOps = 50_000
	lim.MaxPickleStringBytes = 1 << 20
	lim.MaxPickleValues = 50_000
	lim.MaxPickleStreams = 20
	lim.MaxTrailingScan = 1 << 15
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out := &emitter{}
		in := &format.Input{Limits: lim, Explain: true}
		if _, err := pickleaudit.Audit(ctx, in, strings.NewReader(string(data)), int64(len(data)), out, pickleaudit.Options{}); err != nil && ctx.Err() == nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if ctx.Err() != nil {
			t.Fatal("audit did not finish in time")
		}
		for _, f := range out.findings {
			if f.Rule == "" || f.Message == "" {
				t.Fatalf("finding without rule or message: %+v", f)
			}
		}
	})
}
