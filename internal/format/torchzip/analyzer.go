package torchzip

import (
	"context"
	"fmt"
	"strings"

	"modelgate/internal/archive"
	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/format/container"
	"modelgate/internal/format/torchstorage"
	"modelgate/internal/limits"
	"modelgate/internal/pickle"
	"modelgate/internal/pickleaudit"
)

// Analyzer is the PyTorch zip checkpoint analyzer.
type Analyzer struct{}

// New returns the analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements format.Analyzer.
func (*Analyzer) Name() string { return "pytorch" }

// Match implements format.Analyzer: a zip whose archive folder holds
// data.pkl and no constants.pkl (that is TorchScript, which torch.load
// hands to torch.jit.load).
func (*Analyzer) Match(p *format.Probe) bool {
	ck := probe(p)
	return ck != nil && !ck.Has("constants.pkl")
}

// Probe returns the checkpoint directory of a probed zip, or nil.
func Probe(p *format.Probe) *Checkpoint { return probe(p) }

func probe(p *format.Probe) *Checkpoint {
	if !archive.LooksLikeZip(p.R, p.Size, p.Tail) {
		return nil
	}
	z, err := archive.OpenZip(p.R, p.Size, limits.Default().MaxMembers)
	if z == nil || (err != nil && len(z.Entries) == 0) {
		return nil
	}
	ck, err := FromZip(z)
	if err != nil {
		return nil
	}
	return ck
}

// Analyze implements format.Analyzer.
func (*Analyzer) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	s, zerr := NewSession(ctx, in, out, "pytorch")
	if s == nil {
		return zerr
	}
	for _, e := range s.Ck.Records("data.pkl") {
		s.AuditPickle(ctx, e, pickleaudit.Options{}, "data/")
	}
	s.CheckRecords()
	if err := s.DispatchRest(ctx); err != nil {
		return err
	}
	return zerr
}

// Session analyzes one checkpoint; the TorchScript analyzer shares it.
type Session struct {
	Zip     *container.Zip
	Ck      *Checkpoint
	handled map[*archive.ZipEntry]bool
}

// NewSession opens the checkpoint and reports the archive's structure. A
// nil session comes with the error that stopped it; a session may also
// come with a limit error to return once the members read are analyzed.
func NewSession(ctx context.Context, in *format.Input, out format.Emitter, analyzer string) (*Session, error) {
	z, zerr := container.OpenZip(in)
	if z == nil {
		return nil, zerr
	}
	ck, err := FromZip(z)
	if err != nil {
		return nil, &format.Error{Off: 0, Msg: "zip: " + err.Error()}
	}
	s := &Session{Zip: &container.Zip{Reporter: container.Reporter{In: in, Out: out, Analyzer: analyzer}, Z: z}, Ck: ck,
		handled: map[*archive.ZipEntry]bool{}}
	if err := s.Zip.CheckStructure(ctx); err != nil {
		return nil, err
	}
	return s, zerr
}

// AuditPickle scans a pickle record as torch reads it: persistent IDs must
// be storage references, and every storage they name must exist under
// storageDir ("" to skip that check). It returns the storages named.
func (s *Session) AuditPickle(ctx context.Context, e *archive.ZipEntry, opts pickleaudit.Options, storageDir string) []*torchstorage.Ref {
	s.handled[e] = true
	m := s.Zip.Open(ctx, e)
	if m == nil {
		return nil
	}
	defer m.Close()
	s.Zip.CheckStoredCRC(e, m)
	in := s.Zip.In
	var refs []*torchstorage.Ref
	opts.Analyzer = s.Zip.Analyzer
	opts.PersistentID = func(pid *pickle.Value, off int64, out format.Emitter) {
		ref, _, err := torchstorage.Parse(pid, false)
		if err != nil {
			f := container.Rules(in).New(finding.RuleTorchPersistentID, err.Error(), pickle.Repr(pid), off)
			f.Analyzer = s.Zip.Analyzer
			out.Finding(f)
			return
		}
		ref.Off = off
		refs = append(refs, ref)
	}
	sub := container.Sub(s.Zip.Out, e.Name, 0)
	if _, err := pickleaudit.Audit(ctx, in, m, m.Size, sub, opts); err != nil {
		if ctx.Err() == nil {
			s.Zip.Report(finding.RuleParseError, e.Name, "reading the pickle: "+err.Error(), "", finding.NoOffset)
		}
		return refs
	}
	if storageDir != "" {
		s.checkStorages(e, refs, storageDir)
	}
	return refs
}

// checkStorages reports storages that are missing or of the wrong size,
// and marks the records torch reads as raw bytes handled.
func (s *Session) checkStorages(pkl *archive.ZipEntry, refs []*torchstorage.Ref, dir string) {
	seen := map[string]bool{}
	for _, r := range refs {
		if seen[r.Key] {
			continue
		}
		seen[r.Key] = true
		es := s.Ck.Records(dir + r.Key)
		if len(es) == 0 {
			s.Zip.Report(finding.RuleTorchMissingStorage, pkl.Name, fmt.Sprintf("storage %q is referenced but there is no %s/%s%s record", r.Key, s.Ck.Prefix, dir, r.Key), r.Key, r.Off)
			continue
		}
		for _, e := range es {
			s.handled[e] = true
			if want := r.Bytes(); want >= 0 && e.UncompressedSize != want {
				s.Zip.Report(finding.RuleTorchStorageSize, e.Name, fmt.Sprintf("the record holds %d bytes; the data pickle says %d %s elements (%d bytes)", e.UncompressedSize, r.Numel, r.Class, want), "", finding.NoOffset)
			}
		}
	}
}

// bookkeeping records and the values torch writes in them.
var bookkeeping = map[string]func(string) bool{
	"byteorder":              func(v string) bool { return v == "little" || v == "big" },
	"version":                digits,
	".data/version":          digits,
	".format_version":        digits,
	".storage_alignment":     digits,
	".data/serialization_id": func(v string) bool { return len(v) <= 64 },
}

func digits(v string) bool {
	v = strings.TrimSpace(v)
	if v == "" {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// CheckRecords checks the small bookkeeping records; those holding what
// torch writes need no further scan.
func (s *Session) CheckRecords() {
	for name, valid := range bookkeeping {
		for _, e := range s.Ck.Records(name) {
			if e.UncompressedSize > 64 || e.Method != archive.MethodStore {
				continue // dispatched as nested content like any member
			}
			raw, _, err := s.Zip.Z.Raw(e)
			if err != nil {
				continue
			}
			b := make([]byte, e.CompressedSize)
			if _, err := raw.ReadAt(b, 0); err != nil {
				continue
			}
			s.handled[e] = true
			if !valid(string(b)) {
				s.Zip.Report(finding.RuleTorchRecord, e.Name, fmt.Sprintf("record %s holds %q", name, b), string(b), finding.NoOffset)
			}
		}
	}
}

// Handle marks an entry as analyzed so DispatchRest skips it.
func (s *Session) Handle(e *archive.ZipEntry) { s.handled[e] = true }

// DispatchRest hands every member not analyzed here to the scan, which
// sniffs its content: a pickle named data.txt or extra/payload.pkl is
// found whatever its name.
func (s *Session) DispatchRest(ctx context.Context) error {
	return s.Zip.DispatchAll(ctx, func(e *archive.ZipEntry) bool { return s.handled[e] })
}
