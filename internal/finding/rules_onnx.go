package finding

// ONNX rules.
const (
	RuleONNXExternalTraversal = "ONNX-EXTERNAL-DATA-TRAVERSAL"
	RuleONNXExternalData      = "ONNX-EXTERNAL-DATA"
	RuleONNXCustomDomain      = "ONNX-CUSTOM-DOMAIN"
	RuleONNXFunction          = "ONNX-FUNCTION"
	RuleONNXPythonOp          = "ONNX-PYTHON-OP"
)

var onnxRules = []Rule{
	{
		ID: RuleONNXExternalTraversal, Title: "ONNX external data points outside the model's folder", Severity: Critical,
		Why: "A tensor's external_data location is absolute, contains '..', leaves the model's folder after normalization, or is a symbolic link out of it. onnx.load reads (and onnx.save writes) that path, so a model can read any file the loader can (CVE-2022-25882, CVE-2024-27318) or overwrite one (CVE-2025-51480).",
		Fix: "Do not load this model. External data must be a relative path inside the model's folder.",
		CWE: "CWE-22",
	},
	{
		ID: RuleONNXExternalData, Title: "ONNX model keeps tensors in external files", Severity: Info,
		Why: "Tensors are stored in files beside the model (models over 2 GB must). The files are listed so they can be scanned and shipped together.",
		Fix: "None needed; keep the listed files with the model.",
	},
	{
		ID: RuleONNXCustomDomain, Title: "ONNX model uses operators from a custom domain", Severity: Info,
		Why: "Operators outside the standard ai.onnx domains need kernels that the runtime must load (a custom-op library, or runtime contrib ops). The model only names them; the code comes from whatever library provides them.",
		Fix: "Make sure the libraries providing these operators come from a trusted source.",
	},
	{
		ID: RuleONNXFunction, Title: "ONNX model defines local functions", Severity: Info,
		Why: "Model-local functions are graphs of other operators, expanded by the runtime; they are walked like the main graph. Listed for review.",
		Fix: "None needed.",
	},
	{
		ID: RuleONNXPythonOp, Title: "ONNX operator runs Python", Severity: High,
		Why: "PyOp (onnxruntime language interop and onnxruntime-extensions) and PythonOp nodes call a Python function named in their attributes when the model runs.",
		Fix: "Do not run this model unless you trust the Python code it names.",
		CWE: "CWE-94",
	},
}
