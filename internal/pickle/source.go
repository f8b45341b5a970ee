package pickle

import (
	"bytes"
	"errors"
	"io"
)

// windowSize is the read-ahead buffer. Opcodes and their small arguments are
// decoded straight from it; larger arguments are copied out or skipped.
const windowSize = 64 << 10

// source reads a bounded region of an io.ReaderAt through a window. It never
// allocates from a length found in the data: callers check lengths against
// remaining() first.
type source struct {
	r     io.ReaderAt
	end   int64 // absolute end of the region (exclusive)
	buf   []byte
	bufAt int64 // absolute offset of buf[0]
	i, n  int   // next unread byte and end of valid bytes in buf
	err   error // sticky read error other than io.EOF
}

func newSource(r io.ReaderAt, start, end int64) *source {
	// A small region gets a small window: every read is bounded by the
	// bytes left, so it never needs more.
	n := int64(windowSize)
	if end-start < n {
		n = max(end-start, 64)
	}
	return &source{r: r, end: end, buf: make([]byte, n), bufAt: start}
}

func (s *source) pos() int64       { return s.bufAt + int64(s.i) }
func (s *source) remaining() int64 { return s.end - s.pos() }

// seek moves to an absolute offset inside the region.
func (s *source) seek(off int64) {
	if off >= s.bufAt && off <= s.bufAt+int64(s.n) {
		s.i = int(off - s.bufAt)
		return
	}
	s.bufAt, s.i, s.n = off, 0, 0
}

// ensure makes k bytes (k <= windowSize) available at buf[i:]. It returns
// false if the region holds fewer than k more bytes or a read failed.
func (s *source) ensure(k int) bool {
	if s.n-s.i >= k {
		return true
	}
	if s.err != nil {
		return false
	}
	copy(s.buf, s.buf[s.i:s.n])
	s.bufAt += int64(s.i)
	s.n -= s.i
	s.i = 0
	for s.n < k {
		want := int64(len(s.buf) - s.n)
		if left := s.end - (s.bufAt + int64(s.n)); left < want {
			want = left
		}
		if want <= 0 {
			return false
		}
		got, err := s.r.ReadAt(s.buf[s.n:s.n+int(want)], s.bufAt+int64(s.n))
		s.n += got
		if err != nil && !errors.Is(err, io.EOF) {
			s.err = err
			return s.n >= k
		}
		if got == 0 {
			// The region claims more bytes than the reader holds.
			return false
		}
	}
	return true
}

// take returns the next k bytes (k <= windowSize) without copying; the slice
// is valid until the next read.
func (s *source) take(k int) ([]byte, bool) {
	if !s.ensure(k) {
		return nil, false
	}
	b := s.buf[s.i : s.i+k]
	s.i += k
	return b, true
}

// skip advances k bytes without reading them.
func (s *source) skip(k int64) bool {
	if k < 0 || k > s.remaining() {
		return false
	}
	if k <= int64(s.n-s.i) {
		s.i += int(k)
		return true
	}
	s.seek(s.pos() + k)
	return true
}

// readData reads a k-byte argument. Up to inlineMax bytes are returned in
// full; beyond that only the first keep bytes are returned and the rest is
// skipped, with full == false. The caller has checked k against
// remaining(). The result is a fresh string: one copy, out of the window.
func (s *source) readData(k int64, inlineMax int64, keep int) (data string, full bool, ok bool) {
	if k <= int64(windowSize) && k <= inlineMax {
		b, ok := s.take(int(k))
		if !ok {
			return "", false, false
		}
		return string(b), true, true
	}
	want := k
	if k > inlineMax {
		want = int64(keep)
	}
	out := make([]byte, 0, want)
	for int64(len(out)) < want {
		chunk := want - int64(len(out))
		if chunk > windowSize {
			chunk = windowSize
		}
		b, ok := s.take(int(chunk))
		if !ok {
			return "", false, false
		}
		out = append(out, b...)
	}
	if want < k && !s.skip(k-want) {
		return "", false, false
	}
	return string(out), want == k, true
}

// readLine reads up to and excluding the next '\n'. Lines longer than max
// keep their first max bytes (full == false). ok is false when the region
// ends before a newline, or (with scanMax > 0) when no newline comes within
// scanMax bytes.
func (s *source) readLine(max int, scanMax int64) (line []byte, full bool, ok bool) {
	if s.i < s.n {
		if j := bytes.IndexByte(s.buf[s.i:s.n], '\n'); j >= 0 && j <= max {
			line = s.buf[s.i : s.i+j]
			s.i += j + 1
			return line, true, true
		}
	}
	// Slow path: the line spans windows or is long.
	var acc []byte
	full = true
	start := s.pos()
	for {
		if scanMax > 0 && s.pos()-start > scanMax {
			return nil, false, false
		}
		if s.i >= s.n && !s.ensure(1) {
			return nil, false, false
		}
		chunk := s.buf[s.i:s.n]
		j := bytes.IndexByte(chunk, '\n')
		part := chunk
		if j >= 0 {
			part = chunk[:j]
		}
		if room := max - len(acc); room > 0 {
			if len(part) > room {
				acc = append(acc, part[:room]...)
				full = false
			} else {
				acc = append(acc, part...)
			}
		} else if len(part) > 0 {
			full = false
		}
		if j >= 0 {
			s.i += j + 1
			return acc, full, true
		}
		s.i = s.n
	}
}
