package hub

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// Download streams a whole file at ref's revision (use a commit sha),
// following the hub's redirect to where the content is served; the token
// goes to the endpoint only, never to the CDN. It returns the body, which
// the caller must close, and its length (-1 if the server did not say).
// Errors before the body starts are retried like every request; no total
// timeout applies to the body, so the caller must bound idle reads (a
// large file may take hours). Nothing is verified here: the caller hashes
// what it reads.
func (c *Client) Download(ctx context.Context, ref Ref, path string) (io.ReadCloser, int64, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, url: ref.resolvePath(ref.revision(), path),
		header: http.Header{"Accept-Encoding": {"identity"}}, stream: true})
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		drain(resp)
		return nil, 0, fmt.Errorf("hub: %s: unexpected status %s", stripQuery(resp.Request.URL.String()), resp.Status)
	}
	return resp.Body, resp.ContentLength, nil
}
