package chatjson

import (
	"bytes"
	"testing"
)

// FuzzFindTemplates: any bytes give templates or an error, never a panic,
// and every template offset points at a JSON string in the input.
func FuzzFindTemplates(f *testing.F) {
	f.Add([]byte(`{"chat_template": "{{ x }}"}`))
	f.Add([]byte(`{"chat_template": [{"name": "a", "template": "{{ y }}"}], "b": {"chat_template": {"x": "z"}}}`))
	f.Add([]byte("\xef\xbb\xbf{\"chat\\u005ftemplate\": \"t\"}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, _ := FindTemplates(b)
		for _, tp := range ts {
			if tp.Offset < 0 || tp.Offset >= int64(len(b)) || b[tp.Offset] != '"' {
				t.Fatalf("template offset %d does not point at a string", tp.Offset)
			}
		}
		HasKey(bytes.NewReader(b), int64(len(b)), Key)
	})
}
