package kerascfg

import (
	"encoding/json"
	"errors"
	"slices"

	"modelgate/internal/limits"
)

// pythonJSON makes Python's JSON dialect acceptable to encoding/json:
// Python's json module (which Keras uses) reads the bare constants NaN,
// Infinity and -Infinity, so a config may contain them, and a parser that
// rejected them would let such a file skip the check. They are replaced by
// null outside strings. It also bounds nesting depth before any value is
// built.
func pythonJSON(b []byte, maxDepth int) ([]byte, error) {
	out := b
	copied := false
	depth := 0
	inStr := false
	for i := 0; i < len(b); i++ {
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
			if depth++; depth > maxDepth {
				return nil, limits.Exceeded("KerasConfigDepth", int64(depth), int64(maxDepth), int64(i))
			}
		case '}', ']':
			depth--
		case 'N', 'I', '-':
			for _, tok := range []string{"NaN", "Infinity", "-Infinity"} {
				if i+len(tok) <= len(b) && string(b[i:i+len(tok)]) == tok {
					if !copied {
						out = slices.Clone(b)
						copied = true
					}
					// A zero padded with spaces keeps the length, so JSON
					// error offsets stay true. The value itself is never
					// needed.
					out[i] = '0'
					for k := 1; k < len(tok); k++ {
						out[i+k] = ' '
					}
					i += len(tok) - 1
					break
				}
			}
		}
	}
	return out, nil
}

func jsonOffset(err error) int64 {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se.Offset
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Offset
	}
	return -1
}

func sortStrings(s []string) { slices.Sort(s) }
