package tensorflow

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"modelgate/internal/format"
	"modelgate/internal/protoscan"
)

// FuzzWalk runs the matchers and the SavedModel and GraphDef walkers on
// arbitrary bytes.
func FuzzWalk(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.pb")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		looksLikeSavedModel(b, int64(len(b)))
		looksLikeGraphDef(b, int64(len(b)))
		NewKerasMetadata().Match(&format.Probe{Head: b, Tail: b, Size: int64(len(b)), R: bytes.NewReader(b)})
		v := &Visitor{Interesting: func(string) bool { return true }, Op: func(OpUse) {}, Asset: func(string, int64) {}}
		s := protoscan.NewSource(bytes.NewReader(b), int64(len(b)))
		_ = WalkSavedModel(context.Background(), s, DefaultOptions(), v)
		_ = WalkGraphDef(context.Background(), s, DefaultOptions(), v)
	})
}
