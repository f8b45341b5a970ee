package kerascfg

import (
	"fmt"
	"strings"

	"modelgate/internal/finding"
	"modelgate/internal/pymarshal"
)

// lambdaLayer reports a Lambda layer. Keras 1/2 store the function as
// [base64 marshal, defaults, closure] (or a bare base64 string) with
// function_type "lambda", or as a name with function_type "function" and a
// module; Keras 3 store a {"class_name": "__lambda__"} object, which the
// generic walk decodes.
func (c *checker) lambdaLayer(cfg map[string]any, path, label string) {
	found := false
	for _, key := range []string{"function", "output_shape", "mask"} {
		v, ok := cfg[key]
		if !ok || v == nil {
			continue
		}
		typ, _ := cfg[key+"_type"].(string)
		if key == "function" && typ == "" {
			typ = "lambda"
		}
		switch x := v.(type) {
		case []any:
			if typ == "lambda" && len(x) > 0 {
				if code, ok := x[0].(string); ok {
					c.lambdaCode(path+"."+key, label+" "+key, code)
					found = true
				}
			}
		case string:
			switch typ {
			case "lambda":
				c.lambdaCode(path+"."+key, label+" "+key, x)
				found = true
			case "function":
				mod, _ := cfg["module"].(string)
				if key != "function" {
					mod, _ = cfg[key+"_module"].(string)
				}
				target := x
				if mod != "" {
					target = mod + "." + x
				}
				c.report(finding.RuleKerasLambda, nil, path+"."+key, label+" calls the Python function "+target+" by name", target, nil)
				found = true
			}
		case map[string]any:
			found = found || x["class_name"] == "__lambda__"
		}
	}
	if !found {
		c.report(finding.RuleKerasLambda, nil, path, label+" is a Lambda layer: it holds Python code", "Lambda", nil)
	}
}

// lambdaCode decodes a base64 marshal code object as far as it safely can
// and reports it. The code is never run.
func (c *checker) lambdaCode(path, what, b64 string) {
	raw, err := pymarshal.DecodeBase64(b64)
	if err != nil {
		c.report(finding.RuleKerasLambda, nil, path, what+" holds Python code that is not valid base64", clip(b64), nil)
		return
	}
	v, err := pymarshal.Decode(raw, pymarshal.DefaultOptions())
	if err != nil {
		c.report(finding.RuleKerasLambda, nil, path, fmt.Sprintf("%s holds %d bytes of marshalled Python code that could not be decoded (%v)", what, len(raw), err), clip(b64), nil)
		return
	}
	s := pymarshal.Summarize(v)
	msg := what + " holds marshalled Python bytecode that runs when the model is loaded or called"
	if len(s.Risky) > 0 {
		msg += "; it uses " + strings.Join(s.Risky, ", ")
	}
	c.report(finding.RuleKerasLambda, nil, path, msg, s.String(), nil)
}

// torchWrapper reports a TorchModuleWrapper and hands its pickled module
// to the scan.
func (c *checker) torchWrapper(cfg map[string]any, path, label string) {
	var nested *Nested
	ev := "TorchModuleWrapper"
	var raw []byte
	switch m := cfg["module"].(type) {
	case string: // Keras ≥3.11: base64
		raw, _ = pymarshal.DecodeBase64(m)
	case map[string]any: // earlier: raw bytes as a {"class_name": "__bytes__"} value
		if inner, ok := m["config"].(map[string]any); ok {
			if v, ok := inner["value"].(string); ok {
				raw = []byte(v)
			}
		}
	}
	if len(raw) > 0 {
		nested = &Nested{Name: "TorchModuleWrapper.module", Data: raw}
		ev = fmt.Sprintf("TorchModuleWrapper with a %d-byte torch.save pickle", len(raw))
	}
	c.report(finding.RuleKerasTorchModule, nil, path, label+" restores a pickled PyTorch module with torch.load(weights_only=False)", ev, nested)
}
