-- The job queue: leases with expiry; key makes enqueueing idempotent.
CREATE TABLE jobs (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	kind         TEXT NOT NULL,
	key          TEXT NOT NULL UNIQUE,
	tenant_id    TEXT NOT NULL,
	payload      TEXT NOT NULL,
	state        TEXT NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	max_attempts INTEGER NOT NULL,
	run_after    INTEGER NOT NULL,
	lease_owner  TEXT NOT NULL DEFAULT '',
	lease_until  INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL
);
CREATE INDEX jobs_ready ON jobs(state, run_after, id);
CREATE INDEX jobs_leases ON jobs(state, lease_until);
