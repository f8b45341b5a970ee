package safetensorsscan_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"modelgate/internal/scantest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/report"
	"modelgate/internal/safetensors"
	"modelgate/internal/scan"
)

func rules(res *report.File) map[string]bool {
	m := map[string]bool{}
	for _, f := range res.Findings {
		m[f.Rule] = true
	}
	return m
}

func file(header string, data int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), make([]byte, data)...)
}

// TestClean: files from torch (via the fixture writer), the corpus and
// the Go writer are the safe format they are, with no findings, under
// any name.
func TestClean(t *testing.T) {
	files, _ := filepath.Glob("../../safetensors/testdata/*.safetensors")
	files = append(files, "../../../testdata/corpus/benign/safetensors/model.safetensors")
	var buf bytes.Buffer
	safetensors.Write(&buf, []safetensors.Tensor{{TensorDesc: safetensors.TensorDesc{Name: "w", DType: safetensors.F32, Shape: []uint64{2}}, Data: make([]byte, 8)}}, map[string]string{"format": "pt"})
	cases := map[string][]byte{"go-writer": buf.Bytes()}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		cases[p] = b
	}
	for name, b := range cases {
		res := scantest.Bytes(t, "pytorch_model.bin", b)
		if res.Format != "safetensors" || len(res.Findings) != 0 || res.Status != report.StatusComplete {
			t.Errorf("%s: %s %s %v", name, res.Format, res.Status, res.Findings)
		}
	}
}

func TestViolations(t *testing.T) {
	rulesDB := finding.Default()
	cases := []struct {
		name   string
		b      []byte
		rule   string
		failAt finding.Severity // the scan fails at this threshold (strict for medium)
	}{
		{"duplicate", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), finding.RuleSafetensorsDuplicate, finding.Medium},
		{"overlap", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12), finding.RuleSafetensorsLayout, finding.Medium},
		{"hidden trailing payload", append(file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), "cos\nsystem\n(S'echo pwned'\ntR."...), finding.RuleSafetensorsLayout, finding.Medium},
		{"unknown dtype", file(`{"a":{"dtype":"PICKLE","shape":[1],"data_offsets":[0,4]}}`, 4), finding.RuleSafetensorsDType, finding.Medium},
		{"metadata object", file(`{"__metadata__":{"a":{"b":1}},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), finding.RuleSafetensorsMetadata, finding.Medium},
		{"bad json", file(`{"a":{"dtype":"F32",}}`, 4), finding.RuleSafetensorsHeader, finding.Medium},
	}
	for _, tc := range cases {
		res := scantest.Bytes(t, tc.name, tc.b)
		if res.Format != "safetensors" || !rules(res)[tc.rule] {
			t.Errorf("%s: %s %v", tc.name, res.Format, res.Findings)
			continue
		}
		if !report.FileFails(res, tc.failAt, false, rulesDB) {
			t.Errorf("%s: does not fail at %s", tc.name, tc.failAt)
		}
		if tc.rule != finding.RuleSafetensorsHeader && tc.rule != finding.RuleSafetensorsMetadata && !report.FileFails(res, finding.High, true, rulesDB) {
			t.Errorf("%s: does not fail --strict", tc.name)
		}
	}
}

// TestPolyglot: a valid safetensors file whose last tensor hides a zip
// archive fails a default scan.
func TestPolyglot(t *testing.T) {
	cd := append([]byte("PK\x01\x02"), make([]byte, 42)...)
	eocd := append([]byte("PK\x05\x06"), make([]byte, 18)...)
	binary.LittleEndian.PutUint32(eocd[12:], uint32(len(cd)))
	body := append(append(make([]byte, 64), cd...), eocd...)
	n := len(body)
	header := `{"w":{"dtype":"U8","shape":[` + itoa(n) + `],"data_offsets":[0,` + itoa(n) + `]}}`
	header += strings.Repeat(" ", (8-len(header)%8)%8)
	b := file(header, 0)
	binary.LittleEndian.PutUint32(body[64+len(cd)+16:], uint32(len(b)+64))
	b = append(b, body...)
	res := scantest.Bytes(t, "model.safetensors", b)
	if !rules(res)[finding.RuleSafetensorsPolyglot] || !report.FileFails(res, finding.High, false, finding.Default()) {
		t.Errorf("polyglot not caught: %v", res.Findings)
	}
}

func itoa(n int) string {
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

// BenchmarkScan4GB runs the whole scan (detection, analyzer) on a sparse
// 4 GB file without hashing, which would read it all.
func BenchmarkScan4GB(b *testing.B) {
	var descs []safetensors.TensorDesc
	for i := range 500 {
		descs = append(descs, safetensors.TensorDesc{Name: "layers." + itoa(i+1) + ".weight", DType: safetensors.F16, Shape: []uint64{4096, 1024}})
	}
	path := filepath.Join(b.TempDir(), "big.safetensors")
	f, _ := os.Create(path)
	w, err := safetensors.NewWriter(f, descs, nil)
	if err != nil {
		b.Fatal(err)
	}
	l := w.Layout()
	st, _ := f.Stat()
	size := st.Size() + int64(l[len(l)-1].End)
	f.Truncate(size)
	f.Close()
	s := scan.New(scan.Options{NoHash: true})
	entries := []scan.Entry{{Path: path, Size: size, Open: func(context.Context) (scan.Content, error) { return os.Open(path) }}}
	b.ResetTimer()
	for b.Loop() {
		res := s.ScanEntry(context.Background(), entries[0])
		if res.Format != "safetensors" || len(res.Findings) != 0 {
			b.Fatal(res.Findings)
		}
	}
	b.ReportMetric(float64(size)/1e9, "file-GB")
}
