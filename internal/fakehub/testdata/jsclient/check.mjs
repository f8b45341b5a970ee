// Drives the official JS client (@huggingface/hub) against a hub at
// HUB_URL and prints what it saw as JSON. Run by fakehub's
// TestOfficialJSClient; never contacts anything but HUB_URL.
import { listModels, listFiles, downloadFile, modelInfo } from "@huggingface/hub";

const hubUrl = process.env.HUB_URL;
const accessToken = process.env.HUB_TOKEN;
const out = { models: [], files: [] };

for await (const m of listModels({ hubUrl, search: { owner: "acme" }, additionalFields: ["sha"], limit: 10 })) {
	out.models.push({ name: m.name, sha: m.sha, updatedAt: m.updatedAt.toISOString() });
}
const info = await modelInfo({ name: "acme/tiny", hubUrl, additionalFields: ["sha"] });
out.info = { name: info.name, sha: info.sha, gated: info.gated };
for await (const f of listFiles({ repo: "acme/tiny", hubUrl, recursive: true })) {
	out.files.push({ path: f.path, type: f.type, size: f.size, lfs: f.lfs ? f.lfs.oid : null });
}
out.config = await (await downloadFile({ repo: "acme/tiny", path: "config.json", hubUrl })).text();
const weights = await downloadFile({ repo: "acme/tiny", path: "weights.safetensors", hubUrl });
out.weightsSize = weights.size;
out.weightsSlice = await weights.slice(2, 6).text();
try {
	await downloadFile({ repo: "acme/gated", path: "a.txt", hubUrl });
	out.gatedAnonymous = "downloaded";
} catch (e) {
	out.gatedAnonymous = e.statusCode ?? String(e);
}
out.gatedWithToken = await (await downloadFile({ repo: "acme/gated", path: "a.txt", hubUrl, accessToken })).text();
console.log(JSON.stringify(out));
