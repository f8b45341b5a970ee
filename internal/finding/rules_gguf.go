package finding

// GGUF rules: the header of llama.cpp's model format. Chat templates in
// its metadata are checked with the JINJA-* rules.
const (
	RuleGGUFTensorIndex = "GGUF-TENSOR-INDEX"
	RuleGGUFDuplicate   = "GGUF-DUPLICATE-NAME"
	RuleGGUFUnknownType = "GGUF-UNKNOWN-TENSOR-TYPE"
	RuleGGUFTrailing    = "GGUF-TRAILING-DATA"
)

var ggufRules = []Rule{
	{
		ID: RuleGGUFTensorIndex, Title: "GGUF tensor index is inconsistent", Severity: Medium,
		Why: "A tensor entry has more dimensions than ggml supports, a removed type, a size that overflows, an offset that is misaligned or outside the file, overlaps another tensor, or is not where llama.cpp expects it; or general.alignment is invalid. llama.cpp refuses such files, other readers may not: a crafted index is how out-of-bounds reads in GGUF loaders were triggered.",
		Fix: "Re-create the file with llama.cpp's converter, or treat it as untrusted.",
		CWE: "CWE-20",
	},
	{
		ID: RuleGGUFDuplicate, Title: "GGUF metadata key or tensor name appears twice", Severity: Medium,
		Why: "Readers disagree about duplicates: llama.cpp refuses the file, others keep the first or the last value. A second tokenizer.chat_template or tensor can show one thing to a scanner and another to a loader (every copy was checked here).",
		Fix: "Treat the file as untrusted; re-create it.",
		CWE: "CWE-436",
	},
	{
		ID: RuleGGUFUnknownType, Title: "GGUF tensor of a type this scanner does not know", Severity: Low,
		Why: "The tensor type is newer than modelgate's ggml type table, so its size could not be checked against the file. Tensor data is not code; the rest of the file was checked.",
		Fix: "Update modelgate; if the type is not a ggml type, the file is malformed.",
	},
	{
		ID: RuleGGUFTrailing, Title: "Data after the last GGUF tensor", Severity: Low,
		Why: "Bytes follow the last tensor's padded end. Loaders ignore them, but they can carry a second payload for a tool that reads on (a polyglot file).",
		Fix: "Check where the extra bytes come from.",
	},
}
