package hydra

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// Member is a config found in an archive.
type Member struct {
	Name string
	Data []byte
}

// IsTar reports whether content starts like a tar archive (ustar magic).
func IsTar(head []byte) bool {
	return len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar"))
}

// IsGzip reports whether content starts like gzip data.
func IsGzip(head []byte) bool { return len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b }

// Archive limits.
const (
	maxMembers = 100_000
	// MaxGzip bounds the bytes decompressed from a gzipped archive.
	MaxGzip = 1 << 30
)

// ArchiveConfigs returns the YAML members of a tar archive (a .nemo
// file), plain or gzipped. A plain tar is read through its headers only:
// member data other than configs is skipped with seeks, so a remote
// archive costs a few requests, not a download.
func ArchiveConfigs(r io.ReaderAt, size int64) ([]Member, error) {
	var head [512]byte
	n, _ := r.ReadAt(head[:], 0)
	var src io.Reader = io.NewSectionReader(r, 0, size)
	if IsGzip(head[:n]) {
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, err
		}
		src = &limited{r: zr, n: MaxGzip}
	} else if !IsTar(head[:n]) {
		return nil, errors.New("not a tar archive")
	}
	tr := tar.NewReader(src)
	var out []Member
	for count := 0; ; count++ {
		if count >= maxMembers {
			return out, fmt.Errorf("%w: more than %d members", ErrTooLarge, maxMembers)
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		ext := strings.ToLower(path.Ext(hdr.Name))
		if hdr.Typeflag != tar.TypeReg || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		if hdr.Size > MaxConfigSize {
			return out, fmt.Errorf("%w: member %s is %d bytes", ErrTooLarge, hdr.Name, hdr.Size)
		}
		data, err := io.ReadAll(io.LimitReader(tr, hdr.Size))
		if err != nil {
			return out, err
		}
		out = append(out, Member{Name: strings.TrimPrefix(hdr.Name, "./"), Data: data})
	}
}

// limited fails, rather than ends, when more than n bytes are read: a
// decompression past the bound must not look like a clean end.
type limited struct {
	r io.Reader
	n int64
}

func (l *limited) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("%w: more than %d bytes decompressed", ErrTooLarge, int64(MaxGzip))
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
