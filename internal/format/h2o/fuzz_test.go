package h2o

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/limits"
)

// sink is an Emitter that keeps findings and reads nested content.
type sink struct{ findings []finding.Finding }

func (s *sink) Finding(f finding.Finding) { s.findings = append(s.findings, f) }
func (s *sink) Import(finding.Import)     {}
func (s *sink) Listing(string)            {}
func (s *sink) Child(_ context.Context, _ string, r io.ReaderAt, size int64) error {
	_, err := io.Copy(io.Discard, io.NewSectionReader(r, 0, size))
	return err
}

func input(b []byte) *format.Input {
	lim := limits.Default()
	lim.MaxMemberSize = 1 << 20
	return &format.Input{R: bytes.NewReader(b), Size: int64(len(b)), Rules: finding.Default(), Limits: lim,
		Probe: &format.Probe{Head: b[:min(len(b), format.ProbeSize)], Size: int64(len(b)), R: bytes.NewReader(b)}}
}

// FuzzPOJO: any text lexes as Java without panicking or hanging.
func FuzzPOJO(f *testing.F) {
	if b, err := os.ReadFile("testdata/gbm_pojo.java"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`// \u000a Runtime.getRuntime().exec("x"); \uXYZ '\'' "\"" /* */ import java.io.*;`))
	f.Fuzz(func(t *testing.T, b []byte) {
		in := input(b)
		var s sink
		if err := NewPOJO().Analyze(context.Background(), in, &s); err != nil {
			t.Fatal(err)
		}
		if len(s.findings) == 0 || len(s.findings) > maxFindings+2 {
			t.Fatalf("%d findings", len(s.findings))
		}
	})
}

// FuzzMOJO: any bytes are matched and analyzed without panicking.
func FuzzMOJO(f *testing.F) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range []string{"model.ini", "domains/d000.txt", "trees/t00_000.bin", "../x", "a.class"} {
		w, _ := zw.Create(n)
		w.Write([]byte("[info]\nalgo = gbm\n"))
	}
	zw.Close()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		in := input(b)
		m := NewMOJO()
		if !m.Match(in.Probe) {
			return
		}
		var s sink
		m.Analyze(context.Background(), in, &s)
	})
}
