package compressed

import (
	"bytes"
	"compress/zlib"
	"testing"

	"modelgate/internal/archive"
	"modelgate/internal/format"
)

func probe(b []byte) *format.Probe {
	return &format.Probe{Head: b, Tail: b, Size: int64(len(b)), R: bytes.NewReader(b)}
}

// zlib and .lzma have two- and one-byte magic numbers: Match decodes a
// little before claiming the content.
func TestWeakMagicNeedsData(t *testing.T) {
	z := New(archive.Zlib)
	for _, s := range []string{"x^ is how this text starts", "x\x9cnot deflate at all"} {
		if z.Match(probe([]byte(s))) {
			t.Errorf("zlib claimed %q", s)
		}
	}
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write([]byte("\x80\x02}q\x00.some pickle bytes and more"))
	w.Close()
	if !z.Match(probe(buf.Bytes())) {
		t.Error("zlib did not claim a zlib stream")
	}
	l := New(archive.LZMA)
	if l.Match(probe([]byte("]q\x00(K\x01K\x02e."))) {
		t.Error("lzma claimed a protocol 1 pickle starting with EMPTY_LIST")
	}
}
