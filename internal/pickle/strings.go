package pickle

import (
	"errors"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// escapeDecode undoes Python's bytes escapes as codecs.escape_decode does for
// the STRING opcode: \\ \' \" \a \b \f \n \r \t \v, octal \ooo, \xhh, and a
// backslash-newline continuation. Unknown escapes keep the backslash.
func escapeDecode(b []byte) ([]byte, error) {
	if !containsByte(b, '\\') {
		return b, nil
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(b) {
			return nil, errors.New("trailing \\ in string")
		}
		switch c = b[i]; c {
		case '\n':
		case '\\', '\'', '"':
			out = append(out, c)
		case 'a':
			out = append(out, 7)
		case 'b':
			out = append(out, 8)
		case 'f':
			out = append(out, 12)
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, 11)
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(c - '0')
			for k := 0; k < 2 && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '7'; k++ {
				i++
				v = v*8 + int(b[i]-'0')
			}
			out = append(out, byte(v))
		case 'x':
			if i+2 >= len(b) {
				return nil, errors.New("invalid \\x escape")
			}
			h, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8)
			if err != nil {
				return nil, errors.New("invalid \\x escape")
			}
			out = append(out, byte(h))
			i += 2
		default:
			out = append(out, '\\', c)
		}
	}
	return out, nil
}

// rawUnicodeEscapeDecode decodes the UNICODE opcode's argument: bytes are
// Latin-1 code points except \uXXXX and \UXXXXXXXX escapes (only when the
// backslash run before the u is odd).
func rawUnicodeEscapeDecode(b []byte) (string, error) {
	ascii := true
	for _, c := range b {
		if c >= 0x80 || c == '\\' {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b), nil
	}
	var sb strings.Builder
	sb.Grow(len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			sb.WriteRune(rune(c))
			continue
		}
		// Count the run of backslashes.
		j := i
		for j < len(b) && b[j] == '\\' {
			j++
		}
		run := j - i
		if run%2 == 1 && j < len(b) && (b[j] == 'u' || b[j] == 'U') {
			for k := 0; k < run-1; k++ {
				sb.WriteByte('\\')
			}
			n := 4
			if b[j] == 'U' {
				n = 8
			}
			if j+1+n > len(b) {
				return "", errors.New("truncated \\uXXXX escape")
			}
			v, err := strconv.ParseUint(string(b[j+1:j+1+n]), 16, 32)
			if err != nil || v > 0x10FFFF {
				return "", errors.New("invalid \\u escape")
			}
			if v >= 0xD800 && v <= 0xDFFF {
				sb.WriteRune(utf8.RuneError)
			} else {
				sb.WriteRune(rune(v))
			}
			i = j + n
			continue
		}
		for k := 0; k < run; k++ {
			sb.WriteByte('\\')
		}
		i = j - 1
	}
	return sb.String(), nil
}

func containsByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

// parsePyInt parses an int as Python's int(s, 0) does for the INT and LONG
// opcodes (sign, 0x/0o/0b prefixes, underscores). Values beyond int64 come
// back as decimal text with big == true.
func parsePyInt(s string) (v int64, text string, isBig bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, "", false, errors.New("invalid literal for int()")
	}
	clean := strings.ReplaceAll(s, "_", "")
	if n, err := strconv.ParseInt(clean, 0, 64); err == nil {
		return n, "", false, nil
	}
	z, ok := new(big.Int).SetString(clean, 0)
	if !ok {
		return 0, "", false, errors.New("invalid literal for int(): " + strconv.Quote(truncate(s, 40)))
	}
	return 0, z.String(), true, nil
}

// decodeLong decodes LONG1/LONG4 little-endian two's-complement bytes.
func decodeLong(b []byte) (v int64, text string, isBig bool) {
	if len(b) == 0 {
		return 0, "", false
	}
	if len(b) <= 8 {
		var u uint64
		for i := len(b) - 1; i >= 0; i-- {
			u = u<<8 | uint64(b[i])
		}
		shift := uint(64 - 8*len(b))
		return int64(u<<shift) >> shift, "", false
	}
	if len(b) > 4096 {
		// Converting huge ints to decimal is quadratic; keep a hex prefix.
		return 0, "0x…" + strconv.Itoa(len(b)) + " bytes", true
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	z := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		z.Sub(z, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if z.IsInt64() {
		return z.Int64(), "", false
	}
	return 0, z.String(), true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
