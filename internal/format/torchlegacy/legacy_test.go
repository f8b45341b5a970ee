package torchlegacy

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"modelgate/internal/limits"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "fixtures", "testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Open walks the five pickles and every storage; the storages tile the
// file to its end, each after its 8-byte element count.
func TestOpen(t *testing.T) {
	for _, name := range []string{"benign/torch_legacy_dtypes.pt", "benign/torch_legacy_module.pt",
		"benign/torch_legacy_optimizer.pt", "benign/torch_legacy_proto4.pt"} {
		b := fixture(t, name)
		f, err := Open(context.Background(), bytes.NewReader(b), int64(len(b)), limits.Default())
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if f.End != int64(len(b)) || len(f.Storages) == 0 || f.MagicComputed {
			t.Errorf("%s: end %d of %d, %d storages", name, f.End, len(b), len(f.Storages))
		}
		pos := f.Streams[4].End
		for _, s := range f.Storages {
			if s.Offset != pos+8 || int64(binary.LittleEndian.Uint64(b[pos:])) != s.HeaderNumel || s.HeaderNumel != s.Numel {
				t.Errorf("%s: storage %s at %d (expected %d)", name, s.Key, s.Offset, pos+8)
			}
			pos = s.Offset + s.Size
		}
	}
}

func TestOpenFlagsBypasses(t *testing.T) {
	b := fixture(t, "malicious/torch_legacy_magic_eval.pt")
	f, err := Open(context.Background(), bytes.NewReader(b), int64(len(b)), limits.Default())
	if err != nil || !f.MagicComputed {
		t.Errorf("magic computed by eval: %v %+v", err, f)
	}
	b = fixture(t, "benign/torch_legacy_dtypes.pt")
	b = b[:len(b)-10]
	_, err = Open(context.Background(), bytes.NewReader(b), int64(len(b)), limits.Default())
	if !errors.Is(err, ErrStructure) {
		t.Errorf("truncated storage: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	for _, n := range []string{"benign/torch_legacy_proto4.pt", "benign/torch_legacy_dtypes.pt", "malicious/torch_legacy_magic_eval.pt"} {
		f.Add(fixture(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := limits.Default()
		lim.MaxPickleOps = 100_000
		fl, _ := Open(context.Background(), bytes.NewReader(b), int64(len(b)), lim)
		if fl == nil {
			return
		}
		for _, s := range fl.Storages {
			if s.Offset+s.Size > int64(len(b)) || s.Size < 0 {
				t.Fatalf("storage %+v outside %d bytes", s, len(b))
			}
		}
	})
}
