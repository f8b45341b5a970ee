// Package limits holds the bounds every parser works within, and the error
// returned when one is reached. Hitting a limit is never a silent pass: the
// scan reports it as a SCAN-LIMIT-EXCEEDED finding.
package limits

import (
	"errors"
	"fmt"
	"time"
)

// ErrLimit is the sentinel every *Error matches with errors.Is.
var ErrLimit = errors.New("limit exceeded")

// Error reports which limit was reached, by how much, and where.
type Error struct {
	Limit  string // the Limits field name, e.g. "MaxPickleOps"
	Value  int64  // what the input asked for (or reached)
	Max    int64  // the limit
	Offset int64  // byte offset where it was reached, or -1
}

func (e *Error) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("%s exceeded at offset %d: %d > %d", e.Limit, e.Offset, e.Value, e.Max)
	}
	return fmt.Sprintf("%s exceeded: %d > %d", e.Limit, e.Value, e.Max)
}

// Is makes errors.Is(err, ErrLimit) true for every *Error.
func (e *Error) Is(target error) bool { return target == ErrLimit }

// Exceeded builds an *Error.
func Exceeded(limit string, value, max, offset int64) error {
	return &Error{Limit: limit, Value: value, Max: max, Offset: offset}
}

// Limits bounds a scan. The zero value is not useful; start from Default.
type Limits struct {
	// MaxFileSize is the largest file scanned at all. Larger files are
	// reported, not read. Formats that read only headers (safetensors,
	// GGUF, zip) are cheap whatever the size, so the default is large.
	MaxFileSize int64
	// MaxDepth bounds nesting: archives in archives, pickles in pickles.
	MaxDepth int
	// MaxMembers bounds the members read from one container.
	MaxMembers int
	// MaxMemberSize bounds one decompressed member.
	MaxMemberSize int64
	// MaxTotalBytes bounds the bytes decompressed from one top-level file.
	MaxTotalBytes int64
	// MaxRatio bounds a member's decompressed/compressed size ratio.
	MaxRatio int64

	// MaxPickleOps bounds the opcodes interpreted in one pickle stream.
	MaxPickleOps int64
	// MaxPickleStack bounds the VM stack (and mark stack) depth.
	MaxPickleStack int
	// MaxPickleMemo bounds the memo entries.
	MaxPickleMemo int
	// MaxPickleStringBytes bounds the string and bytes data held in memory
	// by one stream. Larger arguments are kept by reference (offset and
	// length), not read into memory.
	MaxPickleStringBytes int64
	// MaxPickleValues bounds the container items the VM retains. Beyond it
	// containers stop keeping their contents, which affects only what
	// explain can show: calls and imports are still all seen.
	MaxPickleValues int64
	// MaxPickleStreams bounds the pickle streams read from one file.
	MaxPickleStreams int
	// MaxTrailingScan bounds the bytes after a pickle's STOP searched for
	// further pickles.
	MaxTrailingScan int64

	// PerFileTimeout bounds the time spent on one top-level file.
	PerFileTimeout time.Duration
}

// Default returns the limits used unless a policy says otherwise. They are
// sized so that real checkpoints (multi-GB files, pickles with millions of
// objects) never reach them.
func Default() *Limits {
	return &Limits{
		MaxFileSize:          1 << 40, // 1 TiB: headers-only formats cost nothing
		MaxDepth:             8,
		MaxMembers:           100_000,
		MaxMemberSize:        16 << 30,
		MaxTotalBytes:        64 << 30,
		MaxRatio:             1_000,
		MaxPickleOps:         500_000_000,
		MaxPickleStack:       4_000_000,
		MaxPickleMemo:        16_000_000,
		MaxPickleStringBytes: 512 << 20,
		MaxPickleValues:      16_000_000,
		MaxPickleStreams:     1_000,
		MaxTrailingScan:      64 << 20,
		PerFileTimeout:       10 * time.Minute,
	}
}
