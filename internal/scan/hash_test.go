package scan

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestHashContent(t *testing.T) {
	for _, n := range []int{0, 1, 1 << 20, 3<<20 + 7} {
		b := bytes.Repeat([]byte{0xa5, 0x5a, 0x01}, n/3+1)[:n]
		want := sha256.Sum256(b)
		got := hashContent(context.Background(), bytes.NewReader(b), int64(n))
		if got.err != nil || got.sum != hex.EncodeToString(want[:]) {
			t.Errorf("%d bytes: %+v", n, got)
		}
	}
	// A file shorter than its listed size is hashed as it is, as before.
	b := []byte("shorter than announced")
	want := sha256.Sum256(b)
	if got := hashContent(context.Background(), bytes.NewReader(b), 1000); got.sum != hex.EncodeToString(want[:]) {
		t.Errorf("short file: %+v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := hashContent(ctx, bytes.NewReader(make([]byte, 10)), 10); got.err == nil {
		t.Error("a cancelled hash succeeded")
	}
}
