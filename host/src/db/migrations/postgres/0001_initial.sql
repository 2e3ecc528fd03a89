-- Ledgerlink's PostgreSQL store, version 1: the same tables as SQLite's version 1. Times stay
-- RFC 3339 text, as in SQLite, so both backends order and compare them alike; row ids are
-- BIGSERIAL where SQLite's are rowids.
CREATE TABLE IF NOT EXISTS kv (
    tenant TEXT NOT NULL,
    bucket TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  BYTEA NOT NULL,
    PRIMARY KEY (tenant, bucket, key)
);
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
    id            BIGSERIAL PRIMARY KEY,
    tenant        TEXT NOT NULL,
    source        TEXT NOT NULL,
    realm         TEXT NOT NULL,
    body          BYTEA NOT NULL,
    body_hash     TEXT NOT NULL,
    received      TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'pending',
    attempts      BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT,
    claimed_until TEXT,
    UNIQUE (tenant, source, body_hash)
);
CREATE INDEX IF NOT EXISTS webhook_inbox_pending ON webhook_inbox (state, id);
CREATE TABLE IF NOT EXISTS tokens (
    tenant     TEXT NOT NULL,
    connection TEXT NOT NULL,
    nonce      BYTEA NOT NULL,
    ciphertext BYTEA NOT NULL,
    updated    TEXT NOT NULL,
    PRIMARY KEY (tenant, connection)
);
CREATE TABLE IF NOT EXISTS auth_connections (
    tenant     TEXT NOT NULL,
    connection TEXT NOT NULL,
    state      TEXT NOT NULL,
    reason     TEXT,
    updated    TEXT NOT NULL,
    PRIMARY KEY (tenant, connection)
);
CREATE TABLE IF NOT EXISTS auth_events (
    id         BIGSERIAL PRIMARY KEY,
    tenant     TEXT NOT NULL,
    connection TEXT NOT NULL,
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL,
    at         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS auth_key_check (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    nonce      BYTEA NOT NULL,
    ciphertext BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS pubsub_replays (
    tenant    TEXT NOT NULL,
    topic     TEXT NOT NULL,
    replay_id BYTEA NOT NULL,
    updated   TEXT NOT NULL,
    PRIMARY KEY (tenant, topic)
);
CREATE TABLE IF NOT EXISTS errors (
    id         BIGSERIAL PRIMARY KEY,
    tenant     TEXT NOT NULL,
    job        TEXT NOT NULL,
    entity     TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    code       TEXT,
    detail     TEXT NOT NULL,
    retryable  BIGINT NOT NULL,
    attempts   BIGINT NOT NULL,
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
);
CREATE TABLE IF NOT EXISTS error_mirror (
    error_id BIGINT PRIMARY KEY,
    mirrored TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS job_runs (
    id       BIGSERIAL PRIMARY KEY,
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
    acquired BIGINT NOT NULL,
    expires  BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    id        BIGSERIAL PRIMARY KEY,
    tenant    TEXT NOT NULL,
    key       TEXT NOT NULL,
    kind      TEXT NOT NULL,
    message   TEXT NOT NULL,
    raised    TEXT NOT NULL,
    notified  TEXT,
    cleared   TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_open ON alerts (tenant, key) WHERE cleared IS NULL;
