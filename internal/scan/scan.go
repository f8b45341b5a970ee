// Package scan runs a scan: it lists files from sources, hashes them,
// detects each one's format by content, dispatches it to its analyzer,
// recurses into nested content within limits, and collects findings into
// report.File results. It never executes what it reads.
package scan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"

	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/limits"
	"modelgate/internal/policy"
	"modelgate/internal/registry"
	"modelgate/internal/report"
	"modelgate/internal/secrets"
)

// Options configure a Scanner.
type Options struct {
	Policy *policy.Policy
	// Analyzers in match order; default registry.Analyzers().
	Analyzers []format.Analyzer
	// Jobs is how many files are scanned at once; default: all cores.
	Jobs int
	// NoHash skips computing sha256 of files whose hash is not known.
	NoHash bool
	// Explain attaches decompiled pickle listings to results.
	Explain bool
	// Progress, if set, is called (serially) as files complete.
	Progress func(Progress)
	Logger   *slog.Logger
	// Cache, if set, returns earlier verdicts for content with the same
	// sha256, scanner version and policy version instead of scanning it
	// again, and stores new complete verdicts.
	Cache VerdictCache
	// RepoChecks run once over all the files Run lists, before the files
	// are scanned; their findings join the results of the files they name.
	RepoChecks []RepoCheck
}

// Progress reports how far a Run has got.
type Progress struct {
	FilesDone, FilesTotal int
	BytesDone, BytesTotal int64
}

// Scanner scans files. It is safe for concurrent use.
type Scanner struct {
	opts  Options
	rules *finding.Catalogue
	lim   *limits.Limits
}

