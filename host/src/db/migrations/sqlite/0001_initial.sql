-- Ledgerlink's SQLite store, version 1: the tables as the single-host store has always had them.
-- CREATE ... IF NOT EXISTS, so a store written before versioned migrations upgrades in place.
CREATE TABLE IF NOT EXISTS kv (
    tenant TEXT NOT NULL,
    bucket TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  BLOB NOT NULL,
    PRIMARY KEY (tenant, bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS schedules (
    id      TEXT PRIMARY KEY,
    tenant  TEXT NOT NULL,
    job     TEXT NOT NULL,
    args    TEXT NOT NULL,
    run_at  TEXT NOT NULL,
    state   TEXT NOT NULL DEFAULT 'pending',
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS schedules_due ON schedules (state, run_at);
CREATE TABLE IF NOT EXISTS webhook_inbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant        TEXT NOT NULL,
    source        TEXT NOT NULL,
    realm         TEXT NOT NULL,
    body          BLOB NOT NULL,
    body_hash     TEXT NOT NULL,
    received      TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'pending',
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    claimed_until TEXT,
    UNIQUE (tenant, source, body_hash)
);
CREATE INDEX IF NOT EXISTS webhook_inbox_pending ON webhook_inbox (state, id);
CREATE TABLE IF NOT EXISTS tokens (
    tenant     TEXT NOT NULL,
    connection TEXT NOT NULL,
    nonce      BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    updated    TEXT NOT NULL,
    PRIMARY KEY (tenant, connection)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS auth_connections (
    tenant     TEXT NOT NULL,
    connection TEXT NOT NULL,
    state      TEXT NOT NULL,
    reason     TEXT,
    updated    TEXT NOT NULL,
    PRIMARY KEY (tenant, connection)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS auth_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant     TEXT NOT NULL,
    connection TEXT NOT NULL,
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL,
    at         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS auth_key_check (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    nonce      BLOB NOT NULL,
    ciphertext BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS pubsub_replays (
    tenant    TEXT NOT NULL,
    topic     TEXT NOT NULL,
    replay_id BLOB NOT NULL,
    updated   TEXT NOT NULL,
    PRIMARY KEY (tenant, topic)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS errors (
    id         INTEGER PRIMARY KEY,
    tenant     TEXT NOT NULL,
    job        TEXT NOT NULL,
    entity     TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    code       TEXT,
    detail     TEXT NOT NULL,
    retryable  INTEGER NOT NULL,
    attempts   INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL,
    next_retry TEXT,
    state      TEXT NOT NULL,
    UNIQUE (tenant, job, entity, record_id)
);
CREATE INDEX IF NOT EXISTS errors_due ON errors (state, next_retry);
CREATE TABLE IF NOT EXISTS cron_slots (
    tenant    TEXT NOT NULL,
    job       TEXT NOT NULL,
    last_slot TEXT NOT NULL,
    PRIMARY KEY (tenant, job)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS error_mirror (
    error_id INTEGER PRIMARY KEY,
    mirrored TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS job_runs (
    id       INTEGER PRIMARY KEY,
    tenant   TEXT NOT NULL,
    job      TEXT NOT NULL,
    args     TEXT NOT NULL,
    trigger  TEXT NOT NULL,
    started  TEXT NOT NULL,
    finished TEXT,
    status   TEXT NOT NULL,
    summary  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS job_runs_by_job ON job_runs (tenant, job, id);
CREATE TABLE IF NOT EXISTS tenant_leases (
    tenant   TEXT PRIMARY KEY,
    holder   TEXT NOT NULL,
    job      TEXT NOT NULL,
    acquired INTEGER NOT NULL,
    expires  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alerts (
    id        INTEGER PRIMARY KEY,
    tenant    TEXT NOT NULL,
    key       TEXT NOT NULL,
    kind      TEXT NOT NULL,
    message   TEXT NOT NULL,
    raised    TEXT NOT NULL,
    notified  TEXT,
    cleared   TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_open ON alerts (tenant, key) WHERE cleared IS NULL;
