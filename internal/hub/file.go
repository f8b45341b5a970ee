package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// FileSpec names a file of a repository at a commit, as a tree listing
// describes it.
type FileSpec struct {
	// Repo's Revision should be a commit sha, so every read sees the
	// same content.
	Repo Ref
	Path string
	Size int64
	// SHA256 is the LFS content hash, if the file is in LFS.
	SHA256 string
	// GitOID is the git blob id of a regular (non-LFS) file.
	GitOID string
}

// File is a remote file read through HTTP Range requests: an io.ReaderAt
// that fetches only the blocks read, through the client's block cache.
// Small files are fetched whole. Content read in full is checked against
// the hash the hub listed (sha256 for LFS, the git blob id otherwise); a
// mismatch fails the read that completes it, and every read after.
type File struct {
	c    *Client
	ctx  context.Context
	spec FileSpec
	url  string
	key  string

	fetchMu sync.Mutex // one whole-file fetch at a time

	mu      sync.Mutex
	h       hash.Hash
	want    string
	hashed  int64
	checked bool
	err     error
	lastEnd int64 // end of the previous read, to detect sequential reads
	ahead   int64 // current read-ahead
}

// maxReadAhead bounds how far sequential reads fetch ahead.
const maxReadAhead = 8 << 20

// Open returns the remote file; nothing is fetched until it is read.
// ctx bounds every read.
func (c *Client) Open(ctx context.Context, spec FileSpec) *File {
	f := &File{c: c, ctx: ctx, spec: spec, url: spec.Repo.resolvePath(spec.Repo.revision(), spec.Path)}
	switch {
	case isHex(spec.SHA256, 64):
		f.key, f.want = "sha256:"+strings.ToLower(spec.SHA256), strings.ToLower(spec.SHA256)
	case isHex(spec.GitOID, 40):
		f.key, f.want = "git:"+strings.ToLower(spec.GitOID), strings.ToLower(spec.GitOID)
	default:
		f.key = spec.Repo.At(spec.Repo.revision()).String() + "\x00" + spec.Path
	}
	f.h = f.newHash()
	return f
}

// newHash returns a hash of the kind the listing gives, or nil.
func (f *File) newHash() hash.Hash {
	switch {
	case isHex(f.spec.SHA256, 64):
		return sha256.New()
	case isHex(f.spec.GitOID, 40):
		h := sha1.New()
		fmt.Fprintf(h, "blob %d\x00", f.spec.Size)
		return h
	}
	return nil
}

// Size is the file's size as listed.
func (f *File) Size() int64 { return f.spec.Size }

// Close releases nothing: blocks stay in the shared cache.
func (f *File) Close() error { return nil }

// ReadAt implements io.ReaderAt; it is safe for concurrent use.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	size := f.spec.Size
	if off < 0 {
		return 0, fmt.Errorf("hub: %s: negative offset", f.spec.Path)
	}
	if off >= size {
		return 0, io.EOF
	}
	if err := f.sticky(); err != nil {
		return 0, err
	}
	want := p
	if rem := size - off; int64(len(want)) > rem {
		want = want[:rem]
	}
	var err error
	if size <= f.c.cfg.WholeFileMax {
		err = f.readWhole(want, off)
	} else {
		err = f.readBlocks(want, off)
		if err == nil {
			err = f.verify(want, off)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", f.name(), err)
	}
	if len(want) < len(p) {
		return len(want), io.EOF
	}
	return len(want), nil
}

func (f *File) name() string {
	r := f.spec.Repo
	r.Path = f.spec.Path
	return r.String()
}

func (f *File) sticky() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// readWhole serves a small file from one full download, checked before use.
func (f *File) readWhole(p []byte, off int64) error {
	k := blockKey{f.key, -1}
	data := f.c.cache.get(k)
	if data == nil {
		f.fetchMu.Lock()
		data = f.c.cache.get(k)
		if data == nil {
			var err error
			data, err = f.fetchRange(0, f.spec.Size)
			if h := f.newHash(); err == nil && h != nil {
				h.Write(data)
				if got := hex.EncodeToString(h.Sum(nil)); got != f.want {
					err = f.mismatch(got)
				}
			}
			if err != nil {
				f.fetchMu.Unlock()
				return err
			}
			f.c.cache.put(k, data)
		}
		f.fetchMu.Unlock()
	}
	copy(p, data[off:])
	return nil
}

func (f *File) mismatch(got string) error {
	err := fmt.Errorf("%w: listed %s, downloaded content hashes to %s", ErrChecksum, f.want, got)
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
	return err
}

