package convert

import (
	"fmt"
	"strings"

	"modelgate/internal/pickle"
)

// maxDepth bounds how deeply dicts may nest in a state dict.
const maxDepth = 64

// namedTensor is a state dict entry.
type namedTensor struct {
	Name string
	T    *tensorRef
}

// Skipped is a state dict entry that is not a tensor, left out of the
// output.
type Skipped struct {
	Name string `json:"name"`
	// What it is, e.g. "int", "list holding 2 tensors".
	What string `json:"what"`
}

// stateDict is what a checkpoint's data pickle rebuilds, flattened.
type stateDict struct {
	// Key is the wrapper entry the tensors came from ("" for the top).
	Key     string
	Tensors []namedTensor
	Skipped []Skipped
}

// walker turns the pickle's result into tensors. Every value it accepts
// was built by an allowed callable (the guard has checked the calls); it
// checks the arguments each call was given.
type walker struct {
	g *guard
	// maxExpansion bounds one view's output beyond its storage's size.
	maxExpansion int64
	tensors      map[*pickle.Value]*tensorRef
	active       map[*pickle.Value]bool
}

// refusal is a reason the walk cannot continue.
type refusal struct{ msg string }

func (r *refusal) Error() string { return r.msg }

func refusef(format string, a ...any) error { return &refusal{fmt.Sprintf(format, a...)} }

// wrappers are the keys training scripts put a state dict under, in the
// order they are tried when no --key is given.
var wrappers = []string{"state_dict", "model"}

// stateDictOf selects and flattens the state dict in the result.
func (w *walker) stateDictOf(res *pickle.Value, key string) (*stateDict, error) {
	top, err := w.items(res, "the checkpoint")
	if err != nil {
		return nil, err
	}
	sd := &stateDict{}
	root := res
	if key == "" {
		key = w.wrapperKey(top)
	}
	if key != "" {
		v, ok := lookup(top, key)
		if !ok {
			return nil, refusef("the checkpoint has no entry %q (its entries: %s)", key, keyList(top))
		}
		if _, err := w.items(v, fmt.Sprintf("entry %q", key)); err != nil {
			return nil, err
		}
		root = v
		sd.Key = key
		for _, p := range top {
			if k := p.key.Str; k != key {
				sd.Skipped = append(sd.Skipped, Skipped{Name: k, What: w.what(p.val) + fmt.Sprintf(" (outside entry %q)", key)})
			}
		}
	}
	seen := map[string]bool{}
	if err := w.flatten(root, "", 0, seen, sd); err != nil {
		return nil, err
	}
	return sd, nil
}

// wrapperKey picks the wrapper entry holding the state dict, or "" when
// the top level is the state dict: it must hold no tensor itself.
func (w *walker) wrapperKey(top []pair) string {
	for _, p := range top {
		if w.isTensor(p.val) {
			return ""
		}
	}
	for _, k := range wrappers {
		if v, ok := lookup(top, k); ok && isDict(v) {
			return k
		}
	}
	return ""
}

// pair is a dict item.
type pair struct{ key, val *pickle.Value }

// items returns a dict's items with Python's semantics for repeated keys
// (the last value wins, in the first key's place). Keys must be strings.
func (w *walker) items(v *pickle.Value, what string) ([]pair, error) {
	if !isDict(v) {
		return nil, refusef("%s is %s, not a dict of tensors", what, describe(v))
	}
	if v.Truncated {
		return nil, refusef("%s has more items than the pickle limits let the reader keep", what)
	}
	if v.Kind == pickle.KindObject && len(v.Call.States) > 0 {
		for _, st := range v.Call.States {
			if st.Kind == pickle.KindDict && dictHas(st, "__setstate__") {
				return nil, refusef("%s sets __setstate__", what)
			}
		}
	}
	var out []pair
	at := map[string]int{}
	for i := 0; i+1 < len(v.Items); i += 2 {
		k, val := v.Items[i], v.Items[i+1]
		if !k.IsString() {
			return nil, refusef("%s has a key that is %s, not a string (use --key to pick a dict of named tensors)", what, describe(k))
		}
		if j, ok := at[k.Str]; ok {
			out[j].val = val
			continue
		}
		at[k.Str] = len(out)
		out = append(out, pair{k, val})
	}
	return out, nil
}

