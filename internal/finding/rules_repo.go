package finding

// Repository rules: what a repository's code, configs, build recipes and
// text files make a loader, a builder or a reader do. Reported by the
// repository checks (internal/repocheck), for hub repositories and local
// folders alike.
const (
	RuleAutoMap           = "CODE-AUTOMAP"
	RuleAutoMapCrossRepo  = "CODE-AUTOMAP-CROSS-REPO"
	RuleAutoMapMissing    = "CODE-AUTOMAP-MISSING"
	RulePythonFile        = "CODE-PYTHON-FILE"
	RulePythonExec        = "CODE-PYTHON-EXEC"
	RulePythonNetwork     = "CODE-PYTHON-NETWORK"
	RulePythonDeserialize = "CODE-PYTHON-DESERIALIZE"
	RulePythonRemoteCode  = "CODE-PYTHON-REMOTE-CODE"
	RulePythonUnreadable  = "CODE-PYTHON-UNREADABLE"
	RuleHydraDangerous    = "HYDRA-TARGET-DANGEROUS"
	RuleHydraUnlisted     = "HYDRA-TARGET-UNLISTED"
	RuleHydraUnreadable   = "HYDRA-CONFIG-UNREADABLE"
	RuleSecretSkipped     = "SECRET-SCAN-SKIPPED"
)

