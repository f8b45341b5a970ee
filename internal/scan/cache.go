package scan

import (
	"crypto/sha256"
	"encoding/hex"

	"modelgate/internal/report"
	"modelgate/internal/version"
)

// VerdictCache remembers the results of earlier scans by content. Keys
// come from CacheKey, so they already change with the scanner and the
// policy; an implementation only stores and returns results.
type VerdictCache interface {
	// Get returns a copy of the result stored under key.
	Get(key string) (*report.File, bool)
	// Put stores a result; it may be dropped (a cache is best effort).
	// The scan goes on using f (repository findings are added to it
	// afterwards), so an implementation must copy or encode what it keeps.
	Put(key string, f *report.File)
}

// CacheKey is the cache key of content with the given sha256 scanned
// with this scanner version under the given policy version.
func CacheKey(contentSHA256, policyVersion string) string {
	h := sha256.New()
	for _, s := range []string{"modelgate verdict v1", version.Scanner, policyVersion, contentSHA256} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// cacheable reports whether a result may be reused for identical content:
// only complete results, since a timeout or a read error says something
// about this run, not about the content.
func cacheable(res *report.File) bool {
	return res.Status == report.StatusComplete && res.SHA256 != "" && len(res.Listings) == 0
}

// fromCache adapts a cached result to the entry being scanned.
func fromCache(hit *report.File, e Entry) *report.File {
	hit.Path, hit.Size, hit.Revision, hit.Cached = e.Path, e.Size, e.Revision, true
	for i := range hit.Findings {
		hit.Findings[i].Path = e.Path
	}
	return hit
}
