-- The watcher's durable progress through a hub's listing, and the alerts
-- raised for verdicts at or above a severity. Times are Unix nanoseconds.
CREATE TABLE watches (
	id             TEXT PRIMARY KEY,
	tenant_id      TEXT NOT NULL REFERENCES tenants(id),
	hub            TEXT NOT NULL,
	mark           INTEGER NOT NULL DEFAULT 0,
	alerts_checked INTEGER NOT NULL DEFAULT 0,
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL
);

CREATE TABLE alerts (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	tenant_id    TEXT NOT NULL REFERENCES tenants(id),
	watch_id     TEXT NOT NULL REFERENCES watches(id),
	verdict_id   INTEGER NOT NULL REFERENCES verdicts(id),
	sha256       TEXT NOT NULL,
	hub          TEXT NOT NULL,
	repo         TEXT NOT NULL,
	revision     TEXT NOT NULL,
	path         TEXT NOT NULL,
	severity     INTEGER NOT NULL,
	status       TEXT NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	delivered_at INTEGER NOT NULL DEFAULT 0,
	UNIQUE (watch_id, verdict_id, hub, repo, path)
);
CREATE INDEX alerts_by_tenant ON alerts(tenant_id, id);
CREATE INDEX alerts_by_status ON alerts(watch_id, status, id);
CREATE INDEX verdicts_by_created ON verdicts(tenant_id, created_at);
CREATE INDEX observations_by_first_seen ON observations(tenant_id, first_seen);
