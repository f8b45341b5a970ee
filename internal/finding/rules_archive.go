package finding

// Archive and compression rules: zip, tar, 7z and compressed streams.
const (
	RuleArchiveTraversal       = "ARCHIVE-PATH-TRAVERSAL"
	RuleArchiveLinkEscape      = "ARCHIVE-LINK-ESCAPE"
	RuleArchiveLink            = "ARCHIVE-LINK"
	RuleArchiveDuplicate       = "ARCHIVE-DUPLICATE-MEMBER"
	RuleArchiveBomb            = "ARCHIVE-BOMB"
	RuleArchiveOverlap         = "ARCHIVE-OVERLAPPING-MEMBERS"
	RuleArchivePolyglot        = "ARCHIVE-POLYGLOT"
	RuleArchiveExtraData       = "ARCHIVE-EXTRA-DATA"
	RuleArchiveUnreadable      = "ARCHIVE-MEMBER-UNREADABLE"
	RuleArchiveSpecial         = "ARCHIVE-SPECIAL-MEMBER"
	RuleArchiveZipNames        = "ARCHIVE-ZIP-NAME-MISMATCH"
	RuleArchiveZipFlags        = "ARCHIVE-ZIP-FLAGS"
	RuleArchiveZipCRC          = "ARCHIVE-ZIP-CRC"
	RuleArchiveZipInconsistent = "ARCHIVE-ZIP-INCONSISTENT"
)

var archiveRules = []Rule{
	{
		ID: RuleArchiveTraversal, Title: "Archive member path leaves the extraction folder", Severity: High,
		Why: "A member name is absolute, has a drive letter, or climbs out with '..'. Extracting the archive (tarfile.extractall, a NeMo restore, an unzip) writes that file anywhere the user can write: a shell profile, a cron job, a Python module that is imported next (tar slip / zip slip).",
		Fix: "Do not extract this archive. Re-create it with relative member names.",
		CWE: "CWE-22",
	},
	{
		ID: RuleArchiveLinkEscape, Title: "Archive link points outside the extraction folder", Severity: High,
		Why: "A symbolic or hard link member resolves outside the folder it is extracted to, or a later member is written through such a link. Extraction then reads or overwrites files elsewhere on the system.",
		Fix: "Do not extract this archive.",
		CWE: "CWE-59",
	},
	{
		ID: RuleArchiveLink, Title: "Archive holds a link", Severity: Info,
		Why: "A symbolic or hard link member stays inside the extraction folder. Model archives rarely need links; they are listed so that a reader can check them.",
		Fix: "None needed if the link is expected.",
	},
	{
		ID: RuleArchiveDuplicate, Title: "Archive holds two members with the same name", Severity: Medium,
		Why: "Two members share a name (or differ only in letter case, which PyTorch's zip reader ignores). Readers disagree on which one wins: zipfile takes the last, a binary search in miniz may take either. A scanner that checks one while the loader reads the other is bypassed. Every copy was scanned.",
		Fix: "Re-create the archive; treat the file as untrusted.",
		CWE: "CWE-436",
	},
	{
		ID: RuleArchiveBomb, Title: "Decompression bomb", Severity: High,
		Why: "A member decompresses to more than the size limit, or its decompressed/compressed ratio passes the ratio limit. Decompression was stopped there; what came out before it was scanned, the rest was not.",
		Fix: "Do not decompress this file. Raise the limits in the policy only if the file is legitimately this large.",
		CWE: "CWE-409",
	},
	{
		ID: RuleArchiveOverlap, Title: "Zip members overlap", Severity: High,
		Why: "Two central-directory entries share file data, the construction of non-recursive zip bombs (many entries pointing at one highly compressed block) and of archives that show different content to different readers.",
		Fix: "Do not extract this archive.",
		CWE: "CWE-409",
	},
	{
		ID: RuleArchivePolyglot, Title: "File is valid as two formats at once", Severity: High,
		Why: "The content parses as more than one format (for example bytes before a zip's first member that form a pickle, a tar whose first block is a pickle, or the padding and array bytes joblib skips, which pickle.load reads as opcodes). Loaders choose the format differently (torch.load takes the pickle path unless the file starts with a zip header; zipfile finds the archive at the end), so a scanner that reads only one view misses what another loader runs. Each view was scanned.",
		Fix: "Treat the file as crafted; do not load it.",
		CWE: "CWE-436",
	},
	{
		ID: RuleArchiveExtraData, Title: "Bytes outside any archive member", Severity: Low,
		Why: "Data sits before the first member, after the end of the archive, or after the end of a compressed stream, where no member accounts for it. Loaders skip it, but it can carry a payload for another loader. It was scanned as a nested file.",
		Fix: "Check where the extra bytes come from.",
	},
	{
		ID: RuleArchiveUnreadable, Title: "Archive member could not be read", Severity: Medium,
		Why: "A member uses an unsupported compression method, is encrypted, or its data is corrupt, so it was not checked. A loader with another decoder may still read it.",
		Fix: "Extract the member by other means and scan it, or treat the archive as untrusted.",
		CWE: "CWE-20",
	},
	{
		ID: RuleArchiveSpecial, Title: "Archive holds a device, FIFO or other special member", Severity: Low,
		Why: "Extracting a device node or FIFO can hang or affect the system; model archives never need them.",
		Fix: "Re-create the archive without special members.",
	},
	{
		ID: RuleArchiveZipNames, Title: "Zip local header name differs from the central directory", Severity: Low,
		Why: "PyTorch's reader takes names from the central directory and ignores the local header's; Python's zipfile refuses the member. Scanners built on zipfile stopped there (CVE-2025-1944). The member was read as PyTorch reads it.",
		Fix: "Re-create the archive.",
		CWE: "CWE-436",
	},
	{
		ID: RuleArchiveZipFlags, Title: "Zip member has encryption or unusual flag bits", Severity: Low,
		Why: "General-purpose flag bits mark the member encrypted or patched. PyTorch's reader ignores them and reads the bytes; scanners that honoured them skipped the member (CVE-2025-1945). The member was read as PyTorch reads it.",
		Fix: "Re-create the archive.",
		CWE: "CWE-436",
	},
	{
		ID: RuleArchiveZipCRC, Title: "Zip member CRC-32 does not match", Severity: Low,
		Why: "The stored checksum disagrees with the data. PyTorch does not check CRCs, so the data is loaded anyway; scanners that stopped on the error missed it (CVE-2025-10156). The member was scanned.",
		Fix: "Re-create the archive.",
		CWE: "CWE-436",
	},
	{
		ID: RuleArchiveZipInconsistent, Title: "Zip structure is inconsistent", Severity: Low,
		Why: "The central directory disagrees with itself or with the local headers (entry count, sizes of stored members, compression method). Readers resolve it differently; every entry found was scanned.",
		Fix: "Re-create the archive.",
		CWE: "CWE-436",
	},
}
