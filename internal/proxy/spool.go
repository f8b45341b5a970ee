package proxy

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"modelgate/internal/hub"
)

// maxMemSpool: files up to this size are held in memory, larger ones in a
// temporary file.
const maxMemSpool = 1 << 20

// errUnverifiable: the upstream's bytes cannot be tied to a hash.
var errUnverifiable = errors.New("unverifiable")

// spool is a whole file read from the upstream, with its sha256.
type spool struct {
	mem  []byte
	f    *os.File
	size int64
	sha  string
}

func (s *spool) ReadAt(p []byte, off int64) (int, error) {
	if s.f != nil {
		return s.f.ReadAt(p, off)
	}
	return bytes.NewReader(s.mem).ReadAt(p, off)
}

// Close removes the temporary file, if any.
func (s *spool) Close() error {
	if s.f == nil {
		return nil
	}
	s.f.Close()
	return os.Remove(s.f.Name())
}

// spool reads a file without a listed sha256 in full, checking its size
// and, when the upstream gave one, its git blob id.
func (p *Proxy) spool(ctx context.Context, ref hub.Ref, path string, fm fileMeta) (*spool, error) {
	if fm.size > p.opts.MaxSpool {
		return nil, fmt.Errorf("%w: the upstream lists no sha256 for this %d-byte file, and the gate reads such files in full only up to %d bytes",
			errUnverifiable, fm.size, p.opts.MaxSpool)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	body, n, err := p.c.Download(ctx, ref, path)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	if n >= 0 && n != fm.size {
		return nil, fmt.Errorf("%w: the upstream serves %d bytes where it listed %d", errUnverifiable, n, fm.size)
	}
	idle := time.AfterFunc(p.opts.IdleTimeout, cancel)
	defer idle.Stop()
	hs := sha256.New()
	hg := sha1.New()
	fmt.Fprintf(hg, "blob %d\x00", fm.size)
	sp := &spool{size: fm.size}
	src := io.TeeReader(io.LimitReader(&idleReader{r: body, t: idle, d: p.opts.IdleTimeout}, fm.size+1), io.MultiWriter(hs, hg))
	var got int64
	if fm.size <= maxMemSpool {
		sp.mem, err = io.ReadAll(src)
		got = int64(len(sp.mem))
	} else {
		if sp.f, err = os.CreateTemp(p.opts.TempDir, "proxy-*"); err != nil {
			return nil, fmt.Errorf("proxy: temporary file: %w", err)
		}
		got, err = io.Copy(sp.f, src)
	}
	if err == nil && got != fm.size {
		err = fmt.Errorf("%w: the upstream sent %d bytes where it listed %d", errUnverifiable, got, fm.size)
	}
	if oid := hex.EncodeToString(hg.Sum(nil)); err == nil && fm.gitOID != "" && oid != fm.gitOID {
		err = fmt.Errorf("%w: the upstream's bytes have git blob id %s, it listed %s", errUnverifiable, oid, fm.gitOID)
	}
	if err != nil {
		sp.Close()
		return nil, err
	}
	sp.sha = hex.EncodeToString(hs.Sum(nil))
	return sp, nil
}

// spoolFailed answers for a file that could not be read in full.
func (p *Proxy) spoolFailed(w http.ResponseWriter, r *http.Request, err error) {
	var he *hub.Error
	switch {
	case r.Context().Err() != nil:
	case errors.As(err, &he):
		upstreamError(w, r, err)
	case errors.Is(err, errUnverifiable):
		hubError(w, r, http.StatusBadGateway, codeUnverifiable, "", err.Error(), nil)
	default:
		hubError(w, r, http.StatusBadGateway, codeUnavailable, "", "reading the file from the upstream hub failed: "+err.Error(), nil)
	}
}

// idleReader restarts an idle timer before each read.
type idleReader struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (i *idleReader) Read(p []byte) (int, error) {
	i.t.Reset(i.d)
	return i.r.Read(p)
}
