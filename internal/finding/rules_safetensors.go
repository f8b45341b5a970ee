package finding

// Safetensors rules. The format holds no code; these are the ways a file
// can mean different things to different readers, or be two formats at
// once.
const (
	RuleSafetensorsHeader    = "SAFETENSORS-INVALID-HEADER"
	RuleSafetensorsLayout    = "SAFETENSORS-LAYOUT"
	RuleSafetensorsDuplicate = "SAFETENSORS-DUPLICATE-KEY"
	RuleSafetensorsDType     = "SAFETENSORS-UNKNOWN-DTYPE"
	RuleSafetensorsMetadata  = "SAFETENSORS-METADATA"
	RuleSafetensorsPolyglot  = "SAFETENSORS-POLYGLOT"
)

var safetensorsRules = []Rule{
	{
		ID: RuleSafetensorsHeader, Title: "Safetensors header cannot be read", Severity: Medium,
		Why: "The file starts like safetensors, but its header length is out of bounds, or the header is not UTF-8 JSON of the right shape. Loaders refuse it; a file that only looks like safetensors may be meant for a different, more lenient reader.",
		Fix: "Re-create the file with the safetensors library, or treat it as untrusted.",
		CWE: "CWE-20",
	},
	{
		ID: RuleSafetensorsLayout, Title: "Safetensors byte ranges are inconsistent", Severity: Medium,
		Why: "A tensor's byte range does not match its dtype and shape, overflows, runs past the file, overlaps another tensor, or leaves bytes no tensor owns (a gap, or data after the last tensor). The reference reader refuses such files; readers that do not check see different weights, and unowned bytes can carry a hidden payload.",
		Fix: "Re-create the file with the safetensors library.",
		CWE: "CWE-20", Strict: true,
	},
	{
		ID: RuleSafetensorsDuplicate, Title: "Safetensors header has a key twice", Severity: Medium,
		Why: "A tensor name or metadata key appears twice. JSON readers disagree about which one counts (the reference reader keeps the last, streaming readers often the first), so a scanner and a loader can see different tensors.",
		Fix: "Treat the file as untrusted; re-create it.",
		CWE: "CWE-436", Strict: true,
	},
	{
		ID: RuleSafetensorsDType, Title: "Safetensors tensor has an unknown dtype", Severity: Medium,
		Why: "The dtype is not one safetensors defines, so the tensor's size could not be checked and loaders refuse it.",
		Fix: "Check which tool wrote the file.",
		CWE: "CWE-20", Strict: true,
	},
	{
		ID: RuleSafetensorsMetadata, Title: "Safetensors __metadata__ is not string to string", Severity: Medium,
		Why: "__metadata__ must map strings to strings; anything else makes the reference reader refuse the file, and is a place to smuggle structured data past tools that only read tensors.",
		Fix: "Re-create the file with string metadata.",
		CWE: "CWE-20",
	},
	{
		ID: RuleSafetensorsPolyglot, Title: "Safetensors file is also a zip archive", Severity: High,
		Why: "The file is valid for two readers: its header length spells a zip local header, or a zip central directory hides in its last bytes. torch.load and zip tools open it as an archive (a PyTorch checkpoint, with a pickle that runs on load) while safetensors tools see harmless tensors.",
		Fix: "Do not open this file with torch.load or zip tools; load it only with the safetensors library, or re-create it.",
		CWE: "CWE-436",
	},
}