func dictHas(d *pickle.Value, key string) bool {
	for i := 0; i+1 < len(d.Items); i += 2 {
		if d.Items[i].Kind == pickle.KindStr && d.Items[i].Str == key {
			return true
		}
	}
	return false
}

func isDict(v *pickle.Value) bool {
	return v != nil && (v.Kind == pickle.KindDict || isOrderedDict(v))
}

func lookup(items []pair, key string) (*pickle.Value, bool) {
	for _, p := range items {
		if p.key.Str == key {
			return p.val, true
		}
	}
	return nil, false
}

func keyList(items []pair) string {
	var ks []string
	for i, p := range items {
		if i == 10 {
			ks = append(ks, "…")
			break
		}
		ks = append(ks, fmt.Sprintf("%q", p.key.Str))
	}
	if len(ks) == 0 {
		return "none"
	}
	return strings.Join(ks, ", ")
}

// flatten adds a dict's tensors under prefix, nested dicts joined with
// ".", and records what is not a tensor.
func (w *walker) flatten(d *pickle.Value, prefix string, depth int, seen map[string]bool, sd *stateDict) error {
	if depth > maxDepth {
		return refusef("dicts nest more than %d deep at %q", maxDepth, prefix)
	}
	if w.active[d] {
		return refusef("the dict at %q contains itself", prefix)
	}
	w.active[d] = true
	defer delete(w.active, d)
	what := "the state dict"
	if prefix != "" {
		what = fmt.Sprintf("entry %q", strings.TrimSuffix(prefix, "."))
	}
	items, err := w.items(d, what)
	if err != nil {
		return err
	}
	for _, p := range items {
		name := prefix + p.key.Str
		switch {
		case w.isTensor(p.val):
			t, err := w.tensor(p.val)
			if err != nil {
				return refusef("tensor %q: %v", name, err)
			}
			if seen[name] {
				return refusef("two entries flatten to the name %q (a collision between a nested dict and a dotted key)", name)
			}
			seen[name] = true
			sd.Tensors = append(sd.Tensors, namedTensor{name, t})
		case isDict(p.val):
			if err := w.flatten(p.val, name+".", depth+1, seen, sd); err != nil {
				return err
			}
		default:
			sd.Skipped = append(sd.Skipped, Skipped{Name: name, What: w.what(p.val)})
		}
	}
	return nil
}

// what describes a skipped value, counting tensors inside containers so
// that none is dropped unseen.
func (w *walker) what(v *pickle.Value) string {
	n := w.countTensors(v, 0, map[*pickle.Value]bool{})
	desc := v.Kind.String()
	switch {
	case isDict(v):
		desc = "dict"
	case w.isTensor(v):
		desc = "tensor"
	case v.Kind == pickle.KindObject || v.Kind == pickle.KindPersistent:
		desc = describe(v)
	}
	if n > 0 && !w.isTensor(v) {
		return fmt.Sprintf("%s holding %d tensors", desc, n)
	}
	return desc
}

func (w *walker) countTensors(v *pickle.Value, depth int, seen map[*pickle.Value]bool) int {
	if v == nil || depth > maxDepth || seen[v] {
		return 0
	}
	seen[v] = true
	if w.isTensor(v) {
		return 1
	}
	switch v.Kind {
	case pickle.KindTuple, pickle.KindList, pickle.KindDict, pickle.KindSet, pickle.KindFrozenSet, pickle.KindObject:
		n := 0
		for _, it := range v.Items {
			n += w.countTensors(it, depth+1, seen)
		}
		return n
	}
	return 0
}

// isTensor reports a value built by a tensor constructor.
func (w *walker) isTensor(v *pickle.Value) bool {
	switch callOf(v) {
	case buildTensorV1, buildTensorV2, buildTensorV3, buildParameter, buildFromTypeV2:
		return true
	}
	return false
}
