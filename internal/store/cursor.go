package store

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Cursors are opaque to clients: the position of the last row of a page
// (keyset paging, so pages stay stable while rows are added), tagged with
// what they page through so one listing's cursor is refused by another.

func makeCursor(tag string, vals ...int64) string {
	parts := make([]string, 0, len(vals)+1)
	parts = append(parts, tag)
	for _, v := range vals {
		parts = append(parts, strconv.FormatInt(v, 10))
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, ".")))
}

func parseCursor(c, tag string, n int) ([]int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, ErrBadCursor
	}
	parts := strings.Split(string(b), ".")
	if len(parts) != n+1 || parts[0] != tag {
		return nil, ErrBadCursor
	}
	vals := make([]int64, n)
	for i, p := range parts[1:] {
		if vals[i], err = strconv.ParseInt(p, 10, 64); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadCursor, err)
		}
	}
	return vals, nil
}
