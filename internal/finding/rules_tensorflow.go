package finding

// TensorFlow rules: SavedModel and GraphDef protobufs.
const (
	RuleTFRiskyOp   = "TF-RISKY-OP"
	RuleTFCustomOp  = "TF-CUSTOM-OP"
	RuleTFAssetPath = "TF-ASSET-PATH"
)

var tensorflowRules = []Rule{
	{
		ID: RuleTFRiskyOp, Title: "TensorFlow graph uses an op that touches files, runs Python or reaches the network", Severity: High,
		Why: "Graph ops run when the model is served or called: ReadFile/WriteFile/MatchingFiles read and write files, PyFunc and EagerPyFunc call Python functions registered in the loading process, RPC and debug ops reach the network, ImmutableConst maps a file into memory. Save and Restore ops are in every SavedModel and are reported only when their path is a constant that is absolute, climbs with '..' or is a URL. Each op's severity is set in the policy's [tensorflow.ops] table.",
		Fix: "Check what the op does with the path or function it names; set the op to \"ignore\" in your policy if your models use it legitimately.",
		CWE: "CWE-73",
	},
	{
		ID: RuleTFCustomOp, Title: "TensorFlow graph uses a custom op", Severity: Info,
		Why: "Ops registered by a library outside TensorFlow (such as Addons>…) need that library's kernels, loaded by the serving process. The model only names them.",
		Fix: "Make sure the op library comes from a trusted source.",
	},
	{
		ID: RuleTFAssetPath, Title: "SavedModel asset path leaves the model's folder", Severity: High,
		Why: "An asset_file_def names a file that is absolute or climbs with '..'; TensorFlow joins it to the assets folder and reads it when the model is loaded.",
		Fix: "Do not load this model.",
		CWE: "CWE-22",
	},
}
