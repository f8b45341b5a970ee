package h2o

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/limits"
)

// MOJO is the analyzer for H2O MOJO archives.
type MOJO struct{}

// NewMOJO returns the MOJO analyzer.
func NewMOJO() *MOJO { return &MOJO{} }

// Name implements format.Analyzer.
func (*MOJO) Name() string { return "h2o-mojo" }

// Match implements format.Analyzer: a zip archive whose central directory
// holds model.ini at its root. It must run before generic zip analyzers.
func (*MOJO) Match(p *format.Probe) bool {
	if len(p.Head) < 4 || string(p.Head[:2]) != "PK" {
		return false
	}
	zr, err := openZip(p.R, p.Size)
	if zr == nil || err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return false
	}
	for _, f := range zr.File {
		if f.Name == "model.ini" {
			return true
		}
	}
	return false
}

func openZip(r io.ReaderAt, size int64) (*zip.Reader, error) {
	zr, err := zip.NewReader(r, size)
	if errors.Is(err, zip.ErrInsecurePath) {
		return zr, nil // reported per entry
	}
	return zr, err
}

// codeExts are member extensions that hold executable code.
var codeExts = map[string]string{
	".class": "Java class", ".jar": "Java archive", ".war": "Java archive", ".so": "native library",
	".dll": "native library", ".dylib": "native library", ".jnilib": "native library",
	".exe": "executable", ".sh": "shell script", ".bat": "batch script", ".cmd": "batch script",
	".ps1": "PowerShell script", ".py": "Python source", ".pyc": "Python bytecode", ".js": "JavaScript",
	".groovy": "Groovy script", ".jsp": "Java server page", ".pkl": "pickle", ".pickle": "pickle",
}

// layoutDirs are the folders MOJO writers create; layoutFiles the files
// at the root other than model.ini (word2vec, XGBoost and others keep
// their payload in named files).
var (
	layoutDirs = []string{
		"domains/", "trees/", "experimental/", "models/", "feature_engineering/", "weights/",
		"biases/", "vectors/", "vocabulary/", "archetypes/", "model_info/",
	}
	layoutExts  = []string{".txt", ".bin", ".ini", ".json", ".csv", ".md", ".zip", ".b", ".dat", ""}
	layoutFiles = map[string]bool{"model.ini": true, "boosterBytes": true, "vocabulary": true, "vectors": true, "model_details.json": true}
)

// Analyze implements format.Analyzer.
func (*MOJO) Analyze(ctx context.Context, in *format.Input, out format.Emitter) error {
	zr, err := openZip(in.R, in.Size)
	if err != nil {
		return &format.Error{Off: 0, Msg: "MOJO zip: " + err.Error()}
	}
	if len(zr.File) > in.Limits.MaxMembers {
		return limits.Exceeded("MaxMembers", int64(len(zr.File)), int64(in.Limits.MaxMembers), -1)
	}
	seen := map[string]bool{}
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := f.Name
		off := headerOffset(f)
		if seen[name] {
			out.Finding(in.Rules.New(finding.RuleH2OMOJODuplicate, fmt.Sprintf("entry %q appears more than once", name), name, off))
		}
		seen[name] = true
		if unsafePath(name) {
			out.Finding(in.Rules.New(finding.RuleH2OMOJOPath, fmt.Sprintf("entry %q would be written outside the folder it is unpacked in", name), name, off))
		}
		if f.FileInfo().IsDir() {
			continue
		}
		ext := strings.ToLower(path.Ext(name))
		kind, isCode := codeExts[ext]
		if isCode {
			out.Finding(in.Rules.New(finding.RuleH2OMOJOCode, fmt.Sprintf("entry %q is a %s; MOJOs hold model data only", name, kind), name, off))
		} else if f.Mode()&0o111 != 0 && f.Mode().IsRegular() && f.CreatorVersion>>8 == 3 {
			out.Finding(in.Rules.New(finding.RuleH2OMOJOCode, fmt.Sprintf("entry %q is marked executable", name), name, off))
		}
		if expected(name) && !isCode && ext != ".zip" {
			continue // model data; nested archives (stacked ensembles) are scanned
		}
		if !isCode && !expected(name) {
			out.Finding(in.Rules.New(finding.RuleH2OMOJOUnexpected, fmt.Sprintf("entry %q is not part of the MOJO layout", name), name, off))
		}
		// Whatever is not model data is scanned as a nested file.
		if err := child(ctx, in, out, f); err != nil {
			return err
		}
	}
	return nil
}

func headerOffset(f *zip.File) int64 {
	off, err := f.DataOffset()
	if err != nil {
		return finding.NoOffset
	}
	return off
}

func unsafePath(name string) bool {
	n := strings.ReplaceAll(name, "\\", "/")
	if strings.HasPrefix(n, "/") || len(n) > 1 && n[1] == ':' {
		return true
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

func expected(name string) bool {
	if layoutFiles[name] {
		return true
	}
	ext := strings.ToLower(path.Ext(name))
	for _, d := range layoutDirs {
		if strings.HasPrefix(name, d) {
			for _, e := range layoutExts {
				if ext == e {
					return true
				}
			}
		}
	}
	return false
}

// maxInMemory bounds a compressed member decompressed for a nested scan.
const maxInMemory = 256 << 20

// child hands a member to the scan, which detects and checks its format:
// stored members as a view of the archive, compressed ones decompressed
// into memory within the size and ratio limits.
func child(ctx context.Context, in *format.Input, out format.Emitter, f *zip.File) error {
	lim := in.Limits
	if f.UncompressedSize64 > uint64(lim.MaxMemberSize) {
		return limits.Exceeded("MaxMemberSize", int64(min(f.UncompressedSize64, 1<<62)), lim.MaxMemberSize, headerOffset(f))
	}
	if f.Method == zip.Store && f.CompressedSize64 == f.UncompressedSize64 {
		if off, err := f.DataOffset(); err == nil && off >= 0 && off+int64(f.UncompressedSize64) <= in.Size {
			return out.Child(ctx, f.Name, io.NewSectionReader(in.R, off, int64(f.UncompressedSize64)), int64(f.UncompressedSize64))
		}
	}
	// The header's sizes may lie; the reader below enforces the caps.
	capBytes := min(lim.MaxMemberSize, maxInMemory, max(int64(f.CompressedSize64), 1)*lim.MaxRatio)
	rc, err := f.Open()
	if err != nil {
		out.Finding(in.Rules.New(finding.RuleParseError, fmt.Sprintf("entry %q cannot be read: %v", f.Name, err), f.Name, headerOffset(f)))
		return nil
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, capBytes+1))
	if err != nil {
		out.Finding(in.Rules.New(finding.RuleParseError, fmt.Sprintf("entry %q cannot be decompressed: %v", f.Name, err), f.Name, headerOffset(f)))
		return nil
	}
	if int64(len(data)) > capBytes {
		return limits.Exceeded("MaxMemberSize", int64(len(data)), capBytes, headerOffset(f))
	}
	return out.Child(ctx, f.Name, bytes.NewReader(data), int64(len(data)))
}
