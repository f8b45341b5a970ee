package tensorflow_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/format/tensorflow"
	"modelgate/internal/policy"
	"modelgate/internal/report"
	"modelgate/internal/scan"
)

func scanBytes(t *testing.T, b []byte, pol *policy.Policy) *report.File {
	t.Helper()
	return scan.New(scan.Options{Policy: pol}).ScanReader(context.Background(), "renamed", bytes.NewReader(b), int64(len(b)), "")
}

type finds []finding.Finding

func (fs finds) rules(min finding.Severity) []string {
	var out []string
	for _, f := range fs {
		if f.Severity >= min && !slices.Contains(out, f.Rule+"/"+f.Severity.String()) {
			out = append(out, f.Rule+"/"+f.Severity.String())
		}
	}
	slices.Sort(out)
	return out
}

// TestFixtures scans protobufs laid out as TensorFlow writes them
// (testdata/gen.py encodes testdata/*.txtpb with protoc).
func TestFixtures(t *testing.T) {
	want := map[string]struct {
		format string
		rules  []string
	}{
		"benign_saved_model.pb":              {"tf-savedmodel", nil},
		"benign_frozen_graph.pb":             {"tf-graphdef", nil},
		"benign_keras_metadata.pb":           {"keras-metadata", nil},
		"malicious_readfile.pb":              {"tf-savedmodel", []string{"TF-RISKY-OP/high"}},
		"malicious_writefile.pb":             {"tf-savedmodel", []string{"TF-RISKY-OP/critical"}},
		"malicious_pyfunc.pb":                {"tf-savedmodel", []string{"TF-RISKY-OP/high"}},
		"malicious_save_traversal.pb":        {"tf-savedmodel", []string{"TF-RISKY-OP/critical"}},
		"malicious_asset_traversal.pb":       {"tf-savedmodel", []string{"TF-ASSET-PATH/high"}},
		"malicious_frozen_matchingfiles.pb":  {"tf-graphdef", []string{"TF-RISKY-OP/high"}},
		"malicious_frozen_print_file.pb":     {"tf-graphdef", []string{"TF-RISKY-OP/critical"}},
		"malicious_keras_metadata_lambda.pb": {"keras-metadata", []string{"KERAS-LAMBDA/critical"}},
	}
	files, _ := filepath.Glob("testdata/*.pb")
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
			res := scanBytes(t, b, nil)
			if res.Format != want[name].format {
				t.Fatalf("format %s, want %s", res.Format, want[name].format)
			}
			if got := finds(res.Findings).rules(finding.Low); !slices.Equal(got, want[name].rules) {
				t.Errorf("rules %v, want %v; findings %v", got, want[name].rules, res.Findings)
			}
			if res.Status != report.StatusComplete {
				t.Errorf("status %s: %s", res.Status, res.Error)
			}
		})
	}
}

// TestPolicy: op severities come from the policy's [tensorflow.ops].
func TestPolicy(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "p.toml")
	os.WriteFile(p, []byte("[tensorflow.ops]\nEagerPyFunc = \"ignore\"\nMatMul = \"low\"\n"), 0o644)
	pol, err := policy.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile("testdata/malicious_pyfunc.pb")
	res := scanBytes(t, b, pol)
	got := finds(res.Findings).rules(finding.Info)
	if !slices.Equal(got, []string{"TF-RISKY-OP/low"}) {
		t.Errorf("findings %v", res.Findings)
	}
	for _, f := range res.Findings {
		if !strings.Contains(f.Message, "MatMul") {
			t.Errorf("unexpected finding %v", f)
		}
	}
}

func TestMatchNotConfused(t *testing.T) {
	sm, gd, km := tensorflow.NewSavedModel(), tensorflow.NewGraphDef(), tensorflow.NewKerasMetadata()
	onnxModel, _ := os.ReadFile("../onnx/testdata/benign_mlp.onnx")
	saved, _ := os.ReadFile("testdata/benign_saved_model.pb")
	frozen, _ := os.ReadFile("testdata/benign_frozen_graph.pb")
	meta, _ := os.ReadFile("testdata/benign_keras_metadata.pb")
	for _, c := range []struct {
		name       string
		b          []byte
		sm, gd, km bool
	}{
		{"saved model", saved, true, false, false},
		{"frozen graph", frozen, false, true, false},
		{"keras metadata", meta, false, false, true},
		{"onnx", onnxModel, false, false, false},
		{"pickle", []byte("\x80\x02cposix\nsystem\nq\x00X\x0a\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03."), false, false, false},
		{"text", []byte("just some text that is not a protobuf\n"), false, false, false},
		{"truncated", saved[:len(saved)/3], true, false, false},
	} {
		p := &format.Probe{Head: c.b, Tail: c.b, Size: int64(len(c.b)), R: bytes.NewReader(c.b)}
		if c.name == "truncated" {
			p.Size = int64(len(saved)) // the head of a large file
		}
		if got := [3]bool{sm.Match(p), gd.Match(p), km.Match(p)}; got != [3]bool{c.sm, c.gd, c.km} {
			t.Errorf("%s: matches %v, want %v", c.name, got, [3]bool{c.sm, c.gd, c.km})
		}
	}
}
