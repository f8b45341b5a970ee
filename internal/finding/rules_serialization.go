package finding

// Rules of the pickle-carrying formats: PyTorch (zip, legacy, TorchScript),
// NumPy and joblib.
const (
	RuleTorchPersistentID   = "TORCH-PERSISTENT-ID"
	RuleTorchMissingStorage = "TORCH-MISSING-STORAGE"
	RuleTorchStorageSize    = "TORCH-STORAGE-SIZE"
	RuleTorchMagicCall      = "TORCH-LEGACY-MAGIC-CALL"
	RuleTorchLegacyFormat   = "TORCH-LEGACY-STRUCTURE"
	RuleTorchTrailing       = "TORCH-TRAILING-DATA"
	RuleTorchRecord         = "TORCH-RECORD"
	RuleTorchScriptCall     = "TORCHSCRIPT-CODE-CALL"
	RuleTorchScriptOp       = "TORCHSCRIPT-CUSTOM-OP"
	RuleNumpyObject         = "NUMPY-OBJECT-ARRAY"
	RuleNumpySize           = "NUMPY-DATA-SIZE"
	RuleJoblibArray         = "JOBLIB-ARRAY"
)

var serializationRules = []Rule{
	{
		ID: RuleTorchPersistentID, Title: "PyTorch persistent ID is not a storage reference", Severity: Medium,
		Why: "torch.load hands every persistent ID in data.pkl to its persistent_load, which accepts only ('storage', storage type, key, location, size) tuples (and, in legacy files, module records). Anything else makes the load fail at that point, after whatever ran before it; framework-written checkpoints never contain one.",
		Fix: "Treat the checkpoint as crafted.",
		CWE: "CWE-502",
	},
	{
		ID: RuleTorchMissingStorage, Title: "PyTorch checkpoint references a storage it does not hold", Severity: Medium,
		Why: "The data pickle names a storage record that is not in the archive (or a legacy file's storage keys disagree with its data pickle), so torch.load fails there, after the pickle's earlier calls ran. Framework-written checkpoints are always complete.",
		Fix: "Treat the checkpoint as damaged or crafted.",
		CWE: "CWE-20",
	},
	{
		ID: RuleTorchStorageSize, Title: "PyTorch storage size disagrees with its record", Severity: Low,
		Why: "A storage's byte size does not match the element count the data pickle gives it. torch.load reads the bytes anyway or fails; either way the file was not written this way by torch.save.",
		Fix: "Re-create the checkpoint.",
	},
	{
		ID: RuleTorchMagicCall, Title: "Legacy PyTorch magic number is computed by a call", Severity: High,
		Why: "The first pickle of a legacy checkpoint must be the literal magic number 0x1950a86a20f9469cfc6c. Here it is built by a call (eval, int, …), the construction of a known scanner bypass: the loader accepts the file, and the call runs before any check.",
		Fix: "Do not load this file.",
		CWE: "CWE-502",
	},
	{
		ID: RuleTorchLegacyFormat, Title: "Legacy PyTorch file structure is wrong", Severity: Medium,
		Why: "The stacked pickles of a legacy checkpoint (magic number, protocol version, system info, data, storage keys, then raw storages) are not as torch.save writes them. torch.load fails partway, after the pickles before the fault ran.",
		Fix: "Treat the file as damaged or crafted.",
		CWE: "CWE-20",
	},
	{
		ID: RuleTorchTrailing, Title: "Data after the last storage of a legacy PyTorch file", Severity: Low,
		Why: "Bytes follow the raw storages, where torch.load stops reading. They were searched for pickles.",
		Fix: "Check where the extra bytes come from.",
	},
	{
		ID: RuleTorchRecord, Title: "Unexpected PyTorch archive record", Severity: Low,
		Why: "A bookkeeping record (byteorder, version) holds a value torch.save does not write.",
		Fix: "Re-create the checkpoint.",
	},
	{
		ID: RuleTorchScriptCall, Title: "TorchScript code calls something outside TorchScript", Severity: High,
		Why: "The code/ sources of a TorchScript archive are compiled by torch.jit.load. Serialized TorchScript only calls torch operators, TorchScript builtins and its own __torch__ classes; a call of anything else (os, subprocess, eval, open, an unknown module) was not written by torch.jit.save and marks a crafted archive.",
		Fix: "Do not load this archive.",
		CWE: "CWE-94",
	},
	{
		ID: RuleTorchScriptOp, Title: "TorchScript code calls a custom operator", Severity: Medium,
		Why: "The code calls an operator outside PyTorch's own namespaces (aten, prim, quantized, …). It runs native code from a library that must be loaded before the model; check where that library comes from.",
		Fix: "Load the model only with operator libraries you trust.",
	},
	{
		ID: RuleNumpyObject, Title: "NumPy array holds pickled objects", Severity: Low,
		Why: "The array's dtype holds Python objects, so the data is a pickle that numpy.load runs when allow_pickle=True. The pickle was scanned; its findings are listed separately.",
		Fix: "Prefer plain dtypes; load with allow_pickle=False where possible.",
		CWE: "CWE-502",
	},
	{
		ID: RuleNumpySize, Title: "NumPy data size disagrees with its header", Severity: Low,
		Why: "The bytes after the header are fewer or more than the shape and dtype need. numpy.load fails on missing bytes and ignores extra ones, which can carry a payload for another reader.",
		Fix: "Re-create the file with numpy.save.",
	},
	{
		ID: RuleJoblibArray, Title: "joblib array record cannot be read", Severity: Medium,
		Why: "A NumpyArrayWrapper's shape, dtype or order is not one joblib can read, or its inline data runs past the end of the file, so where the pickle continues cannot be known. What follows was searched for further pickles.",
		Fix: "Treat the file as damaged or crafted.",
		CWE: "CWE-20",
	},
}
