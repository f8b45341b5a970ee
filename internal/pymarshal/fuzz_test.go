package pymarshal

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode decodes arbitrary bytes and summarizes what decoded. It must
// never panic, hang or allocate without bound.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.marshal")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Decode(b, DefaultOptions())
		if err != nil {
			return
		}
		_ = Summarize(v).String()
	})
}