// New returns a scanner.
func New(opts Options) *Scanner {
	if opts.Policy == nil {
		opts.Policy = policy.Default()
	}
	if opts.Analyzers == nil {
		opts.Analyzers = registry.Analyzers()
	}
	if opts.Jobs <= 0 {
		opts.Jobs = runtime.GOMAXPROCS(0)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Scanner{opts: opts, rules: finding.Default(), lim: opts.Policy.Limits()}
}

// Rules returns the rule catalogue findings refer to.
func (s *Scanner) Rules() *finding.Catalogue { return s.rules }

// Policy returns the policy in use.
func (s *Scanner) Policy() *policy.Policy { return s.opts.Policy }

// Run scans every file the sources list, calling sink (serially) with each
// file's result as it completes. It returns ErrNoFiles if there was
// nothing to scan, and ctx's error if cancelled.
func (s *Scanner) Run(ctx context.Context, sources []Source, sink func(*report.File)) error {
	var entries []Entry
	var total int64
	for _, src := range sources {
		err := src.Entries(ctx, func(e Entry) error {
			entries = append(entries, e)
			total += e.Size
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(entries) == 0 {
		return ErrNoFiles
	}
	extra := s.repoFindings(ctx, entries)
	var (
		mu        sync.Mutex
		next      atomic.Int64
		done      int
		bytesDone int64
		wg        sync.WaitGroup
	)
	jobs := min(s.opts.Jobs, len(entries))
	for range jobs {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(entries) || ctx.Err() != nil {
					return
				}
				res := s.ScanEntry(ctx, entries[i])
				s.addFindings(res, extra[entries[i].Path])
				mu.Lock()
				done++
				bytesDone += entries[i].Size
				if ctx.Err() == nil {
					sink(res)
				}
				if s.opts.Progress != nil {
					s.opts.Progress(Progress{FilesDone: done, FilesTotal: len(entries), BytesDone: bytesDone, BytesTotal: total})
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ctx.Err() == nil {
		for _, res := range s.orphanResults(extra, entries) {
			sink(res)
		}
	}
	return ctx.Err()
}

// ScanEntry scans one file.
func (s *Scanner) ScanEntry(ctx context.Context, e Entry) *report.File {
	res := &report.File{Path: e.Path, Size: e.Size, SHA256: e.SHA256, Revision: e.Revision, Format: "unknown", Status: report.StatusComplete}
	fail := func(err error) *report.File {
		res.Status = report.StatusError
		res.Error = err.Error()
		f := s.rules.New(finding.RuleIOError, "could not read the file: "+err.Error(), "", finding.NoOffset)
		f.Path = e.Path
		res.Findings = append(res.Findings, f)
		return res
	}
	if e.Err != nil {
		return fail(e.Err)
	}
	c, err := e.Open(ctx)
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	return s.scanContent(ctx, e, c, res)
}

// ScanReader scans content already at hand (an upload, a download).
func (s *Scanner) ScanReader(ctx context.Context, path string, r io.ReaderAt, size int64, sha string) *report.File {
	res := &report.File{Path: path, Size: size, SHA256: sha, Format: "unknown", Status: report.StatusComplete}
	return s.scanContent(ctx, Entry{Path: path, Size: size, SHA256: sha}, r, res)
}

func (s *Scanner) scanContent(ctx context.Context, e Entry, r io.ReaderAt, res *report.File) *report.File {
	fs := &fileState{s: s, res: res, parent: ctx, seen: map[dedupKey]int{}, imports: map[importKey]int{}}
	hashFailed := func(err error) *report.File {
		if ctx.Err() == nil {
			res.Status = report.StatusError
			res.Error = err.Error()
			fs.add(s.rules.New(finding.RuleIOError, "could not read the file: "+err.Error(), "", finding.NoOffset), "")
		}
		return fs.done()
	}
	// The hash is a separate pass over the whole file. With a verdict cache
	// it is the cache key, so it comes first; otherwise it runs beside the
	// analysis, which reads only what its format needs.
	useCache := s.opts.Cache != nil && !s.opts.Explain
	var hashed chan hashResult
	if res.SHA256 == "" && !s.opts.NoHash {
		if useCache {
			h := hashContent(ctx, r, e.Size)
			if h.err != nil {
				return hashFailed(h.err)
			}
			res.SHA256 = h.sum
		} else {
			hashed = make(chan hashResult, 1)
			go func() { hashed <- hashContent(ctx, r, e.Size) }()
		}
	}
	var key string
	if useCache && res.SHA256 != "" {
		key = CacheKey(res.SHA256, s.opts.Policy.Version())
		if hit, ok := s.opts.Cache.Get(key); ok {
			return fromCache(hit, e)
		}
	}
	finish := func() *report.File {
		if hashed == nil {
			return fs.done()
		}
		h := <-hashed
		if h.err != nil {
			return hashFailed(h.err)
		}
		res.SHA256 = h.sum
		return fs.done()
	}
	if e.Size > s.lim.MaxFileSize {
		fs.add(s.rules.New(finding.RuleLimit, fmt.Sprintf("the file is %d bytes, over the %d-byte limit; it was not analyzed", e.Size, s.lim.MaxFileSize), "", finding.NoOffset), "")
		return finish()
	}
	fctx, cancel := context.WithTimeout(ctx, s.lim.PerFileTimeout)
	defer cancel()
	in := &format.Input{R: r, Size: e.Size, Path: e.Path, Dir: e.Dir}
	if err := fs.dispatch(fctx, in); err != nil {
		fs.fail(err, "")
	}
	res = finish()
	if key != "" && ctx.Err() == nil && cacheable(res) && !in.DirUsed {
		s.opts.Cache.Put(key, res)
	}
	return res
}

type hashResult struct {
	sum string
	err error
}

// SHA256 returns the hex sha256 of size bytes of r, as scans compute it.
func SHA256(ctx context.Context, r io.ReaderAt, size int64) (string, error) {
	h := hashContent(ctx, r, size)
	return h.sum, h.err
}

// hashContent computes the sha256 of size bytes of r in 1 MiB reads (the
// default 32 KiB copy buffer costs a read call per 32 KiB), stopping if ctx
// is cancelled.
func hashContent(ctx context.Context, r io.ReaderAt, size int64) hashResult {
	h := sha256.New()
	buf := make([]byte, min(1<<20, max(size, 1)))
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return hashResult{err: err}
		}
		n, err := r.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		h.Write(buf[:n])
		off += int64(n)
		if errors.Is(err, io.EOF) {
			break // as io.Copy did: a file that shrank is hashed as it is
		}
		if err != nil {
			return hashResult{err: err}
		}
		if n == 0 {
			return hashResult{err: io.ErrNoProgress}
		}
	}
	return hashResult{sum: hex.EncodeToString(h.Sum(nil))}
}

type dedupKey struct{ rule, member, evidence, message string }
type importKey struct{ module, name, member string }

// fileState collects one top-level file's results. One goroutine scans a
// file, members included, so it needs no locking.
type fileState struct {
	s        *Scanner
	parent   context.Context // the run's context, as opposed to the file's deadline
	res      *report.File
	seen     map[dedupKey]int
	imports  map[importKey]int
	members  int
	total    int64
	limitHit map[string]bool
}

func (fs *fileState) done() *report.File {
	fs.res.Sort()
	return fs.res
}

// add records a finding after the policy's overrides and suppressions.
func (fs *fileState) add(f finding.Finding, member string) {
	if f.Path == "" {
		f.Path = fs.res.Path
	}
	if member != "" {
		if f.Member == "" {
			f.Member = member
		} else {
			f.Member = member + "!" + f.Member
		}
	}
	// Secrets never reach a report, whichever analyzer quoted them.
	f.Message, f.Evidence = secrets.Redact(f.Message), secrets.Redact(f.Evidence)
	pol := fs.s.opts.Policy
	f.Severity = pol.Severity(f.Rule, f.Severity)
	switch f.Rule {
	case finding.RuleLimit, finding.RuleParseError, finding.RuleIOError:
		if fs.res.Status == report.StatusComplete {
			fs.res.Status = report.StatusPartial
			fs.res.Error = f.Message
		}
	}
	if ok, _ := pol.Suppressed(&f); ok {
		fs.res.Suppressed++
		return
	}
	k := dedupKey{f.Rule, f.Member, f.Evidence, f.Message}
	if i, ok := fs.seen[k]; ok {
		fs.res.Findings[i].Count++
		return
	}
	f.Count = 1
	fs.seen[k] = len(fs.res.Findings)
	fs.res.Findings = append(fs.res.Findings, f)
}

// fail turns an analyzer error into a finding.
func (fs *fileState) fail(err error, member string) {
	var fe *format.Error
	switch {
	case fs.parent.Err() != nil:
		return // the whole run was cancelled
	case errors.Is(err, context.DeadlineExceeded):
		fs.add(fs.s.rules.New(finding.RuleLimit, fmt.Sprintf("the scan of this file timed out after %s; the rest was not checked", fs.s.lim.PerFileTimeout), "", finding.NoOffset), member)
	case errors.Is(err, limits.ErrLimit):
		fs.add(fs.s.rules.New(finding.RuleLimit, err.Error()+"; the rest was not checked", "", offsetOf(err)), member)
	case errors.As(err, &fe):
		fs.add(fs.s.rules.New(finding.RuleParseError, err.Error(), "", fe.Off), member)
	default:
		fs.add(fs.s.rules.New(finding.RuleIOError, err.Error(), "", finding.NoOffset), member)
	}
}

func offsetOf(err error) int64 {
	var le *limits.Error
	if errors.As(err, &le) {
		return le.Offset
	}
	return finding.NoOffset
}

// dispatch detects the content's format and runs its analyzer.
func (fs *fileState) dispatch(ctx context.Context, in *format.Input) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := fs.s
	in.Policy, in.Limits, in.Rules, in.Explain = s.opts.Policy, s.lim, s.rules, s.opts.Explain
	probe, err := makeProbe(in.R, in.Size)
	if err != nil {
		return err
	}
	in.Probe = probe
	a := registry.Detect(s.opts.Analyzers, in.Probe)
	name := "unknown"
	if a != nil {
		name = a.Name()
	}
	if in.Member == "" {
		fs.res.Format = name
	} else {
		fs.res.Members = append(fs.res.Members, report.Member{Path: in.Member, Format: name, Size: in.Size})
	}
	if a == nil {
		if in.Member == "" {
			fs.add(s.rules.New(finding.RuleUnknownFormat, "no analyzer recognised this content; it was not checked for code", "", finding.NoOffset), "")
		}
		return nil
	}
	em := &emitter{fs: fs, in: in}
	if err := a.Analyze(ctx, in, em); err != nil {
		if fs.parent.Err() != nil {
			return err
		}
		fs.fail(err, in.Member)
	}
	return nil
}

// makeProbe reads the head and tail of content. A read error other than a
// short read is returned: a probe that silently came back empty would make
// the content look like an unknown format, a pass for a remote file whose
// read failed.
func makeProbe(r io.ReaderAt, size int64) (*format.Probe, error) {
	p := &format.Probe{Size: size, R: r}
	n := min(size, int64(format.ProbeSize))
	p.Head = make([]byte, n)
	got, err := r.ReadAt(p.Head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	p.Head = p.Head[:got]
	if size <= int64(format.ProbeSize) {
		p.Tail = p.Head
		return p, nil
	}
	p.Tail = make([]byte, format.ProbeSize)
	got, err = r.ReadAt(p.Tail, size-int64(format.ProbeSize))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	p.Tail = p.Tail[:got]
	return p, nil
}

// emitter is the format.Emitter for one piece of content.
type emitter struct {
	fs *fileState
	in *format.Input
}

func (e *emitter) Finding(f finding.Finding) { e.fs.add(f, e.in.Member) }

func (e *emitter) Import(imp finding.Import) {
	if imp.Member == "" {
		imp.Member = e.in.Member
	} else if e.in.Member != "" {
		imp.Member = e.in.Member + "!" + imp.Member
	}
	k := importKey{imp.Module, imp.Name, imp.Member}
	res := e.fs.res
	if i, ok := e.fs.imports[k]; ok {
		res.Imports[i].Count += imp.Count
		if imp.Safety > res.Imports[i].Safety {
			res.Imports[i].Safety = imp.Safety
		}
		return
	}
	e.fs.imports[k] = len(res.Imports)
	res.Imports = append(res.Imports, imp)
}

func (e *emitter) Listing(text string) {
	e.fs.res.Listings = append(e.fs.res.Listings, report.Listing{Member: e.in.Member, Text: secrets.Redact(text)})
}

func (e *emitter) limit(member, which string, v, max int64) {
	fs := e.fs
	if fs.limitHit == nil {
		fs.limitHit = map[string]bool{}
	}
	if fs.limitHit[which] {
		return
	}
	fs.limitHit[which] = true
	fs.add(fs.s.rules.New(finding.RuleLimit, fmt.Sprintf("%s exceeded (%d > %d) at %s; it and what follows were not checked", which, v, max, member), "", finding.NoOffset), "")
}

func (e *emitter) Child(ctx context.Context, name string, r io.ReaderAt, size int64) error {
	fs, lim := e.fs, e.fs.s.lim
	member := name
	if e.in.Member != "" {
		member = e.in.Member + "!" + name
	}
	depth := e.in.Depth + 1
	switch {
	case depth > lim.MaxDepth:
		e.limit(member, "MaxDepth", int64(depth), int64(lim.MaxDepth))
		return nil
	case fs.members+1 > lim.MaxMembers:
		e.limit(member, "MaxMembers", int64(fs.members+1), int64(lim.MaxMembers))
		return nil
	case size > lim.MaxMemberSize:
		e.limit(member, "MaxMemberSize", size, lim.MaxMemberSize)
		return nil
	case fs.total+size > lim.MaxTotalBytes:
		e.limit(member, "MaxTotalBytes", fs.total+size, lim.MaxTotalBytes)
		return nil
	}
	fs.members++
	fs.total += size
	return fs.dispatch(ctx, &format.Input{R: r, Size: size, Path: e.in.Path, Member: member, Depth: depth})
}
