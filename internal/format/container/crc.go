package container

import (
	"hash/crc32"
	"io"
)

func crcOf(r io.ReaderAt, n int64) (uint32, error) {
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, n)); err != nil {
		return 0, err
	}
	return h.Sum32(), nil
}
