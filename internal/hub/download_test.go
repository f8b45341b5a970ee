package hub

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// Download streams a whole LFS file through the CDN redirect, without the
// token at the CDN and without the request timeout cutting a long body.
func TestDownloadStreams(t *testing.T) {
	f := newFixture(t, Config{Token: testToken, RequestTimeout: 50 * time.Millisecond})
	big := strings.Repeat("0123456789", 200_000)
	ref := f.upload(t, "acme/big", map[string][]byte{"model.safetensors": []byte(big), "config.json": []byte("{}")})
	commit := f.srv.Hub.Commit("models", "acme/big")
	for _, p := range []string{"model.safetensors", "config.json"} {
		body, n, err := f.c.Download(context.Background(), ref.At(commit), p)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(80 * time.Millisecond) // longer than RequestTimeout
		got, err := io.ReadAll(body)
		body.Close()
		want := map[string]string{"model.safetensors": big, "config.json": "{}"}[p]
		if err != nil || string(got) != want || n != int64(len(want)) {
			t.Errorf("%s: %d bytes (length %d), %v", p, len(got), n, err)
		}
	}
	if st := f.srv.Hub.Stats(); st.CDNAuthorization != 0 || st.CDNBytes < int64(len(big)) {
		t.Errorf("CDN: %+v", st)
	}
	if _, _, err := f.c.Download(context.Background(), ref.At(commit), "nope.bin"); !errors.Is(err, ErrEntryNotFound) {
		t.Errorf("missing file: %v", err)
	}
}
