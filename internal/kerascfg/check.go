// Package kerascfg checks Keras model configurations (the JSON in an .h5
// file's model_config and training_config attributes, a .keras archive's
// config.json, or a SavedModel's keras_metadata.pb) for what runs code on
// load: Lambda layers (their marshalled bytecode is decoded, never run),
// modules outside Keras' own namespaces, Keras gadgets such as
// keras.utils.get_file, switches of safe deserialization, TorchModuleWrapper
// pickles and custom objects. The walk is generic: every JSON object with a
// class_name is checked wherever it sits (nested models, wrappers such as
// TimeDistributed and Bidirectional, optimizers, losses, metrics).
package kerascfg

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"modelgate/internal/finding"
	"modelgate/internal/format"
	"modelgate/internal/limits"
	"modelgate/internal/policy"
	"modelgate/internal/safepath"
)

// Options configure a check.
type Options struct {
	Rules  *finding.Catalogue
	Policy *policy.Policy
	// MaxBytes bounds the config size.
	MaxBytes int64
	// MaxDepth bounds JSON nesting.
	MaxDepth int
	// Source names where the config came from, for messages, e.g.
	// "model_config attribute".
	Source string
}

// Nested is content embedded in a config that another analyzer should
// scan (the torch.save pickle of a TorchModuleWrapper).
type Nested struct {
	Name string
	Data []byte
}

// Emit receives findings, and nested content to hand back to the scan.
type Emit func(f finding.Finding, nested *Nested)

// Defaults for Options fields left zero.
const (
	DefaultMaxBytes = 512 << 20
	DefaultMaxDepth = 512
)

// Check parses a config and reports what it would make Keras run. A
// config that is not valid JSON is returned as a *format.Error.
func Check(ctx context.Context, data []byte, opt Options, emit Emit) error {
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	if opt.MaxDepth <= 0 {
		opt.MaxDepth = DefaultMaxDepth
	}
	if opt.Rules == nil {
		opt.Rules = finding.Default()
	}
	if opt.Policy == nil {
		opt.Policy = policy.Default()
	}
	if int64(len(data)) > opt.MaxBytes {
		return limits.Exceeded("KerasConfigBytes", int64(len(data)), opt.MaxBytes, -1)
	}
	clean, err := pythonJSON(data, opt.MaxDepth)
	if err != nil {
		return err
	}
	var v any
	if err := json.Unmarshal(clean, &v); err != nil {
		return &format.Error{Off: jsonOffset(err), Msg: "Keras config is not valid JSON: " + err.Error()}
	}
	c := &checker{ctx: ctx, opt: opt, emit: emit}
	c.walk(v, "$", 0)
	return ctx.Err()
}

type checker struct {
	ctx   context.Context
	opt   Options
	emit  Emit
	nodes int
}

func (c *checker) report(rule string, sev *finding.Severity, path, msg, evidence string, nested *Nested) {
	f := c.opt.Rules.New(rule, msg+" (at "+path+c.source()+")", evidence, finding.NoOffset)
	if sev != nil {
		f.Severity = *sev
	}
	f.Analyzer = "keras"
	c.emit(f, nested)
}

func (c *checker) source() string {
	if c.opt.Source == "" {
		return ""
	}
	return " in " + c.opt.Source
}

func (c *checker) walk(v any, path string, depth int) {
	if c.nodes++; c.nodes%4096 == 0 && c.ctx.Err() != nil {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		if b, ok := x["safe_mode"].(bool); ok && !b {
			c.report(finding.RuleKerasUnsafeDeser, nil, path, "config sets safe_mode to false", "safe_mode: false", nil)
		}
		if _, ok := x["class_name"]; ok {
			c.object(x, path)
		}
		for _, k := range sortedKeys(x) {
			c.walk(x[k], path+"."+k, depth+1)
		}
	case []any:
		for i, e := range x {
			c.walk(e, path+"["+strconv.Itoa(i)+"]", depth+1)
		}
	case string:
		if strings.Contains(x, "enable_unsafe_deserialization") {
			c.report(finding.RuleKerasUnsafeDeser, nil, path, "config references enable_unsafe_deserialization", clip(x), nil)
		}
	}
}

