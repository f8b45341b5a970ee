package pymarshal

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type expectation struct {
	Functions []string `json:"functions"`
	Names     []string `json:"names"`
	Strings   []string `json:"strings"`
}

var wantLayout = map[string]string{
	"py27": "2.x", "py36": "3.0-3.7", "py37": "3.0-3.7", "py38": "3.8-3.10", "py39": "3.8-3.10",
	"py310": "3.8-3.10", "py311": "3.11+", "py312": "3.11+", "py313": "3.11+",
}

func codeNames(v Value) []string {
	var out []string
	var walk func(Value)
	walk = func(v Value) {
		if c, ok := v.(*Code); ok {
			out = append(out, c.Name)
			for _, k := range c.Consts {
				walk(k)
			}
		}
	}
	walk(v)
	return out
}

// TestFixtures decodes code objects marshalled by CPython 2.7 and 3.6–3.13
// and compares what was decoded with what each Python reported.
func TestFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.marshal")
	if len(files) < 18 {
		t.Fatalf("found %d fixtures", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var want expectation
			j, _ := os.ReadFile(strings.TrimSuffix(path, ".marshal") + ".json")
			if err := json.Unmarshal(j, &want); err != nil {
				t.Fatal(err)
			}
			v, err := Decode(b, DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			if got := codeNames(v); !slices.Equal(got, want.Functions) {
				t.Errorf("functions %v, want %v", got, want.Functions)
			}
			s := Summarize(v)
			if got := slices.Sorted(slices.Values(s.Names)); !slices.Equal(got, want.Names) {
				t.Errorf("names %v, want %v", got, want.Names)
			}
			if got := slices.Sorted(slices.Values(s.Strings)); !slices.Equal(got, want.Strings) {
				t.Errorf("strings %q, want %q", got, want.Strings)
			}
			ver := strings.SplitN(filepath.Base(path), "_", 2)[0]
			if s.Layout != wantLayout[ver] {
				t.Errorf("layout %s, want %s", s.Layout, wantLayout[ver])
			}
			for _, r := range []string{"system", "__import__"} {
				if !slices.Contains(s.Risky, r) {
					t.Errorf("risky names %v lack %s", s.Risky, r)
				}
			}
			if !strings.Contains(s.String(), `"echo pwned"`) {
				t.Errorf("summary lacks the command: %s", s)
			}
		})
	}
}

func TestValues(t *testing.T) {
	// marshal.dumps((1, -2**70, 1.5, 'é', b'x', None, True, ..., frozenset([3]), {'k': [1]})) under 3.11
	b := []byte(")\n\xe9\x01\x00\x00\x00l\xfb\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04\xe7\x00" +
		"\x00\x00\x00\x00\x00\xf8?\xf5\x02\x00\x00\x00\xc3\xa9\xf3\x01\x00\x00\x00xNT.>\x01\x00\x00\x00\xe9" +
		"\x03\x00\x00\x00{\xda\x01k[\x01\x00\x00\x00r\x00\x00\x00\x000")
	v, err := Decode(b, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	tup, ok := v.(Tuple)
	if !ok || len(tup) != 10 {
		t.Fatalf("got %#v", v)
	}
	if tup[0] != int64(1) || tup[1] != BigInt("-1180591620717411303424") || tup[2] != 1.5 || tup[3] != "é" {
		t.Errorf("scalars: %#v", tup[:4])
	}
	if string(tup[4].(Bytes)) != "x" || tup[5] != nil || tup[6] != true || tup[7] != (Ellipsis{}) {
		t.Errorf("singletons: %#v", tup[4:8])
	}
	if s, ok := tup[8].(Set); !ok || len(s) != 1 || s[0] != int64(3) {
		t.Errorf("frozenset: %#v", tup[8])
	}
	d, ok := tup[9].(Dict)
	if !ok || len(d) != 1 || d[0][0] != "k" {
		t.Fatalf("dict: %#v", tup[9])
	}
	// The list's int is a back-reference to the first 1.
	if l, ok := d[0][1].(List); !ok || len(l) != 1 || l[0] != int64(1) {
		t.Errorf("dict value: %#v", d[0][1])
	}
}

func TestMalformed(t *testing.T) {
	for name, b := range map[string]string{
		"empty":          "",
		"truncated long": "l\x05\x00\x00\x00\x01\x00",
		"huge tuple":     "(\xff\xff\xff\x7f",
		"bad ref":        "r\x05\x00\x00\x00",
		"unknown code":   "\x01",
		"negative size":  "s\xff\xff\xff\xff",
		"null":           "0",
		"code not bytes": "c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00N",
	} {
		if _, err := Decode([]byte(b), DefaultOptions()); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	deep := strings.Repeat(")\x01", 1000) + "N"
	if _, err := Decode([]byte(deep), DefaultOptions()); !errors.Is(err, ErrLimit) {
		t.Errorf("deep nesting: %v", err)
	}
}

func TestDecodeBase64(t *testing.T) {
	for in, want := range map[string]string{
		"ZWNobyBwd25lZA==\n":    "echo pwned",
		"ZWNo\nbyBw\nd25lZA==":  "echo pwned",
		"ZWNobyBwd25lZA":        "echo pwned",
		"ZWNo*byBwd25lZA==junk": "echo pwned",
	} {
		got, err := DecodeBase64(in)
		if err != nil || string(got) != want {
			t.Errorf("%q: %q, %v", in, got, err)
		}
	}
}
