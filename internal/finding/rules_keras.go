package finding

// Keras rules: configs in .h5 attributes, .keras config.json and
// SavedModel keras_metadata.pb.
const (
	RuleKerasLambda          = "KERAS-LAMBDA"
	RuleKerasUnsafeObject    = "KERAS-UNSAFE-OBJECT"
	RuleKerasForeignModule   = "KERAS-FOREIGN-MODULE"
	RuleKerasUnsafeDeser     = "KERAS-UNSAFE-DESERIALIZATION"
	RuleKerasTorchModule     = "KERAS-TORCH-MODULE"
	RuleKerasExternalFile    = "KERAS-EXTERNAL-FILE"
	RuleKerasCustomObject    = "KERAS-CUSTOM-OBJECT"
	RuleKerasNoConfig        = "KERAS-NO-CONFIG"
	RuleHDF5ExternalRef      = "HDF5-EXTERNAL-REFERENCE"
	RuleHDF5StructureUnknown = "HDF5-UNPARSED-STRUCTURE"
)

var kerasRules = []Rule{
	{
		ID: RuleKerasLambda, Title: "Keras Lambda layer holds Python code", Severity: Critical,
		Why: "A Lambda layer stores a Python function as marshalled bytecode (base64 in config.function or a __lambda__ object) or names a function to call. Keras rebuilds and runs it when the model is loaded or called; Keras ≤2.12 ran it even with safe_mode (CVE-2024-3660), and .h5 loading ignores safe_mode (CVE-2025-9905). The decoded names and constants are shown without running anything.",
		Fix: "Do not load this model unless you wrote the Lambda. Replace Lambda layers with built-in or registered custom layers.",
		CWE: "CWE-94",
	},
	{
		ID: RuleKerasUnsafeObject, Title: "Keras config reaches a code-running or file-touching callable", Severity: Critical,
		Why: "A module/class_name (or a function config) resolves to a callable that runs commands, evaluates code, imports modules, downloads or writes files, or loads further models: os.system, builtins.exec, keras.utils.get_file (the CVE-2025-8747 bypass of the CVE-2025-1550 fix), keras.models.load_model. Keras imports and calls it while deserializing.",
		Fix: "Do not load this model.",
		CWE: "CWE-502",
	},
	{
		ID: RuleKerasForeignModule, Title: "Keras config imports a module outside Keras", Severity: High,
		Why: "Keras 3 imports the module named in a config's module field to find class_name (before 3.9, any module: CVE-2025-1550). Only Keras' own layer, model, initializer, regularizer, constraint, activation, optimizer, loss and metric namespaces are expected; anything else runs that module's import-time code and hands it attacker-chosen arguments.",
		Fix: "Check the module. If it is your own package of custom layers, suppress this finding for its evidence in your policy.",
		CWE: "CWE-502",
	},
	{
		ID: RuleKerasUnsafeDeser, Title: "Keras config switches off safe deserialization", Severity: Critical,
		Why: "The config references keras.config.enable_unsafe_deserialization or sets safe_mode to false, which lets later objects in the same file (Lambda layers) run code even when the user loaded with safe_mode=True (CVE-2025-9906).",
		Fix: "Do not load this model.",
		CWE: "CWE-502",
	},
	{
		ID: RuleKerasTorchModule, Title: "Keras TorchModuleWrapper holds a pickled PyTorch module", Severity: High,
		Why: "TorchModuleWrapper stores a torch.save pickle in its config and Keras 3.11.0–3.11.2 restore it with torch.load(weights_only=False), which runs any code in the pickle (CVE-2025-49655); later versions refuse it unless safe mode is switched off. The embedded bytes are scanned as a nested member, whose findings say what the pickle would run.",
		Fix: "Load it only with safe mode on and a fixed Keras, or not at all; see the nested member's findings.",
		CWE: "CWE-502",
	},
	{
		ID: RuleKerasExternalFile, Title: "Keras layer reads a file or model from a path", Severity: High,
		Why: "A TFSMLayer loads a TensorFlow SavedModel from the filepath in its config, running whatever graph it holds; StringLookup, IntegerLookup and TextVectorization read a vocabulary file named in their config, even in safe mode (CVE-2025-12058). Either reaches files this model does not contain. A relative vocabulary path inside the model's folder is reported at medium.",
		Fix: "Check the path; scan what it names.",
		CWE: "CWE-829",
	},
	{
		ID: RuleKerasCustomObject, Title: "Keras config needs a custom object", Severity: Medium,
		Why: "The config names a class or function that is not part of Keras (a registered custom object, or one defined in the loading script). Loading needs the code that defines it; the file only references it. Information when the loader can only take it from custom_objects.",
		Fix: "Make sure the custom code the model needs comes from a trusted source.",
		CWE: "CWE-502", Strict: true,
	},
	{
		ID: RuleKerasNoConfig, Title: "Keras file without a model config", Severity: Info,
		Why: "The file holds weights only (no model_config or config.json), so there is no architecture that could carry code. Listed so that the format is accounted for.",
		Fix: "None needed.",
	},
	{
		ID: RuleHDF5ExternalRef, Title: "HDF5 file refers to other files", Severity: Medium,
		Why: "An external link, external raw-data storage or a virtual dataset makes h5py read another file when the object is accessed: data the scan cannot see, and a way to read files outside the model's folder when the path is absolute or climbs with '..'.",
		Fix: "Check the referenced paths; Keras files never need them.",
		CWE: "CWE-22",
	},
	{
		ID: RuleHDF5StructureUnknown, Title: "HDF5 structure could not be fully parsed", Severity: Medium,
		Why: "Part of the HDF5 structure could not be read (malformed, or a feature this reader does not decode). The bytes were searched for Keras configs instead, and any found were checked, but a config stored in the unread part could be missed.",
		Fix: "Treat the file as untrusted; re-save it with h5py or Keras.",
		CWE: "CWE-20",
	},
}
