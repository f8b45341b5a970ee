package pickle

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"modelgate/internal/limits"
)

// FuzzVM feeds arbitrary bytes to the reader, the VM, the multi-stream
// scan and the decompiler: they must never panic, hang or exceed limits.
func FuzzVM(f *testing.F) {
	for _, dir := range []string{"testdata/differential", "../../testdata/corpus/malicious/pickle", "../../testdata/corpus/benign/pickle"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.pkl"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil && len(b) < 1<<16 {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(pk{}.proto(4).u8(BINBYTES8, 1<<40)))
	f.Add([]byte(pk{}.global("os", "system").mark().u("x").tuple().reduce().stop()))
	f.Add([]byte{0xff})
	lim := limits.Default()
	lim.MaxPickleOps = 100_000
	lim.MaxPickleStack = 10_000
	lim.MaxPickleMemo = 10_000
	lim.MaxPickleStringBytes = 1 << 20
	lim.MaxPickleValues = 100_000
	lim.MaxPickleStreams = 50
	lim.MaxTrailingScan = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		dec := NewDecompiler()
		dec.MaxLines = 1000
		res, err := ScanAll(ctx, bytes.NewReader(data), int64(len(data)), Tee{&recorder{}, dec}, Options{Limits: lim})
		if ctx.Err() != nil {
			t.Fatalf("scan of %d bytes did not finish in time", len(data))
		}
		if err == nil && res == nil {
			t.Fatal("nil result without error")
		}
		_ = dec.String()
		for _, st := range res.Streams {
			if st.End < st.Start || st.End > int64(len(data)) {
				t.Fatalf("stream bounds %d..%d outside 0..%d", st.Start, st.End, len(data))
			}
			if st.Result != nil {
				_ = Repr(st.Result)
			}
		}
	})
}
