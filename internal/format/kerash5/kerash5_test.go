package kerash5_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/format/kerash5"
	"modelgate/internal/report"
	"modelgate/internal/scantest"
)

// TestFixtures scans h5py-made files (testdata/gen.py) under a name with
// no extension: detection is by content.
func TestFixtures(t *testing.T) {
	want := map[string][]string{
		"benign_keras2.h5":                nil,
		"benign_keras2_fixed_bytes.h5":    nil,
		"benign_keras3_latest.h5":         nil,
		"weights_only.h5":                 nil,
		"malicious_lambda_v0.h5":          {finding.RuleKerasLambda},
		"malicious_lambda_fixed_bytes.h5": {finding.RuleKerasLambda},
		"malicious_lambda_dense.h5":       {finding.RuleKerasLambda},
		"malicious_userblock.h5":          {finding.RuleKerasUnsafeObject},
		"malicious_named_lambda.h5":       {finding.RuleKerasLambda},
		"malicious_training_config.h5":    {finding.RuleKerasUnsafeObject},
		"malicious_external_link.h5":      {finding.RuleHDF5ExternalRef},
	}
	files, _ := filepath.Glob("testdata/*.h5")
	if len(files) != len(want) {
		t.Fatalf("%d fixtures, %d expectations", len(files), len(want))
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			res := scantest.Bytes(t, "renamed.bin", b)
			if res.Format != "keras-h5" {
				t.Fatalf("format %s", res.Format)
			}
			if got := scantest.Rules(res, finding.High); !slices.Equal(got, want[name]) {
				t.Errorf("rules %v, want %v; findings %v", got, want[name], res.Findings)
			}
			if res.Status != report.StatusComplete {
				t.Errorf("status %s: %s", res.Status, res.Error)
			}
			if got := scantest.Rules(res, finding.Medium); strings.HasPrefix(name, "benign") && len(got) > 0 {
				t.Errorf("benign file has findings: %v", res.Findings)
			}
		})
	}
}

func TestWeightsOnlyIsInfo(t *testing.T) {
	b, _ := os.ReadFile("testdata/weights_only.h5")
	res := scantest.Bytes(t, "model.weights.h5", b)
	if got := scantest.Rules(res, finding.Info); !slices.Equal(got, []string{finding.RuleKerasNoConfig}) {
		t.Errorf("findings %v", res.Findings)
	}
}

// TestRawFallback breaks the root object header address: the structured
// walk fails, and the raw-byte search still finds the Lambda.
func TestRawFallback(t *testing.T) {
	b, _ := os.ReadFile("testdata/malicious_lambda_v0.h5")
	b = slices.Clone(b)
	// Superblock v0 with 8-byte addresses: the root symbol table entry's
	// object header address is at byte 64.
	binary.LittleEndian.PutUint64(b[64:], uint64(len(b))+4096)
	res := scantest.Bytes(t, "broken.h5", b)
	got := scantest.Rules(res, finding.Medium)
	if !slices.Contains(got, finding.RuleKerasLambda) || !slices.Contains(got, finding.RuleHDF5StructureUnknown) {
		t.Errorf("findings %v", res.Findings)
	}
	b, _ = os.ReadFile("testdata/benign_keras2.h5")
	b = slices.Clone(b)
	binary.LittleEndian.PutUint64(b[64:], uint64(len(b))+4096)
	res = scantest.Bytes(t, "broken.h5", b)
	if got := scantest.Rules(res, finding.High); len(got) > 0 {
		t.Errorf("benign broken file: %v", res.Findings)
	}
	if got := scantest.Rules(res, finding.Medium); !slices.Equal(got, []string{finding.RuleHDF5StructureUnknown}) {
		t.Errorf("benign broken file: %v", res.Findings)
	}
}

func TestMatch(t *testing.T) {
	a := kerash5.New()
	b, _ := os.ReadFile("testdata/malicious_userblock.h5")
	for _, c := range []struct {
		b    []byte
		want bool
	}{
		{b, true},
		{[]byte("\x89HDF\r\n\x1a\n"), true},
		{[]byte("PK\x03\x04 not hdf5"), false},
		{append(make([]byte, 100), "\x89HDF\r\n\x1a\n"...), false}, // not at a power-of-two offset
	} {
		p := probe(c.b)
		if got := a.Match(p); got != c.want {
			t.Errorf("Match(%q…) = %v", c.b[:min(len(c.b), 8)], got)
		}
	}
}
