package kerascfg

import (
	"bytes"
	"context"

	"modelgate/internal/finding"
	"modelgate/internal/format"
)

// ToEmitter adapts a scan's Emitter: findings are passed on, nested
// content is handed back to the scan as a child member. The first error
// from Child (cancellation) is kept in *err.
func ToEmitter(ctx context.Context, out format.Emitter, analyzer string, err *error) Emit {
	return func(f finding.Finding, n *Nested) {
		if f.Analyzer == "" || f.Analyzer == "keras" {
			f.Analyzer = analyzer
		}
		out.Finding(f)
		if n != nil && *err == nil {
			*err = out.Child(ctx, n.Name, bytes.NewReader(n.Data), int64(len(n.Data)))
		}
	}
}
