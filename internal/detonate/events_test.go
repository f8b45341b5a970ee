package detonate

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"modelgate/internal/finding"
	"modelgate/internal/policy"
	"modelgate/internal/sandbox"
)

func TestParseEvents(t *testing.T) {
	in := strings.Join([]string{
		`{"ev": "start", "loader": "pickle", "python": "3.11.2"}`,
		`{"ev": "pickle.find_class", "module": "posix", "name": "system", "ctx": "", "ph": "load"}`,
		`not json`,
		`{"no_ev": 1}`,
		`{"ev": "os.system", "args": [1, 2]}`, // args must be strings
		`{"ev": "os.system", "args": ["` + strings.Repeat("x", 5000) + `"], "ph": "load"}`,
		`{"ev": "x", "args": [` + strings.Repeat(`"a",`, 40) + `"a"]}`,
		`{"ev": "big", "message": "` + strings.Repeat("y", 100<<10) + `"}`,
		``,
		`{"ev": "loaded", "type": "builtins.dict"}`,
	}, "\n")
	events, bad, err := ParseEvents(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if bad != 4 {
		t.Errorf("bad = %d, want 4 (not json, no ev, non-string args, too long)", bad)
	}
	evs := make([]string, len(events))
	for i, e := range events {
		evs[i] = e.Ev
	}
	if got := strings.Join(evs, ","); got != "start,pickle.find_class,os.system,x,loaded" {
		t.Errorf("events = %s", got)
	}
	if a := events[2].Args[0]; len(a) > maxField+len("…") {
		t.Errorf("field not cut: %d bytes", len(a))
	}
	if len(events[3].Args) != maxArgs {
		t.Errorf("args not cut: %d", len(events[3].Args))
	}
}

func TestParseEventsBounded(t *testing.T) {
	var b bytes.Buffer
	for range MaxEvents + 10 {
		b.WriteString(`{"ev": "import", "module": "m"}` + "\n")
	}
	events, _, err := ParseEvents(&b)
	if !errors.Is(err, ErrTooManyEvents) || len(events) != MaxEvents {
		t.Errorf("got %d events, err %v", len(events), err)
	}
	if b.Len() != 0 {
		t.Error("the stream was not read to the end (the writer would block)")
	}
}

// FuzzParseEvents: the audit stream is written by the loader and by
// whatever the payload chooses to write to the same descriptor. Parsing
// and turning it into findings must never panic and stay bounded.
func FuzzParseEvents(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "audit", "*.jsonl"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"ev":"pickle.find_class","module":"__builtin__","name":"eval","raw":"x"}` + "\n"))
	f.Add([]byte("{\"ev\":\"open\",\"args\":[\"\\u0000\",\"w\"],\"tmp\":true}\n\n\r\n"))
	pol, rules := policy.Default(), finding.Default()
	f.Fuzz(func(t *testing.T, data []byte) {
		events, _, _ := ParseEvents(bytes.NewReader(data))
		if len(events) > MaxEvents {
			t.Fatalf("%d events", len(events))
		}
		for _, e := range events {
			if len(e.Args) > maxArgs {
				t.Fatalf("%d args", len(e.Args))
			}
		}
		o := &Outcome{Loader: LoaderPickle, Events: events, Sandbox: &sandbox.Result{}}
		fs := Findings("f", o, pol, rules)
		perRule := map[string]int{}
		for _, x := range fs {
			perRule[x.Rule]++
			if perRule[x.Rule] > maxPerRule+1 {
				t.Fatalf("%d findings of %s", perRule[x.Rule], x.Rule)
			}
		}
	})
}

// BenchmarkParseAndFindings measures turning a recorded audit stream (a
// pty.spawn payload: ~150 events) into findings.
func BenchmarkParseAndFindings(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "audit", "pty_spawn.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	pol, rules := policy.Default(), finding.Default()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		events, _, _ := ParseEvents(bytes.NewReader(data))
		Findings("f", &Outcome{Events: events, Sandbox: &sandbox.Result{}}, pol, rules)
	}
}