// readBlocks fills p from cached blocks, fetching each run of missing
// blocks with one Range request (extended ahead on sequential reads).
func (f *File) readBlocks(p []byte, off int64) error {
	bs, size := f.c.cfg.BlockSize, f.spec.Size
	lastBlock := (size - 1) / bs
	first, last := off/bs, (off+int64(len(p))-1)/bs
	blocks := make([][]byte, last-first+1)
	for i := first; i <= last; i++ {
		blocks[i-first] = f.c.cache.get(blockKey{f.key, i})
	}
	f.mu.Lock()
	sequential := f.lastEnd > 0 && off >= f.lastEnd-bs && off <= f.lastEnd+bs
	f.lastEnd = off + int64(len(p))
	f.mu.Unlock()
	for i := first; i <= last; {
		if blocks[i-first] != nil {
			i++
			continue
		}
		j := i
		for j < last && blocks[j+1-first] == nil {
			j++
		}
		end := j
		f.mu.Lock()
		if sequential {
			f.ahead = min(max(2*f.ahead, bs), maxReadAhead)
		} else {
			f.ahead = 0
		}
		ahead := f.ahead
		f.mu.Unlock()
		for end < lastBlock && (end-i+1)*bs < ahead && !f.c.cache.has(blockKey{f.key, end + 1}) {
			end++
		}
		start, stop := i*bs, min((end+1)*bs, size)
		data, err := f.fetchRange(start, stop)
		if err != nil {
			return err
		}
		for k := i; k <= end; k++ {
			b := data[(k-i)*bs : min((k-i+1)*bs, int64(len(data)))]
			f.c.cache.put(blockKey{f.key, k}, b)
			if k <= j {
				blocks[k-first] = b
			}
		}
		i = j + 1
	}
	for i := first; i <= last; i++ {
		b := blocks[i-first]
		bstart := i * bs
		lo := max(off, bstart)
		hi := min(off+int64(len(p)), bstart+int64(len(b)))
		if hi < lo {
			return fmt.Errorf("short block %d", i)
		}
		copy(p[lo-off:hi-off], b[lo-bstart:hi-bstart])
	}
	return nil
}

// verify feeds content read in order into the hash; when the whole file
// has passed through it, the hash must match the listed one.
func (f *File) verify(p []byte, off int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.h == nil || f.checked {
		return f.err
	}
	end := off + int64(len(p))
	if off <= f.hashed && f.hashed < end {
		f.h.Write(p[f.hashed-off:])
		f.hashed = end
	}
	if f.hashed == f.spec.Size {
		f.checked = true
		if got := hex.EncodeToString(f.h.Sum(nil)); got != f.want {
			f.err = fmt.Errorf("%w: listed %s, downloaded content hashes to %s", ErrChecksum, f.want, got)
		}
	}
	return f.err
}

// fetchRange downloads bytes [start, stop), retrying a body that breaks
// off mid-way.
func (f *File) fetchRange(start, stop int64) ([]byte, error) {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var data []byte
		data, err = f.fetchOnce(start, stop)
		if err == nil || errors.Is(err, ErrNoRange) || errors.Is(err, errNoRetry) || f.ctx.Err() != nil {
			return data, err
		}
		var herr *Error
		if errors.As(err, &herr) {
			return nil, err
		}
	}
	return nil, err
}

func (f *File) fetchOnce(start, stop int64) ([]byte, error) {
	h := http.Header{"Accept-Encoding": {"identity"}}
	whole := start == 0 && stop == f.spec.Size
	if !whole {
		h.Set("Range", fmt.Sprintf("bytes=%d-%d", start, stop-1))
	}
	resp, err := f.c.do(f.ctx, request{method: http.MethodGet, url: f.url, header: h})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	n := stop - start
	skip := int64(0)
	switch resp.StatusCode {
	case http.StatusPartialContent:
		s, e, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || s != start || e != stop-1 {
			return nil, fmt.Errorf("asked for bytes %d-%d, got %q: %w", start, stop-1, resp.Header.Get("Content-Range"), errNoRetry)
		}
		if total >= 0 && total != f.spec.Size {
			return nil, fmt.Errorf("%w: the file is %d bytes on the server, %d in the listing", ErrChecksum, total, f.spec.Size)
		}
	case http.StatusOK:
		if !whole {
			// The whole file came back. Take the part asked for only when
			// it is near the start; reading further could mean gigabytes.
			if stop > maxReadAhead {
				return nil, ErrNoRange
			}
			skip = start
		}
	default:
		return nil, fmt.Errorf("unexpected status %s", resp.Status)
	}
	if skip > 0 {
		if _, err := io.CopyN(io.Discard, resp.Body, skip); err != nil {
			return nil, err
		}
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		return nil, fmt.Errorf("reading bytes %d-%d: %w", start, stop-1, err)
	}
	if whole {
		var one [1]byte
		if k, _ := resp.Body.Read(one[:]); k > 0 {
			return nil, fmt.Errorf("%w: the file is larger on the server than the listed %d bytes", ErrChecksum, f.spec.Size)
		}
	}
	return buf, nil
}

// parseContentRange parses "bytes START-END/TOTAL" (TOTAL may be *, -1).
func parseContentRange(v string) (start, end, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err1, err2 error
	start, err1 = strconv.ParseInt(a, 10, 64)
	end, err2 = strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, 0, false
	}
	total = -1
	if tot != "*" {
		t, err := strconv.ParseInt(tot, 10, 64)
		if err != nil {
			return 0, 0, 0, false
		}
		total = t
	}
	return start, end, total, true
}

// gitBlob is the git blob id of content.
func gitBlob(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}
