// Package kerasv3 analyzes Keras 3 .keras archives: a zip holding
// config.json (the model config), metadata.json and model.weights.h5 (or
// .npz). The config is checked with kerascfg; every other member is handed
// back to the scan (the weights file as HDF5, an .npz, assets). It comes
// before any generic zip analyzer in the registry.
package kerasv3

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/kerascfg"
	"modelgate/internal/limits"
)

// Analyzer is the Keras v3 analyzer.
type Analyzer struct{}

// New returns the analyzer.
func New() *Analyzer { return &Analyzer{} }

// Name implements format.Analyzer.
func (*Analyzer) Name() string { return "keras-v3" }

const (
	configName   = "config.json"
	metadataName = "metadata.json"
)

// kerasMembers are the other members Keras writes; one of them beside
// config.json makes a zip a .keras archive.
var kerasMembers = []string{metadataName, "model.weights.h5", "model.weights.npz"}

// Match implements format.Analyzer: a zip whose central directory names
// config.json at its root next to metadata.json or the weights file.
func (*Analyzer) Match(p *format.Probe) bool {
	if p.Size < 22 {
		return false
	}
	names := zipNames(p.R, p.Size, p.Tail, 10_000, 4<<20)
	if !slices.Contains(names, configName) {
		return false
	}
	for _, n := range kerasMembers {
		if slices.Contains(names, n) {
			return true
		}
	}
	return false
}

// maxJSON bounds config.json and metadata.json.
const maxJSON = 256 << 20

// Analyze implements format.Analyzer.
func (a *Analyzer) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	zr, err := zip.NewReader(in.R, in.Size)
	if err != nil {
		// Python's zipfile is more lenient than Go's (it ignores the end
		// record's entry count, for one): search the raw bytes for stored
		// configs, then report the parse failure.
		if ferr := a.rawFallback(ctx, in, out); ferr != nil {
			return ferr
		}
		return &format.Error{Off: 0, Msg: "the .keras archive could not be read as a zip (" + err.Error() + "); its raw bytes were searched for Keras configs"}
	}
	if len(zr.File) > in.Limits.MaxMembers {
		return limits.Exceeded("MaxMembers", int64(len(zr.File)), int64(in.Limits.MaxMembers), -1)
	}
	var childErr error
	meta := ""
	for _, f := range zr.File {
		if f.Name == metadataName {
			b, err := readMember(f, maxJSON, in.Limits.MaxRatio)
			if err == nil {
				meta = versionNote(b)
				a.check(ctx, in, b, metadataName, metadataName, &childErr, out)
			}
		}
	}
	configs := 0
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch f.Name {
		case metadataName:
			continue
		case configName:
			// Python's zipfile opens the last entry of a duplicated name;
			// every one is checked.
			configs++
			b, err := readMember(f, maxJSON, in.Limits.MaxRatio)
			if err != nil {
				a.memberError(in, out, f.Name, err)
				continue
			}
			a.check(ctx, in, b, configName, configName+meta, &childErr, out)
		default:
			if strings.HasSuffix(f.Name, "/") && f.UncompressedSize64 == 0 {
				continue // a folder entry
			}
			if err := a.child(ctx, in, out, f); err != nil {
				return err
			}
		}
		if childErr != nil {
			return childErr
		}
	}
	if configs == 0 {
		out.Finding(in.Rules.New(finding.RuleKerasNoConfig, "archive without config.json", "", finding.NoOffset))
	}
	return childErr
}

func (a *Analyzer) check(ctx context.Context, in *format.Input, b []byte, member, src string, childErr *error, out format.Emitter) {
	emit := kerascfg.ToEmitter(ctx, out, a.Name(), member, childErr)
	err := kerascfg.Check(ctx, b, kerascfg.Options{Rules: in.Rules, Policy: in.Policy, Source: src}, emit)
	if err == nil || ctx.Err() != nil {
		return
	}
	rule := finding.RuleParseError
	if errors.Is(err, limits.ErrLimit) {
		rule = finding.RuleLimit
	}
	f := in.Rules.New(rule, src+" could not be checked: "+err.Error(), "", finding.NoOffset)
	f.Analyzer = a.Name()
	f.Member = member
	out.Finding(f)
}

