package store

import (
	"errors"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	c := makeCursor("vw", 4, 1234567)
	got, err := parseCursor(c, "vw", 2)
	if err != nil || got[0] != 4 || got[1] != 1234567 {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []struct {
		c, tag string
		n      int
	}{{c, "vn", 2}, {c, "vw", 1}, {"!!", "vw", 2}, {makeCursor("vw", 1), "vw", 2}} {
		if _, err := parseCursor(bad.c, bad.tag, bad.n); !errors.Is(err, ErrBadCursor) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

// FuzzCursor: a cursor comes from the client; parsing never panics and
// accepts only what makeCursor makes.
func FuzzCursor(f *testing.F) {
	f.Add(makeCursor("vn", 17), "vn", 1)
	f.Add(makeCursor("vw", 3, 99), "vw", 2)
	f.Add(makeCursor("f", 5, 0), "f", 2)
	f.Add("dnc", "vn", 1)
	f.Fuzz(func(t *testing.T, c, tag string, n int) {
		if n < 0 || n > 4 {
			return
		}
		vals, err := parseCursor(c, tag, n)
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("error %v is not ErrBadCursor", err)
			}
			return
		}
		if len(vals) != n {
			t.Fatalf("%d values, want %d", len(vals), n)
		}
		if again, err := parseCursor(makeCursor(tag, vals...), tag, n); err != nil || len(again) != n {
			t.Fatalf("re-made cursor: %v", err)
		}
	})
}
