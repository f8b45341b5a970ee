-- Tenants, their tokens and policies; verdicts with their findings and the
-- observations that led to them. Times are Unix nanoseconds.
CREATE TABLE tenants (
	id                TEXT PRIMARY KEY,
	name              TEXT NOT NULL,
	created_at        INTEGER NOT NULL,
	policy_text       TEXT NOT NULL DEFAULT '',
	policy_format     TEXT NOT NULL DEFAULT '',
	policy_version    TEXT NOT NULL DEFAULT '',
	policy_updated_at INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE tokens (
	id         TEXT PRIMARY KEY,
	tenant_id  TEXT NOT NULL REFERENCES tenants(id),
	name       TEXT NOT NULL,
	hash       BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tokens_tenant ON tokens(tenant_id);

CREATE TABLE verdicts (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	tenant_id       TEXT NOT NULL REFERENCES tenants(id),
	sha256          TEXT NOT NULL,
	scanner_version TEXT NOT NULL,
	policy_version  TEXT NOT NULL,
	decision        TEXT NOT NULL,
	format          TEXT NOT NULL,
	status          TEXT NOT NULL,
	max_severity    INTEGER NOT NULL,
	findings        INTEGER NOT NULL,
	size            INTEGER NOT NULL,
	path            TEXT NOT NULL,
	result          TEXT NOT NULL,
	listings        TEXT NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,
	UNIQUE (tenant_id, sha256, scanner_version, policy_version)
);
CREATE INDEX verdicts_by_tenant ON verdicts(tenant_id, id);
CREATE INDEX verdicts_by_sha ON verdicts(tenant_id, sha256, id);
CREATE INDEX verdicts_worst ON verdicts(tenant_id, max_severity, id);

CREATE TABLE findings (
	verdict_id  INTEGER NOT NULL REFERENCES verdicts(id),
	ord         INTEGER NOT NULL,
	tenant_id   TEXT NOT NULL,
	sha256      TEXT NOT NULL,
	path        TEXT NOT NULL,
	rule        TEXT NOT NULL,
	severity    INTEGER NOT NULL,
	member      TEXT NOT NULL,
	byte_offset INTEGER NOT NULL,
	message     TEXT NOT NULL,
	evidence    TEXT NOT NULL,
	analyzer    TEXT NOT NULL,
	count       INTEGER NOT NULL,
	PRIMARY KEY (verdict_id, ord)
);
CREATE INDEX findings_by_tenant ON findings(tenant_id, verdict_id, ord);

CREATE TABLE observations (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	tenant_id  TEXT NOT NULL REFERENCES tenants(id),
	sha256     TEXT NOT NULL,
	source     TEXT NOT NULL,
	hub        TEXT NOT NULL,
	repo       TEXT NOT NULL,
	revision   TEXT NOT NULL,
	path       TEXT NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	seen_count INTEGER NOT NULL,
	UNIQUE (tenant_id, sha256, source, hub, repo, revision, path)
);
CREATE INDEX observations_by_sha ON observations(tenant_id, sha256);
CREATE INDEX observations_by_repo ON observations(tenant_id, repo);
