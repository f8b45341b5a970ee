package pickle

import (
	"bytes"
	"context"
	"errors"
	"io"

	"modelgate/internal/limits"
)

// Result describes every stream found in a region.
type Result struct {
	Streams []*Stream
	// Junk lists byte ranges between or after streams that held no pickle.
	Junk []Range
	// Unsearched is set when trailing bytes beyond Limits.MaxTrailingScan
	// were not searched for further streams.
	Unsearched *Range
}

// Range is a byte range [Start, End).
type Range struct{ Start, End int64 }

// ScanAll interprets every pickle stream in size bytes of r from offset 0:
// the loader may be called again after a STOP (or after an error), so a
// scanner must read on to the end of the data. Bytes that do not start a
// stream are searched for the next plausible pickle start, within a budget.
func ScanAll(ctx context.Context, r io.ReaderAt, size int64, v Visitor, opts Options) (*Result, error) {
	m := NewMachine(r, 0, size, v, opts)
	lim := m.lim
	pr := newProber(r, size, lim.MaxTrailingScan)
	res := &Result{}
	pos := int64(0)
	for pos < size {
		if len(res.Streams) >= lim.MaxPickleStreams {
			return res, limits.Exceeded("MaxPickleStreams", int64(len(res.Streams))+1, int64(lim.MaxPickleStreams), pos)
		}
		if len(res.Streams) > 0 && !pr.plausible(pos) {
			next, searched := pr.next(ctx, pos)
			if next < 0 {
				res.Junk = append(res.Junk, Range{pos, size})
				if searched < size {
					res.Unsearched = &Range{searched, size}
				}
				return res, nil
			}
			res.Junk = append(res.Junk, Range{pos, next})
			pos = next
		}
		m.SeekTo(pos)
		st, err := m.Run(ctx)
		if st != nil {
			res.Streams = append(res.Streams, st)
		}
		if err != nil {
			return res, err
		}
		if st.Err != nil {
			// The loader stops here. Carry on past the break so that a
			// second payload is not missed.
			pos = max(st.Err.Off+1, st.End)
			continue
		}
		pos = st.End
	}
	return res, nil
}

// globalCounter only notes whether a probed stream imports something.
type globalCounter struct{ n int }

func (g *globalCounter) Global(gl *Global) {
	if gl.Computed || gl.ExtCode != 0 || (identPath([]byte(gl.Module)) && identPath([]byte(gl.Name))) {
		g.n++
	}
}
func (g *globalCounter) Call(*Call)                       {}
func (g *globalCounter) Build(*Value, *Value, int64)      {}
func (g *globalCounter) Persistent(*Value, *Value, int64) {}
func (g *globalCounter) Anomaly(int64, Op, string)        {}
func (g *globalCounter) StreamStart(int64)                {}
func (g *globalCounter) StreamEnd(*Stream)                {}

// probeOps bounds one probe; probeBudget bounds all probes of one scan, so
// that bytes crafted to look like pickle starts everywhere cost a bounded
// amount of work (what is left unsearched is reported).
const (
	probeOps    = 4096
	probeBudget = 2 << 20
)

// prober test-runs the bytes at a position with one reusable machine.
type prober struct {
	r         io.ReaderAt
	size      int64
	maxSearch int64
	m         *Machine
	gc        globalCounter
	spent     int64
	budget    int64
}

func newProber(r io.ReaderAt, size, maxSearch int64) *prober {
	lim := *limits.Default()
	lim.MaxPickleOps = probeOps
	lim.MaxPickleStringBytes = 1 << 20
	// The budget also scales with the data: at most 64 opcodes per byte,
	// so small inputs stay cheap.
	p := &prober{r: r, size: size, maxSearch: maxSearch, budget: min(probeBudget, 64*size+probeOps)}
	p.m = NewMachine(r, 0, size, &p.gc, Options{Limits: &lim, InlineMax: 4096, MaxLine: 4096})
	return p
}

