-- Tenants leased to hosts (issue 17): which `ledgerlink run` host serves which tenant, until when,
-- under which fencing token. `fence` only grows: each new holder gets the next one, and a write
-- that matters carries the token it was made under.
CREATE TABLE IF NOT EXISTS cluster_hosts (
    id        TEXT PRIMARY KEY,
    pid       BIGINT NOT NULL,
    started   BIGINT NOT NULL,
    heartbeat BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS tenant_owners (
    tenant  TEXT PRIMARY KEY,
    holder  TEXT NOT NULL,
    fence   BIGINT NOT NULL,
    since   BIGINT NOT NULL,
    expires BIGINT NOT NULL
);
