package kerasv3

import (
	"bytes"
	"encoding/binary"
	"io"
)

// zipNames lists the names in a zip's central directory cheaply, for
// Match: it finds the end record in the probe's tail (zip64 included),
// reads at most maxBytes of the directory and stops after maxEntries. The
// directory is located from the end record's position, as Python's
// zipfile does, so data prepended to the archive does not hide it.
func zipNames(r io.ReaderAt, size int64, tail []byte, maxEntries int, maxBytes int64) []string {
	const eocdLen = 22
	i := bytes.LastIndex(tail, []byte("PK\x05\x06"))
	for i >= 0 && len(tail)-i < eocdLen {
		i = bytes.LastIndex(tail[:i], []byte("PK\x05\x06"))
	}
	if i < 0 {
		return nil
	}
	eocdPos := size - int64(len(tail)) + int64(i)
	e := tail[i:]
	count := int64(binary.LittleEndian.Uint16(e[10:]))
	cdSize := int64(binary.LittleEndian.Uint32(e[12:]))
	recPos := eocdPos
	if (count == 0xffff || cdSize == 0xffffffff) && i >= 20 && string(tail[i-20:i-16]) == "PK\x06\x07" {
		off := int64(binary.LittleEndian.Uint64(tail[i-20+8:]))
		var z [56]byte
		if off >= 0 && off <= size-56 {
			if _, err := r.ReadAt(z[:], off); err == nil && string(z[:4]) == "PK\x06\x06" {
				count = int64(binary.LittleEndian.Uint64(z[32:]))
				cdSize = int64(binary.LittleEndian.Uint64(z[40:]))
				recPos = off
			}
		}
	}
	start := recPos - cdSize
	if cdSize <= 0 || start < 0 {
		return nil
	}
	n := min(cdSize, maxBytes)
	cd := make([]byte, n)
	if _, err := r.ReadAt(cd, start); err != nil && err != io.EOF {
		return nil
	}
	var names []string
	for p := 0; p+46 <= len(cd) && len(names) < maxEntries && int64(len(names)) < count; {
		if string(cd[p:p+4]) != "PK\x01\x02" {
			break
		}
		nl := int(binary.LittleEndian.Uint16(cd[p+28:]))
		xl := int(binary.LittleEndian.Uint16(cd[p+30:]))
		cl := int(binary.LittleEndian.Uint16(cd[p+32:]))
		if p+46+nl > len(cd) {
			break
		}
		names = append(names, string(cd[p+46:p+46+nl]))
		p += 46 + nl + xl + cl
	}
	return names
}
