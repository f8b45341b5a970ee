package kerascfg

import (
	"bytes"
	"context"

	"modelgate/internal/finding"
	"modelgate/internal/format"
)

// ToEmitter adapts a scan's Emitter: findings are passed on (placed in
// member, if the config is an archive member), nested content is handed
// back to the scan as a child of that member. The first error from Child
// (cancellation) is kept in *err.
func ToEmitter(ctx context.Context, out format.Emitter, analyzer, member string, err *error) Emit {
	return func(f finding.Finding, n *Nested) {
		if f.Analyzer == "" || f.Analyzer == "keras" {
			f.Analyzer = analyzer
		}
		if f.Member == "" {
			f.Member = member
		}
		out.Finding(f)
		if n != nil && *err == nil {
			name := n.Name
			if member != "" {
				name = member + "!" + name
			}
			*err = out.Child(ctx, name, bytes.NewReader(n.Data), int64(len(n.Data)))
		}
	}
}