// object checks one serialized Keras object: {"class_name": …, "config":
// …, and in Keras 3 "module" and "registered_name"}.
func (c *checker) object(m map[string]any, path string) {
	cls, _ := m["class_name"].(string)
	cfg, _ := m["config"].(map[string]any)
	reg, _ := m["registered_name"].(string)
	mod, _ := m["module"].(string)
	_, keras3 := m["module"]
	label := cls
	if n, ok := cfg["name"].(string); ok && n != "" {
		label = fmt.Sprintf("%s '%s'", cls, n)
	}
	switch cls {
	case "__lambda__":
		// The Lambda layer writes {"code", "defaults", "closure"}; the
		// generic serializer writes {"value": [code, defaults, closure]}.
		code, _ := cfg["code"].(string)
		switch v := cfg["value"].(type) {
		case []any:
			if len(v) > 0 {
				code, _ = v[0].(string)
			}
		case string:
			code = v
		}
		c.lambdaCode(path, "serialized lambda function", code)
		return
	case "Lambda":
		c.lambdaLayer(cfg, path, label)
	case "TorchModuleWrapper":
		c.torchWrapper(cfg, path, label)
	case "TFSMLayer":
		fp, _ := cfg["filepath"].(string)
		c.report(finding.RuleKerasExternalFile, nil, path, label+" loads a SavedModel from a path", "filepath: "+fp, nil)
	case "StringLookup", "IntegerLookup", "TextVectorization":
		if vocab, ok := cfg["vocabulary"].(string); ok && vocab != "" {
			sev := finding.Medium
			msg := label + " reads its vocabulary from a file"
			if why := safepath.Check(vocab); why != "" {
				sev = finding.High
				msg += "; the path " + why
			}
			c.report(finding.RuleKerasExternalFile, &sev, path, msg, "vocabulary: "+clip(vocab), nil)
		}
	case "TFOpLambda", "SlicingOpLambda":
		c.tfOpLambda(cfg, path, label)
	}
	if strings.HasPrefix(cls, "__") && strings.HasSuffix(cls, "__") {
		return // Keras 3 internal values: __tensor__, __numpy__, __bytes__, __typespec__, …
	}
	if keras3 && mod != "" {
		name := cls
		if cls == "function" {
			// A function is saved as its name in config.
			fn, _ := m["config"].(string)
			name = fn
		}
		c.target(mod, name, reg, path, label)
		return
	}
	if cls == "" || builtinClasses[cls] || cls == "function" {
		return
	}
	info := finding.Info
	ev := cls
	if reg != "" && reg != cls {
		ev = reg
	}
	c.report(finding.RuleKerasCustomObject, &info, path, "config uses "+label+", which is not a Keras class: the loader must supply it (custom_objects)", ev, nil)
}

// target judges module.name, what Keras 3 imports for an object.
func (c *checker) target(mod, name, reg, path, label string) {
	full := mod + "." + name
	switch {
	case strings.Contains(full, "enable_unsafe_deserialization"):
		c.report(finding.RuleKerasUnsafeDeser, nil, path, "config calls enable_unsafe_deserialization", full, nil)
		return
	case isGadget(full):
		c.report(finding.RuleKerasUnsafeObject, nil, path, label+" resolves to a Keras internal that touches files, downloads or loads code", full, nil)
		return
	case mod == "keras":
		if kerasTopLevel[name] {
			return
		}
	case inNamespace(mod, kerasNamespaces):
		return
	}
	v := c.opt.Policy.Classify(mod, name)
	if v.Safety == finding.Dangerous && !strings.HasPrefix(mod, "keras") {
		c.report(finding.RuleKerasUnsafeObject, nil, path, label+" resolves to "+full+", which "+v.Reason, full, nil)
		return
	}
	switch {
	case mod == "builtins" && (kerasFunctions[name] || v.Safety == finding.Innocuous):
		return
	case mod == "builtins", mod == "__main__":
		// Defined by the loading program, or a custom function saved by
		// name: the file only names it.
		c.report(finding.RuleKerasCustomObject, nil, path, label+" is a custom object defined outside Keras", customEvidence(full, reg), nil)
		return
	}
	c.report(finding.RuleKerasForeignModule, nil, path, label+" makes Keras import "+mod+", outside Keras' own namespaces", customEvidence(full, reg), nil)
}

func customEvidence(full, reg string) string {
	if reg != "" && !strings.HasSuffix(full, "."+reg) {
		return full + " (registered as " + reg + ")"
	}
	return full
}

// tfOpLambda checks tf.keras op layers, which call the TensorFlow API
// symbol named in config.function.
func (c *checker) tfOpLambda(cfg map[string]any, path, label string) {
	fn, _ := cfg["function"].(string)
	lower := strings.ToLower(fn)
	for _, p := range []string{"io.write_file", "io.read_file", "io.gfile", "io.matching_files", "keras.utils",
		"saved_model", "py_function", "numpy_function", "py_func", "compat.v1.py_func", "load_op_library",
		"load_library", "data.experimental.save", "summary.create_file_writer", "debugging.experimental"} {
		if strings.Contains(lower, p) {
			c.report(finding.RuleKerasUnsafeObject, nil, path, label+" calls the TensorFlow function "+fn+", which touches files or runs Python", "tf."+fn, nil)
			return
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return keys
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
