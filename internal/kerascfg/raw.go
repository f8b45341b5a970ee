package kerascfg

import (
	"bytes"
	"io"
)

// configStarts are how serialized Keras configs begin, as json.dumps
// writes them (with and without spaces).
var configStarts = [][]byte{
	[]byte(`{"class_name"`), []byte(`{"module"`), []byte(`{"loss"`), []byte(`{"optimizer_config"`),
	[]byte(`{"name"`), []byte(`{"keras_version"`),
}

// RawConfigs searches raw bytes (an HDF5 file whose structure could not
// be parsed: variable-length strings sit as plain bytes in global heap
// collections) for JSON objects that look like Keras configs, and calls fn
// with each. The search streams the content in windows; each object is
// at most maxLen bytes. It returns how many candidates it found.
func RawConfigs(r io.ReaderAt, size int64, maxLen int, fn func(off int64, cfg []byte) error) (int, error) {
	const window = 1 << 20
	buf := make([]byte, min(int64(window+maxLen), size))
	found := 0
	next := int64(0) // first offset not yet searched for a start
	for base := int64(0); base < size; base += window {
		n := int(min(int64(len(buf)), size-base))
		if _, err := r.ReadAt(buf[:n], base); err != nil && err != io.EOF {
			return found, err
		}
		chunk := buf[:n]
		limit := min(n, window) // starts beyond it are found in the next window
		for i := max(0, int(next-base)); i < limit; {
			j := bytes.IndexByte(chunk[i:limit], '{')
			if j < 0 {
				break
			}
			i += j
			if !startsConfig(chunk[i:]) {
				i++
				continue
			}
			end := matchBrace(chunk[i:], maxLen)
			if end < 0 {
				i++
				continue
			}
			found++
			if err := fn(base+int64(i), chunk[i:i+end]); err != nil {
				return found, err
			}
			i += end
			next = base + int64(i)
		}
	}
	return found, nil
}

func startsConfig(b []byte) bool {
	for _, s := range configStarts {
		if bytes.HasPrefix(b, s) {
			return true
		}
	}
	return false
}

// matchBrace returns the length of the balanced JSON object at the start
// of b (respecting strings), or -1 if it does not close within maxLen.
func matchBrace(b []byte, maxLen int) int {
	depth := 0
	inStr := false
	for i := 0; i < len(b) && i < maxLen; i++ {
		ch := b[i]
		if inStr {
			switch ch {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch ch {
		case '"':
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		case 0:
			return -1 // configs are text; a NUL ends the candidate
		}
	}
	return -1
}