// plausible reports whether a pickle plausibly starts at pos: its opcodes
// decode cleanly to a STOP, or through the whole probe budget, or to an
// import before they break; a PROTO opcode needs only a few clean opcodes
// after it (a stream broken early is still a pickle, and malformed).
func (p *prober) plausible(pos int64) bool {
	if p.spent >= p.budget {
		return false
	}
	var head [2]byte
	n, _ := p.r.ReadAt(head[:], pos)
	proto := n >= 2 && head[0] == byte(PROTO) && head[1] <= HighestProtocol
	p.gc.n = 0
	p.m.strBytes, p.m.values, p.m.retainOK = 0, 0, true // probes keep nothing
	p.m.SeekTo(pos)
	st, err := p.m.Run(context.Background())
	if st != nil {
		p.spent += st.Ops
	}
	switch {
	case st == nil:
		return false
	case p.gc.n > 0 && (st.Err == nil || st.Err.Off > pos):
		return true
	case st.Ops < 2:
		return false
	case err != nil:
		// A run that spent the probe's budget without breaking is a
		// long, clean stream, whether or not it has imported yet.
		return errors.Is(err, limits.ErrLimit)
	case st.Err == nil:
		return true
	}
	return proto && st.Ops >= 4
}

// LooksLikePickle reports whether a pickle plausibly starts at pos.
func LooksLikePickle(r io.ReaderAt, pos, size int64) bool {
	return newProber(r, size, 0).plausible(pos)
}

// next searches bytes after pos for the next offset where a pickle
// plausibly starts. It returns -1 if none, and how far it searched: the
// search stops at maxSearch bytes or when the probe budget is spent.
func (p *prober) next(ctx context.Context, pos int64) (int64, int64) {
	end := p.size
	if p.maxSearch > 0 && pos+p.maxSearch < end {
		end = pos + p.maxSearch
	}
	const chunk = 1 << 20
	buf := make([]byte, min(chunk, end-pos)+64)
	for at := pos + 1; at < end; at += chunk {
		if ctx.Err() != nil {
			return -1, at
		}
		n, _ := p.r.ReadAt(buf, at)
		if n == 0 {
			break
		}
		b := buf[:n]
		lim := min(n, int(end-at))
		for i := 0; i < lim; i++ {
			if !candidateByte[b[i]] {
				j := indexCandidate(b[i:lim])
				if j < 0 {
					break
				}
				i += j
			}
			if !quickCheck(b[i:], b[i]) {
				continue
			}
			if p.spent >= p.budget {
				return -1, at + int64(i)
			}
			if p.plausible(at + int64(i)) {
				return at + int64(i), at + int64(i)
			}
		}
	}
	return -1, end
}

var candidateByte = func() (t [256]bool) {
	for _, c := range []byte{byte(PROTO), 'c', 'i', byte(SHORT_BINUNICODE), 'X', 'S', 'V'} {
		t[c] = true
	}
	return t
}()

func indexCandidate(b []byte) int {
	for i, c := range b {
		if candidateByte[c] {
			return i
		}
	}
	return -1
}

// quickCheck filters candidate bytes cheaply before a probe run.
func quickCheck(b []byte, c byte) bool {
	switch c {
	case byte(PROTO):
		return len(b) >= 2 && b[1] <= HighestProtocol
	case 'c', 'i':
		rest := b[1:]
		i := bytes.IndexByte(rest, '\n')
		if i <= 0 || !identPath(rest[:i]) {
			return false
		}
		rest = rest[i+1:]
		j := bytes.IndexByte(rest, '\n')
		return j > 0 && identPath(rest[:j])
	case byte(SHORT_BINUNICODE):
		return len(b) >= 2 && b[1] > 0 && int(b[1])+2 <= len(b) && identPath(b[2:2+int(b[1])])
	case 'X':
		if len(b) < 5 {
			return false
		}
		n := int(b[1]) | int(b[2])<<8 | int(b[3])<<16 | int(b[4])<<24
		return n > 0 && n <= 256 && 5+n <= len(b) && identPath(b[5:5+n])
	case 'S', 'V':
		i := bytes.IndexByte(b, '\n')
		if i < 2 {
			return false
		}
		t := b[1:i]
		if c == 'S' {
			if len(t) < 2 || (t[0] != '\'' && t[0] != '"') || t[len(t)-1] != t[0] {
				return false
			}
			t = t[1 : len(t)-1]
		}
		return identPath(t)
	}
	return false
}

// identPath matches a dotted Python identifier path such as "os.path".
func identPath(b []byte) bool {
	if len(b) == 0 || len(b) > 256 {
		return false
	}
	start := true
	for _, c := range b {
		switch {
		case c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z'):
		case c >= '0' && c <= '9':
			if start {
				return false
			}
		case c == '.':
			if start {
				return false
			}
			start = true
			continue
		default:
			return false
		}
		start = false
	}
	return !start
}
