// Drives the official JS client (@huggingface/hub) against modelgate's
// hub-compatible proxy at GATE_URL, with a tenant token, and prints what
// it saw as JSON. Run by internal/proxy's TestOfficialJSClientThroughGate;
// never contacts anything but GATE_URL.
import { listModels, listFiles, downloadFile, modelInfo } from "@huggingface/hub";

const hubUrl = process.env.GATE_URL;
// The client insists on tokens starting with hf_; the gate accepts its
// tenant token written as hf_mgt_….
const accessToken = process.env.GATE_TOKEN;
const out = { models: [], files: [] };
const b64 = async (blob) => Buffer.from(await blob.arrayBuffer()).toString("base64");

for await (const m of listModels({ hubUrl, accessToken, search: { owner: "org" }, additionalFields: ["sha"], limit: 10 })) {
	out.models.push({ name: m.name, sha: m.sha });
}
out.infoSha = (await modelInfo({ name: "org/clean", hubUrl, accessToken, additionalFields: ["sha"] })).sha;
for await (const f of listFiles({ repo: "org/clean", hubUrl, accessToken, recursive: true })) {
	out.files.push(f.path);
}
const benign = await downloadFile({ repo: "org/clean", path: "model.pkl", hubUrl, accessToken });
out.benign = await b64(benign);
out.benignSlice = await b64(benign.slice(2, 6));
out.config = await (await downloadFile({ repo: "org/clean", path: "config.json", hubUrl, accessToken })).text();
try {
	const blob = await downloadFile({ repo: "org/evil", path: "pytorch_model.bin", hubUrl, accessToken });
	out.malicious = { downloaded: (await blob.arrayBuffer()).byteLength };
} catch (e) {
	out.malicious = { status: e.statusCode, message: e.message, code: e.data?.code, rule: e.data?.reasons?.[0]?.rule };
}
try {
	await downloadFile({ repo: "org/clean", path: "model.pkl", hubUrl, accessToken: "hf_notAGateToken" });
	out.badToken = "downloaded";
} catch (e) {
	out.badToken = e.statusCode ?? String(e);
}
console.log(JSON.stringify(out));
