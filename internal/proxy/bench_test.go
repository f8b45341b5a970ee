package proxy_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"

	"modelgate/internal/gate"
)

// benchFile serves a 32 MiB LFS file from an in-memory upstream, judged
// for the tenant already, so the benchmarks measure the download path:
// upstream read, sha256, and the copy to the client, on loopback.
func benchFile(b *testing.B) (gateURL, upstreamURL, token string, size int) {
	content := make([]byte, 32<<20)
	rnd := rand.NewChaCha8([32]byte{1})
	rnd.Read(content)
	us := httptest.NewServer(&tamperingHub{content: content})
	b.Cleanup(us.Close)
	base, g, tok, _ := gateFor(b, us.URL)
	if _, err := g.ScanUpload(context.Background(), gate.Upload{Tenant: "acme", Name: "model.pkl", Body: bytes.NewReader(content)}); err != nil {
		b.Fatal(err)
	}
	return base, us.URL, tok, len(content)
}

func fetch(b *testing.B, url, token string) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || n == 0 {
		b.Fatalf("%d, %d bytes, %v", resp.StatusCode, n, err)
	}
}

// BenchmarkProxyDownload is a verified download through the gate.
func BenchmarkProxyDownload(b *testing.B) {
	base, _, tok, size := benchFile(b)
	b.SetBytes(int64(size))
	b.ResetTimer()
	for range b.N {
		fetch(b, base+"/org/m/resolve/main/model.pkl", tok)
	}
}

// BenchmarkUpstreamDirect is the same download straight from the upstream,
// for comparison.
func BenchmarkUpstreamDirect(b *testing.B) {
	_, up, _, size := benchFile(b)
	b.SetBytes(int64(size))
	b.ResetTimer()
	for range b.N {
		fetch(b, up+"/org/m/resolve/main/model.pkl", "")
	}
}
