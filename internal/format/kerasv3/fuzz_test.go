package kerasv3

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"modelgate/internal/format"
)

// FuzzMatch runs the central-directory lister on arbitrary bytes.
func FuzzMatch(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.keras")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		New().Match(&format.Probe{Head: b, Tail: b, Size: int64(len(b)), R: bytes.NewReader(b)})
	})
}
