package finding

// NoOffset marks a finding that is about a whole file or member rather than a
// byte position in it.
const NoOffset int64 = -1

// Finding is one thing a scan found. What the rule means (title, why it
// matters, what to do) lives once in the rule catalogue; a finding carries
// the rule ID and what is particular to this occurrence.
type Finding struct {
	// Rule is a stable ID from the catalogue, such as PICKLE-DANGEROUS-GLOBAL.
	Rule string `json:"rule"`
	// Severity is the rule's default severity unless an analyzer raised or
	// lowered it for this occurrence, or the policy overrides it.
	Severity Severity `json:"severity"`
	// Path is the scanned file as the user named it (or a hf:// address).
	Path string `json:"path"`
	// Member locates the finding inside the file: an archive member, a
	// nested pickle, or a stream, joined with "!" from the outside in.
	// Empty when the finding is about the file itself.
	Member string `json:"member,omitempty"`
	// Offset is the byte offset in the innermost member, or NoOffset.
	Offset int64 `json:"offset"`
	// Message says what was found, in a sentence.
	Message string `json:"message"`
	// Evidence is the thing itself, e.g. "os.system('echo pwned')".
	// Attacker-controlled; renderers sanitise it for terminals.
	Evidence string `json:"evidence,omitempty"`
	// Analyzer names the analyzer that reported it.
	Analyzer string `json:"analyzer,omitempty"`
	// Count is how many identical occurrences this finding stands for
	// (same rule, member and evidence); the offset is the first one's.
	Count int `json:"count,omitempty"`
}

// Import is a global a pickle would import on load, with its safety level.
// The shape matches the model hub's pickle import scan (module, name, safety).
type Import struct {
	Module string `json:"module"`
	Name   string `json:"name"`
	Safety Safety `json:"safety"`
	// Member is where the import was seen (see Finding.Member).
	Member string `json:"member,omitempty"`
	// Offset of the first GLOBAL, STACK_GLOBAL or INST that imported it.
	Offset int64 `json:"offset"`
	// Count of times it was imported in that member.
	Count int `json:"count"`
}
