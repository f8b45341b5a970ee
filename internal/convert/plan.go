package convert

import (
	"fmt"
	"slices"
	"sort"

	"modelgate/internal/safetensors"
)

// defaultMaxExpansion is Options.MaxExpansion's default.
const defaultMaxExpansion = 1 << 30

// plan is what one output file will hold.
type plan struct {
	keep     []namedTensor
	byName   map[string]*tensorRef
	aliases  map[string]string
	overlaps [][]string
	metadata map[string]string
	bytes    int64
}

// makePlan drops duplicate views (tied weights) and lists overlaps.
func makePlan(sd *stateDict, inputSize, maxExpansion int64) (*plan, error) {
	p := &plan{byName: map[string]*tensorRef{}, aliases: map[string]string{}, metadata: map[string]string{"format": "pt"}}
	groups := map[string][]string{}
	for _, nt := range sd.Tensors {
		p.byName[nt.Name] = nt.T
		if nt.T.Numel() > 0 {
			k := viewKey(nt.T)
			groups[k] = append(groups[k], nt.Name)
		}
	}
	for _, names := range groups {
		sort.Strings(names)
		for _, n := range names[1:] {
			p.aliases[n] = names[0]
		}
	}
	for _, nt := range sd.Tensors {
		if _, dropped := p.aliases[nt.Name]; dropped {
			continue
		}
		p.keep = append(p.keep, nt)
		p.bytes += nt.T.Bytes()
	}
	if p.bytes > inputSize+maxExpansion {
		return nil, refusef("the tensors would take %d bytes from a %d-byte checkpoint (expanded views are materialised; the limit is %d bytes more than the input)", p.bytes, inputSize, maxExpansion)
	}
	// The hub's converter records each dropped name with the name kept;
	// a name that collides with the format key keeps the format.
	for dropped, kept := range p.aliases {
		if _, ok := p.metadata[dropped]; !ok {
			p.metadata[dropped] = kept
		}
	}
	p.overlaps = overlaps(p.keep)
	return p, nil
}

// overlaps groups kept tensors whose bytes overlap within one storage.
func overlaps(keep []namedTensor) [][]string {
	type area struct {
		start, end int64
		name       string
	}
	byStorage := map[string][]area{}
	for _, nt := range keep {
		t := nt.T
		if t.Numel() == 0 {
			continue
		}
		s, e := t.span()
		base := t.Storage.ViewOffset * t.Storage.ElemSize
		byStorage[t.Storage.Key] = append(byStorage[t.Storage.Key], area{base + s, base + e, nt.Name})
	}
	var out [][]string
	for _, areas := range byStorage {
		slices.SortFunc(areas, func(a, b area) int {
			switch {
			case a.start != b.start:
				return cmp64(a.start, b.start)
			case a.end != b.end:
				return cmp64(a.end, b.end)
			}
			if a.name < b.name {
				return -1
			}
			return 1
		})
		var cur []string
		end := int64(-1)
		for _, a := range areas {
			if a.start >= end {
				if len(cur) > 1 {
					out = append(out, cur)
				}
				cur = nil
			}
			cur = append(cur, a.name)
			end = max(end, a.end)
		}
		if len(cur) > 1 {
			out = append(out, cur)
		}
	}
	for _, g := range out {
		sort.Strings(g)
	}
	slices.SortFunc(out, func(a, b []string) int { return cmpStr(a[0], b[0]) })
	return out
}

func cmp64(a, b int64) int {
	if a < b {
		return -1
	}
	return 1
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// descs returns the safetensors descriptors of the kept tensors.
func (p *plan) descs() ([]safetensors.TensorDesc, error) {
	out := make([]safetensors.TensorDesc, 0, len(p.keep))
	for _, nt := range p.keep {
		st, ok := torchToSafetensors[nt.T.DType]
		if !ok {
			return nil, fmt.Errorf("tensor %q: dtype %s has no safetensors equivalent", nt.Name, nt.T.DType)
		}
		shape := make([]uint64, len(nt.T.Shape))
		for i, d := range nt.T.Shape {
			shape[i] = uint64(d)
		}
		out = append(out, safetensors.TensorDesc{Name: nt.Name, DType: st.DType, Shape: shape})
	}
	return out, nil
}