var repoRules = []Rule{
	{
		ID: RuleAutoMap, Title: "Model needs trust_remote_code: its config names Python code to run", Severity: Medium,
		Why: "An auto_map entry in config.json, tokenizer_config.json or another processor config tells transformers which class to load from a .py file of the repository. Loading the model with trust_remote_code=True imports that file (and the files it imports) with the loader's privileges. The code is listed under CODE-PYTHON-* findings for those files.",
		Fix: "Read the listed Python files before loading with trust_remote_code=True, and pin the revision (a later commit can change the code). Prefer models that need no custom code.",
		CWE: "CWE-94",
	},
	{
		ID: RuleAutoMapCrossRepo, Title: "auto_map loads code from another repository", Severity: High,
		Why: "An auto_map value of the form other-org/other-repo--module.Class makes transformers fetch module.py from a different repository. Unless code_revision is set, it fetches that repository's default branch, so its owner can change the code any time after this repository was reviewed, and no scan of this repository shows it.",
		Fix: "Do not load the model with trust_remote_code=True unless you have reviewed and pinned the other repository's code; copy the code into the repository instead.",
		CWE: "CWE-829",
	},
	{
		ID: RuleAutoMapMissing, Title: "auto_map names a code file that is not in the repository", Severity: Medium,
		Why: "The config points at a module the repository does not contain. Loading fails, or, if a file of that name appears later or elsewhere on the import path, runs code that was never reviewed.",
		Fix: "Check where the code is meant to come from.",
		CWE: "CWE-829",
	},
	{
		ID: RulePythonFile, Title: "Python code in the repository", Severity: Info,
		Why: "Every Python file is listed with what it imports and the code-running, network, deserialising and remote-code calls it makes, so that a reviewer sees what custom code can do. Files an auto_map loads run when the model is loaded with trust_remote_code=True.",
		Fix: "None needed; review custom code before trusting it.",
	},
	{
		ID: RulePythonExec, Title: "Python code runs commands or evaluates code", Severity: High,
		Why: "The file calls exec, eval, compile, __import__, os.system, subprocess, ctypes, importlib or similar, or reaches them by a computed name. In code that runs when the model loads (auto_map), this is the payload of a malicious repository; elsewhere it is still code worth reading before running. High when the file is loaded with the model, medium otherwise.",
		Fix: "Read the call and where its argument comes from; do not load the model with trust_remote_code=True until you have.",
		CWE: "CWE-94",
	},
	{
		ID: RulePythonNetwork, Title: "Python code opens network connections", Severity: Medium,
		Why: "The file uses sockets, urllib, requests, httpx or similar. Model code has no reason to reach the network when it loads; exfiltration and second-stage downloads do. High when a file loaded with the model does it at import time (it phones home as soon as the model loads), medium when such a file does it in a function, low in other files.",
		Fix: "Check what is sent or fetched, and from where.",
		CWE: "CWE-200",
	},
	{
		ID: RulePythonDeserialize, Title: "Python code deserialises data that can carry code", Severity: Medium,
		Why: "The file calls pickle.load(s), torch.load without weights_only=True, joblib.load, numpy.load with allow_pickle=True, yaml.load without a safe loader, marshal or similar: loading a file this way runs the code inside it, so custom code can turn a harmless-looking data file into a payload. Medium when the file is loaded with the model, low otherwise.",
		Fix: "Use safe loaders (torch.load(..., weights_only=True), yaml.safe_load, safetensors).",
		CWE: "CWE-502",
	},
	{
		ID: RulePythonRemoteCode, Title: "Python code loads remote code", Severity: Medium,
		Why: "The file calls from_pretrained(..., trust_remote_code=True) or torch.hub.load, which download and run code from another repository: a chain of trust that ends wherever that repository's default branch points today. Medium when the file is loaded with the model, low otherwise.",
		Fix: "Pin the repository and revision, and review its code.",
		CWE: "CWE-829",
	},
	{
		ID: RulePythonUnreadable, Title: "Python file could not be read to the end", Severity: Low,
		Why: "The file has an unterminated string, is over the size limit, or a limit stopped the analysis, so calls after that point were not listed. Python refuses files with such syntax errors, so this is usually a broken file, but the part that was not read was not checked.",
		Fix: "Read the file by hand.",
	},
	{
		ID: RuleHydraDangerous, Title: "Config instantiates a code-running callable", Severity: Critical,
		Why: "A Hydra/OmegaConf config names, in _target_, a callable that runs commands or code (os.system, builtins.exec, subprocess, …). NeMo and other Hydra users call hydra.utils.instantiate on configs when they restore a model, which imports and calls that target with the config's arguments (CVE-2025-23304). _partial_: true binds it for a later call.",
		Fix: "Do not restore this model.",
		CWE: "CWE-94",
	},
	{
		ID: RuleHydraUnlisted, Title: "Config instantiates a callable outside the framework allowlist", Severity: High,
		Why: "A _target_ (or NeMo's top-level target) names a callable outside the modules NeMo and Lightning configs instantiate from (nemo, torch.nn, torch.optim, lightning, megatron.core, …). Instantiation imports its module and calls it: any importable function is reachable this way (CVE-2025-23304).",
		Fix: "Check what the target is; if it is a legitimate class of your own, suppress the finding for it in your policy.",
		CWE: "CWE-94",
	},
	{
		ID: RuleHydraUnreadable, Title: "Config could not be read", Severity: Medium,
		Why: "A file that names _target_ entries, or a .nemo archive, could not be parsed or was over a limit, so the callables it instantiates were not checked.",
		Fix: "Inspect the config by hand.",
		CWE: "CWE-20",
	},
	{
		ID: RuleSecretSkipped, Title: "Text file too large to check for secrets", Severity: Low,
		Why: "A file that looks like text is larger than the secrets check reads, so tokens in it would go unnoticed.",
		Fix: "Check large text files with a dedicated secrets scanner.",
	},
}

// Dockerfile rules.
const (
	RuleDockerMetadata    = "DOCKER-METADATA-ACCESS"
	RuleDockerPipeShell   = "DOCKER-PIPE-TO-SHELL"
	RuleDockerSocket      = "DOCKER-SOCKET"
	RuleDockerCredentials = "DOCKER-CREDENTIALS"
	RuleDockerReverse     = "DOCKER-REVERSE-SHELL"
	RuleDockerAddRemote   = "DOCKER-ADD-REMOTE"
	RuleDockerSecret      = "DOCKER-SECRET-BAKED"
	RuleDockerRoot        = "DOCKER-ROOT-USER"
	RuleDockerParse       = "DOCKER-PARSE-ERROR"
)

