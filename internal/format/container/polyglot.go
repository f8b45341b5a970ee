package container

import (
	"context"
	"io"

	"modelgate/internal/limits"
	"modelgate/internal/pickle"
)

// PickleActs reports whether size bytes of r start a pickle that imports
// or calls something: such a prefix makes a file a polyglot that
// pickle.load and torch.load run. A pickle that only builds data (a tar
// member named "N." is the pickle None) is not worth a finding.
func PickleActs(ctx context.Context, r io.ReaderAt, size int64) bool {
	var first [1]byte
	if size < 2 {
		return false
	}
	if _, err := r.ReadAt(first[:], 0); err != nil || !pickle.Op(first[0]).Valid() {
		return false // most array data and padding fail here, cheaply
	}
	if !pickle.LooksLikePickle(r, 0, size) {
		return false
	}
	lim := *limits.Default()
	lim.MaxPickleOps = 100_000
	lim.MaxPickleStringBytes = 4 << 20
	v := &actCounter{}
	m := pickle.NewMachine(r, 0, size, v, pickle.Options{Limits: &lim, InlineMax: 4096})
	_, _ = m.Run(ctx)
	return v.n > 0
}

type actCounter struct{ n int }

func (a *actCounter) Global(*pickle.Global)                  { a.n++ }
func (a *actCounter) Call(*pickle.Call)                      { a.n++ }
func (a *actCounter) Build(_, _ *pickle.Value, _ int64)      {}
func (a *actCounter) Persistent(_, _ *pickle.Value, _ int64) {}
func (a *actCounter) Anomaly(int64, pickle.Op, string)       {}
func (a *actCounter) StreamStart(int64)                      {}
func (a *actCounter) StreamEnd(*pickle.Stream)               {}
