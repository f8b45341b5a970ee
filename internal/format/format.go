// Package format defines how analyzers plug into a scan: each recognises
// its format by content (never by file name) and reports findings, pickle
// imports and nested members through an Emitter.
package format

import (
	"context"
	"fmt"
	"io"

	"modelgate/internal/finding"
	"modelgate/internal/limits"
	"modelgate/internal/policy"
)

// ProbeSize is how much of the start and end of a file Match sees.
const ProbeSize = 64 << 10

// Probe is what an analyzer's Match sees: the first and last bytes of the
// content, and its size. A name is deliberately absent.
type Probe struct {
	Head []byte // up to ProbeSize bytes from offset 0
	Tail []byte // up to ProbeSize bytes ending at Size (may overlap Head)
	Size int64
	// R reads the whole content, for matchers that must look further
	// (a zip's central directory). Matchers must stay cheap.
	R io.ReaderAt
}

// Analyzer recognises and checks one format.
type Analyzer interface {
	// Name is the format name shown in reports, e.g. "pickle".
	Name() string
	// Match reports whether the content is in this format. It must be
	// cheap and must not use the file name.
	Match(p *Probe) bool
	// Analyze checks the content. A malformed file is reported as
	// findings; an error is returned only for I/O failures, cancellation
	// and limits (which the scan turns into SCAN-LIMIT-EXCEEDED).
	Analyze(ctx context.Context, in *Input, out Emitter) error
}

// Input is one piece of content to analyze: a file, or a member of one.
type Input struct {
	R    io.ReaderAt
	Size int64
	// Path is the top-level file as the user named it.
	Path string
	// Member locates this content inside Path ("" for the file itself),
	// members joined with "!" from the outside in.
	Member string
	// Depth counts containers around this content (0 for a file).
	Depth  int
	Probe  *Probe
	Policy *policy.Policy
	Limits *limits.Limits
	Rules  *finding.Catalogue
	// Explain asks pickle-carrying analyzers for a decompiled listing.
	Explain bool
	// Dir is the directory holding a top-level file on disk, or "" when
	// the content has no folder (archive members, uploads, remote files).
	// Formats that reference sibling files (ONNX external data) use it.
	Dir string
	// DirUsed is set by an analyzer whose findings depend on what sits in
	// Dir, not only on the content: such a verdict is not cached by sha256.
	DirUsed bool
}

// Emitter receives what an analyzer found. The scan implements it.
type Emitter interface {
	// Finding reports a finding; Path and Member are filled in if empty,
	// and Member is taken relative to the Input's member.
	Finding(f finding.Finding)
	// Import reports a pickle import with its safety.
	Import(imp finding.Import)
	// Child hands nested content (an archive member, bytes passed to a
	// loader) back to the scan, which detects its format and analyzes it
	// within the depth, count and size limits. name is relative to the
	// current member.
	Child(ctx context.Context, name string, r io.ReaderAt, size int64) error
	// Listing attaches a human-readable listing of the content (explain's
	// decompiled pickle) to the member.
	Listing(text string)
}

// Error is malformed input at a byte offset; analyzers wrap it with what
// they were reading.
type Error struct {
	Off int64
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("offset %d: %s", e.Off, e.Msg) }