var dockerRules = []Rule{
	{
		ID: RuleDockerMetadata, Title: "Build step reaches a cloud metadata service", Severity: Critical,
		Why: "The Dockerfile contacts an instance metadata address (169.254.169.254 in any spelling, fd00:ec2::254, metadata.google.internal, 100.100.100.200, 168.63.129.16, …) or reads the Kubernetes service-account token. A Space or demo app is built on shared infrastructure: a RUN step executes with the builder's network position, and the metadata service hands out that builder's cloud credentials. This is how a build step in the incident behind this project obtained credentials and wrote to a shared registry.",
		Fix: "Never build this recipe. Builders should block metadata addresses (IMDSv2 with hop limit 1, egress rules) whatever the recipe says.",
		CWE: "CWE-918",
	},
	{
		ID: RuleDockerPipeShell, Title: "Build step pipes a download into a shell", Severity: High,
		Why: "curl … | sh, sh -c \"$(wget …)\" and their variants run whatever the server returns at build time. Nothing in the repository shows what that is, it can differ per request (the server can tell a builder from a reviewer), and it runs with the builder's privileges.",
		Fix: "Download to a file, verify a pinned checksum, then run it; or install from a package manager with pinned versions.",
		CWE: "CWE-494",
	},
	{
		ID: RuleDockerSocket, Title: "Dockerfile uses the Docker socket", Severity: High,
		Why: "Mounting /var/run/docker.sock (or pointing DOCKER_HOST at a daemon) gives the build or the app control of the Docker daemon: it can start privileged containers, read other builds' layers and push images, which is root on the builder host.",
		Fix: "Remove the socket mount; builds must not reach the daemon that runs them.",
		CWE: "CWE-250",
	},
	{
		ID: RuleDockerCredentials, Title: "Build step touches registry or cloud credentials", Severity: High,
		Why: "The recipe reads a credential store (~/.docker/config.json, DOCKER_AUTH_CONFIG, /kaniko/.docker, ~/.aws/credentials, gcloud config, .git-credentials, .netrc), logs in to a registry, or reads the builder's process environment (/proc/1/environ). On a shared builder these are the builder's credentials, not the recipe author's: with them a build can push to registries it should never write to.",
		Fix: "Remove the step. Builds that need a credential should receive a scoped one through RUN --mount=type=secret.",
		CWE: "CWE-522",
	},
	{
		ID: RuleDockerReverse, Title: "Dockerfile opens a reverse shell", Severity: High,
		Why: "/dev/tcp redirections, nc -e, socat exec:, bash -i >& and similar give a remote host an interactive shell in the builder or the running app.",
		Fix: "Never build or run this recipe.",
		CWE: "CWE-506",
	},
	{
		ID: RuleDockerAddRemote, Title: "ADD fetches a remote URL without a checksum", Severity: Medium,
		Why: "ADD https://… downloads at build time, and what it gets can change between the review and the build. With --checksum the content is pinned.",
		Fix: "Use ADD --checksum=sha256:… or download and verify in a RUN step.",
		CWE: "CWE-494",
	},
	{
		ID: RuleDockerSecret, Title: "Secret baked into the image", Severity: High,
		Why: "ENV with a secret-named variable, ARG with a secret-named variable, or COPY of a credential file (.env, id_rsa, *.pem, .netrc, credentials.json …) stores the secret in the image's layers, history or configuration, readable by anyone who can pull it. (An ARG without a value is reported at medium: the value given at build time still lands in the history.)",
		Fix: "Pass secrets with RUN --mount=type=secret,id=NAME (the form Spaces supports) and never copy credential files into an image.",
		CWE: "CWE-798",
	},
	{
		ID: RuleDockerRoot, Title: "Container runs as root", Severity: Low,
		Why: "The final stage's USER is root (or unset, which is root for most base images). A compromised app then has root inside the container, which widens every escape. Spaces recommend running as user 1000.",
		Fix: "Add a user and switch to it at the end of the Dockerfile (USER 1000).",
		CWE: "CWE-250",
	},
	{
		ID: RuleDockerParse, Title: "Dockerfile could not be parsed", Severity: Medium,
		Why: "BuildKit's parser rejected the file or it was over the size limit, so its build steps were not checked. A builder that reads it differently may still run it.",
		Fix: "Fix the Dockerfile, or check it by hand.",
		CWE: "CWE-20",
	},
}

