// Package hydra finds the callables a Hydra/OmegaConf config instantiates
// (`_target_`, with `_partial_`), as NeMo does when it restores a .nemo
// file: hydra.utils.instantiate imports and calls whatever a config names,
// so a config is code (CVE-2025-23304). It reads configs as YAML (JSON is
// YAML too) without resolving or instantiating anything, and reads the
// YAML members of .nemo tar archives through their headers only.
package hydra

import (
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"modelgate/internal/finding"
	"modelgate/internal/policy"
)

// Target is a callable named by a config.
type Target struct {
	// Key is where the mapping sits, e.g. "model.encoder".
	Key    string
	Target string
	// Partial: _partial_ is true, so instantiation returns the callable
	// bound to its arguments, to be called later.
	Partial bool
	// Legacy marks NeMo's older top-level "target" key, which NeMo
	// imports and calls with the config.
	Legacy bool
	Line   int
}

// Limits for one config.
const (
	MaxConfigSize = 4 << 20
	maxNodes      = 1_000_000
	maxDepth      = 200
)

// ErrTooLarge is returned for configs over the limits.
var ErrTooLarge = errors.New("config over the size, node or depth limit")

// Targets lists the _target_ entries of a YAML or JSON config. legacy
// also reports a top-level "target" key (inside .nemo archives).
func Targets(src []byte, legacy bool) ([]Target, error) {
	if len(src) > MaxConfigSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(src))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	w := &walker{legacy: legacy}
	w.walk(&doc, "", 0)
	return w.out, w.err
}

type walker struct {
	out    []Target
	nodes  int
	legacy bool
	err    error
}

// walk visits nodes depth-first. Aliases are not followed: the anchor
// they name is visited where it is defined, and following them is how
// alias bombs explode.
func (w *walker) walk(n *yaml.Node, key string, depth int) {
	if w.err != nil {
		return
	}
	if w.nodes++; w.nodes > maxNodes || depth > maxDepth {
		w.err = ErrTooLarge
		return
	}
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for i, c := range n.Content {
			k := key
			if n.Kind == yaml.SequenceNode {
				k = fmt.Sprintf("%s[%d]", key, i)
			}
			w.walk(c, k, depth+1)
		}
	case yaml.MappingNode:
		var t *Target
		partial := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch {
			case k.Value == "_target_":
				t = &Target{Key: key, Target: scalar(v), Line: v.Line}
			case k.Value == "target" && w.legacy && depth == 1:
				t = &Target{Key: key, Target: scalar(v), Line: v.Line, Legacy: true}
			case k.Value == "_partial_":
				partial = v.Kind == yaml.ScalarNode && strings.EqualFold(v.Value, "true")
			}
			child := k.Value
			if key != "" {
				child = key + "." + k.Value
			}
			w.walk(v, child, depth+1)
		}
		if t != nil {
			t.Partial = partial
			w.out = append(w.out, *t)
		}
	}
}

// scalar is a node's value, or a marker for a non-string target.
func scalar(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return "<non-scalar>"
}

// Verdict judges a target.
type Verdict int

// Verdicts.
const (
	// Allowed: inside the allowlist of framework modules.
	Allowed Verdict = iota
	// Unlisted: not on the allowlist; instantiating it runs code nobody
	// reviewed.
	Unlisted
	// Dangerous: the policy knows it runs commands or code.
	Dangerous
)

// Allowlist holds the module prefixes NeMo and Lightning configs
// instantiate from.
var Allowlist = []string{
	"nemo.", "nemo_run.", "megatron.core.", "lightning.pytorch.", "lightning.fabric.", "pytorch_lightning.",
	"torch.nn.", "torch.optim.", "torch.utils.data.", "torchaudio.transforms.", "torchvision.transforms.",
	"torchmetrics.", "omegaconf.",
}

// Judge decides what a target is: the policy's dangerous list first (it
// wins over the allowlist), then the allowlist.
func Judge(pol *policy.Policy, target string) (Verdict, string) {
	mod, name := target, ""
	if i := strings.LastIndexByte(target, '.'); i > 0 {
		mod, name = target[:i], target[i+1:]
	}
	if name != "" {
		if v := pol.Classify(mod, name); v.Safety == finding.Dangerous {
			return Dangerous, v.Reason
		}
	}
	for _, p := range Allowlist {
		if strings.HasPrefix(target, p) {
			return Allowed, "allowlisted"
		}
	}
	return Unlisted, "not on the allowlist of framework modules"
}
