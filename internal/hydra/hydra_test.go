package hydra

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"modelgate/internal/policy"
)

func TestTargets(t *testing.T) {
	src := `
model:
  _target_: nemo.collections.asr.models.EncDecCTCModel
  encoder:
    _target_: os.system
    _args_: ["echo pwned"]
  optim:
    _target_: torch.optim.Adam
    _partial_: true
  loader:
    _target_: somelib.loaders.Fancy
hook: &h
  _target_: builtins.exec
again: *h
`
	ts, err := Targets([]byte(src), false)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Target{}
	for _, tg := range ts {
		got[tg.Target] = tg
	}
	if len(ts) != 5 {
		t.Fatalf("targets %+v (an alias must not be walked twice)", ts)
	}
	if got["os.system"].Key != "model.encoder" || got["os.system"].Line != 5 || !got["torch.optim.Adam"].Partial {
		t.Errorf("targets %+v", got)
	}
	pol := policy.Default()
	want := map[string]Verdict{
		"nemo.collections.asr.models.EncDecCTCModel": Allowed,
		"os.system":             Dangerous,
		"builtins.exec":         Dangerous,
		"torch.optim.Adam":      Allowed,
		"somelib.loaders.Fancy": Unlisted,
	}
	for tg, w := range want {
		if v, _ := Judge(pol, tg); v != w {
			t.Errorf("Judge(%s) = %v, want %v", tg, v, w)
		}
	}
	// The policy's dangerous list wins over the allowlist.
	if v, _ := Judge(pol, "torch.nn.Module.__reduce__"); v != Dangerous {
		t.Errorf("a dunder under an allowlisted prefix: %v", v)
	}
}

func TestLegacyTarget(t *testing.T) {
	src := []byte("target: nemo.collections.asr.models.EncDecCTCModel\nsample_rate: 16000\nsub:\n  target: not.top.level\n")
	ts, _ := Targets(src, true)
	if len(ts) != 1 || !ts[0].Legacy {
		t.Errorf("legacy targets %+v", ts)
	}
	if ts, _ := Targets(src, false); len(ts) != 0 {
		t.Errorf("legacy key outside archives: %+v", ts)
	}
}

func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 20; i++ {
		b.WriteString("a" + itoa(i) + ": &a" + itoa(i) + " [*a" + itoa(i-1) + ", *a" + itoa(i-1) + ", *a" + itoa(i-1) + "]\n")
	}
	b.WriteString("t:\n  _target_: x.y\n")
	ts, err := Targets([]byte(b.String()), false)
	if err != nil || len(ts) != 1 {
		t.Errorf("alias bomb: %v %v", ts, err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func tarOf(t *testing.T, files map[string]string, gz bool) []byte {
	var buf bytes.Buffer
	var w = &buf
	var zw *gzip.Writer
	var tw *tar.Writer
	if gz {
		zw = gzip.NewWriter(w)
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(w)
	}
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR})
		tw.Write([]byte(body))
	}
	tw.Close()
	if zw != nil {
		zw.Close()
	}
	return buf.Bytes()
}

func TestArchiveConfigs(t *testing.T) {
	for _, gz := range []bool{false, true} {
		b := tarOf(t, map[string]string{"./model_config.yaml": "_target_: os.system\n", "./model_weights.ckpt": strings.Repeat("w", 5000)}, gz)
		ms, err := ArchiveConfigs(bytes.NewReader(b), int64(len(b)))
		if err != nil || len(ms) != 1 || ms[0].Name != "model_config.yaml" {
			t.Errorf("gz=%v: %+v %v", gz, ms, err)
		}
	}
	corpus, err := os.ReadFile(filepath.Join("..", "..", "testdata", "corpus", "benign", "nemo", "tiny.nemo"))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := ArchiveConfigs(bytes.NewReader(corpus), int64(len(corpus)))
	if err != nil || len(ms) != 1 {
		t.Fatalf("corpus .nemo: %+v %v", ms, err)
	}
	ts, _ := Targets(ms[0].Data, true)
	if len(ts) != 1 || ts[0].Target != "nemo.collections.asr.models.EncDecCTCModel" {
		t.Errorf("corpus .nemo targets: %+v", ts)
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r *bytes.Reader
	n int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

func TestArchiveSkipsData(t *testing.T) {
	b := tarOf(t, map[string]string{"weights.ckpt": strings.Repeat("w", 4<<20), "model_config.yaml": "a: 1\n"}, false)
	cr := &countingReader{r: bytes.NewReader(b)}
	if _, err := ArchiveConfigs(cr, int64(len(b))); err != nil {
		t.Fatal(err)
	}
	if cr.n > 64<<10 {
		t.Errorf("read %d bytes of a %d-byte archive to find its configs", cr.n, len(b))
	}
}

func FuzzTargets(f *testing.F) {
	f.Add([]byte("_target_: os.system\n_partial_: true\n"), true)
	f.Add([]byte(`{"a": {"_target_": "x.y", "b": [1, {"_target_": 3}]}}`), false)
	f.Add([]byte("a: &x [*x]\n"), false)
	f.Fuzz(func(t *testing.T, src []byte, legacy bool) {
		ts, _ := Targets(src, legacy)
		for _, tg := range ts {
			Judge(policy.Default(), tg.Target)
		}
	})
}
