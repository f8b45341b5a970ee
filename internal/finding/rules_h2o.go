package finding

// H2O rules: POJOs (generated Java source) and MOJOs (zip archives).
const (
	RuleH2OPOJO           = "H2O-POJO"
	RuleH2OPOJODangerous  = "H2O-POJO-DANGEROUS-API"
	RuleH2OPOJOImport     = "H2O-POJO-UNKNOWN-IMPORT"
	RuleH2OMOJOCode       = "H2O-MOJO-CODE"
	RuleH2OMOJOPath       = "H2O-MOJO-UNSAFE-PATH"
	RuleH2OMOJODuplicate  = "H2O-MOJO-DUPLICATE-ENTRY"
	RuleH2OMOJOUnexpected = "H2O-MOJO-UNEXPECTED-ENTRY"
)

var h2oRules = []Rule{
	{
		ID: RuleH2OPOJO, Title: "H2O POJO model is Java source code", Severity: Medium,
		Why: "An H2O POJO is a Java class generated from a model; using it means compiling and loading it, which runs its static initializers and methods with the JVM's privileges. It was checked for APIs generated POJOs never use, but it is code, not data.",
		Fix: "Prefer the MOJO format; compile POJOs only from sources you trust.",
		CWE: "CWE-94", Strict: true,
	},
	{
		ID: RuleH2OPOJODangerous, Title: "H2O POJO uses APIs that run commands or load code", Severity: Critical,
		Why: "The POJO refers to process execution (Runtime.exec, ProcessBuilder), reflection or class loading (Class.forName, ClassLoader, MethodHandles), native code (System.loadLibrary, native methods), scripting engines, deserialization, or file and network I/O. Generated POJOs only compute predictions from arrays; these run when the class is loaded or scored.",
		Fix: "Do not compile or load this POJO.",
		CWE: "CWE-94",
	},
	{
		ID: RuleH2OPOJOImport, Title: "H2O POJO imports classes generated POJOs do not use", Severity: Medium,
		Why: "Generated POJOs import java.util and hex.genmodel classes only. Other imports are unusual and may bring in code the checks above do not name.",
		Fix: "Check what the imported classes are used for.",
		CWE: "CWE-94", Strict: true,
	},
	{
		ID: RuleH2OMOJOCode, Title: "H2O MOJO archive carries code", Severity: High,
		Why: "The MOJO zip holds Java classes, jars, native libraries or scripts. A MOJO is a model description read by h2o-genmodel; code inside it has no purpose there and runs if the archive is put on a class path or unpacked and executed.",
		Fix: "Do not put this archive on a class path; re-export the model from H2O.",
		CWE: "CWE-506",
	},
	{
		ID: RuleH2OMOJOPath, Title: "H2O MOJO entry name escapes the archive", Severity: High,
		Why: "An entry name is absolute or climbs out of the extraction folder with \"..\" (zip slip): unpacking the archive writes files elsewhere.",
		Fix: "Do not unpack this archive.",
		CWE: "CWE-22",
	},
	{
		ID: RuleH2OMOJODuplicate, Title: "H2O MOJO has an entry twice", Severity: Medium,
		Why: "Two entries share a name; zip readers disagree about which one they return, so a scanner and the model loader can read different model.ini or tree files.",
		Fix: "Re-export the model from H2O.",
		CWE: "CWE-436", Strict: true,
	},
	{
		ID: RuleH2OMOJOUnexpected, Title: "H2O MOJO has an entry outside the MOJO layout", Severity: Low,
		Why: "The archive holds a file that H2O's MOJO writers do not produce. It was scanned as a nested file; it may be harmless leftovers.",
		Fix: "Check where the extra file comes from.",
	},
}