// Secret rules.
const (
	RuleSecretHubToken       = "SECRET-HF-TOKEN"
	RuleSecretAWS            = "SECRET-AWS-KEY"
	RuleSecretGCP            = "SECRET-GCP-KEY"
	RuleSecretAzure          = "SECRET-AZURE-KEY"
	RuleSecretGitHub         = "SECRET-GITHUB-TOKEN"
	RuleSecretGitLab         = "SECRET-GITLAB-TOKEN"
	RuleSecretAPIToken       = "SECRET-API-TOKEN"
	RuleSecretPrivateKey     = "SECRET-PRIVATE-KEY"
	RuleSecretEnvFile        = "SECRET-ENV-FILE"
	RuleSecretGitCredentials = "SECRET-GIT-CREDENTIALS"
)

const secretWhy = " A credential published in a repository is compromised: anyone who can read the repository (and every mirror and cache of it) can use it until it is revoked. Values that look like placeholders (EXAMPLE, xxxx, low entropy) are reported at low severity; the value itself is never shown in reports or logs."

const secretFix = "Revoke the credential now, then remove it from the repository's history (a new commit does not remove it from earlier ones)."

var secretRules = []Rule{
	{ID: RuleSecretHubToken, Title: "Hugging Face token", Severity: High, CWE: "CWE-798", Fix: secretFix,
		Why: "An hf_… user access token or api_org_… organisation token, which can read private and gated repositories and, with write scope, push to them." + secretWhy},
	{ID: RuleSecretAWS, Title: "AWS access key", Severity: High, CWE: "CWE-798", Fix: secretFix,
		Why: "An AWS access key ID (AKIA…, ASIA…) or secret access key." + secretWhy},
	{ID: RuleSecretGCP, Title: "Google Cloud credential", Severity: High, CWE: "CWE-798", Fix: secretFix,
		Why: "A GCP service-account key file (\"type\": \"service_account\" with a private key) or a Google API key (AIza…)." + secretWhy},
	{ID: RuleSecretAzure, Title: "Azure credential", Severity: High, CWE: "CWE-798", Fix: secretFix,
		Why: "An Azure storage account key or an Azure AD client secret." + secretWhy},
	{ID: RuleSecretGitHub, Title: "GitHub token", Severity: High, CWE: "CWE-798", Fix: secretFix,
		Why: "A GitHub personal access, OAuth, app or fine-grained token (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)." + secretWhy},
	{ID: RuleSecretGitLab, Title: "GitLab token", Severity: High, CWE: "CWE-798", Fix: secretFix,
		Why: "A GitLab personal, deploy, pipeline or runner token (glpat-, gldt-, …)." + secretWhy},
	{ID: RuleSecretAPIToken, Title: "Service API key", Severity: High, CWE: "CWE-798", Fix: secretFix,
		Why: "An OpenAI, Slack or Stripe live key." + secretWhy},
	{ID: RuleSecretPrivateKey, Title: "Private key", Severity: High, CWE: "CWE-321", Fix: secretFix,
		Why: "A PEM private key (RSA, EC, DSA, OpenSSH, PGP). A passphrase-protected (ENCRYPTED) key is reported at medium." + secretWhy},
	{ID: RuleSecretEnvFile, Title: "Secret in a .env file", Severity: High, CWE: "CWE-798", Fix: secretFix,
		Why: "A .env file assigns a value to a secret-named variable (…TOKEN, …SECRET, …PASSWORD, …API_KEY). .env files hold the real values an app runs with; templates (.env.example) are not reported." + secretWhy},
	{ID: RuleSecretGitCredentials, Title: "Git credentials", Severity: High, CWE: "CWE-798", Fix: secretFix,
		Why: "A .git-credentials file, or a git remote URL with a password or token (https://user:token@github.com/…)." + secretWhy},
}
