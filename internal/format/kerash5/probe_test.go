package kerash5_test

import (
	"bytes"

	"modelgate/internal/format"
)

func probe(b []byte) *format.Probe {
	return &format.Probe{Head: b, Tail: b, Size: int64(len(b)), R: bytes.NewReader(b)}
}