func (a *Analyzer) memberError(in *format.Input, out format.Emitter, name string, err error) {
	rule := finding.RuleParseError
	if errors.Is(err, limits.ErrLimit) {
		rule = finding.RuleLimit
	}
	f := in.Rules.New(rule, fmt.Sprintf("member %s could not be read: %v", name, err), "", finding.NoOffset)
	f.Analyzer = a.Name()
	out.Finding(f)
}

// child hands a member to the scan: stored members as a window on the
// archive, compressed ones decompressed within the limits.
func (a *Analyzer) child(ctx context.Context, in *format.Input, out format.Emitter, f *zip.File) error {
	if f.Method == zip.Store {
		off, err := f.DataOffset()
		if err == nil && off >= 0 && int64(f.CompressedSize64) >= 0 && off <= in.Size-int64(f.CompressedSize64) {
			return out.Child(ctx, f.Name, io.NewSectionReader(in.R, off, int64(f.CompressedSize64)), int64(f.CompressedSize64))
		}
	}
	lim := in.Limits.MaxMemberSize
	r, size, cleanup, err := spool(f, lim, in.Limits.MaxRatio)
	if err != nil {
		a.memberError(in, out, f.Name, err)
		return nil
	}
	defer cleanup()
	return out.Child(ctx, f.Name, r, size)
}

func (a *Analyzer) rawFallback(ctx context.Context, in *format.Input, out format.Emitter) error {
	var childErr error
	_, err := kerascfg.RawConfigs(in.R, in.Size, maxJSON, func(off int64, cfg []byte) error {
		a.check(ctx, in, cfg, "", fmt.Sprintf("config found at byte %d", off), &childErr, out)
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	return childErr
}

// versionNote reads keras_version from metadata.json for messages.
func versionNote(b []byte) string {
	i := strings.Index(string(b), `"keras_version"`)
	if i < 0 {
		return ""
	}
	rest := string(b[i+len(`"keras_version"`):])
	rest = strings.TrimLeft(rest, " :")
	if !strings.HasPrefix(rest, `"`) {
		return ""
	}
	end := strings.IndexByte(rest[1:], '"')
	if end < 0 || end > 40 {
		return ""
	}
	return " (keras_version " + rest[1:1+end] + ")"
}

// readMember reads a whole member into memory, within max bytes and the
// compression ratio limit.
func readMember(f *zip.File, max, ratio int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	lim := max
	if ratio > 0 && f.Method != zip.Store {
		lim = min(lim, max64(int64(f.CompressedSize64), 1)*ratio)
	}
	b, err := io.ReadAll(io.LimitReader(rc, lim+1))
	if err != nil && !errors.Is(err, zip.ErrChecksum) {
		return nil, err
	}
	if int64(len(b)) > lim {
		return nil, limits.Exceeded("MaxMemberSize", int64(len(b)), lim, -1)
	}
	return b, nil
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// spool decompresses a member into memory (small) or a temporary file.
func spool(f *zip.File, max, ratio int64) (io.ReaderAt, int64, func(), error) {
	const inMemory = 32 << 20
	lim := max
	if ratio > 0 {
		lim = min(lim, max64(int64(f.CompressedSize64), 1)*ratio)
	}
	if f.UncompressedSize64 <= inMemory {
		b, err := readMember(f, min(lim, inMemory*2), ratio)
		if err != nil {
			return nil, 0, nil, err
		}
		return bytes.NewReader(b), int64(len(b)), func() {}, nil
	}
	rc, err := f.Open()
	if err != nil {
		return nil, 0, nil, err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp("", "modelgate-keras-*")
	if err != nil {
		return nil, 0, nil, err
	}
	cleanup := func() { tmp.Close(); os.Remove(tmp.Name()) }
	n, err := io.Copy(tmp, io.LimitReader(rc, lim+1))
	if err != nil && !errors.Is(err, zip.ErrChecksum) {
		cleanup()
		return nil, 0, nil, err
	}
	if n > lim {
		cleanup()
		return nil, 0, nil, limits.Exceeded("MaxMemberSize", n, lim, -1)
	}
	return tmp, n, cleanup, nil
}
