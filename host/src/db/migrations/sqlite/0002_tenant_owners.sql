-- Tenants leased to hosts (issue 17): which `ledgerlink run` host serves which tenant, until when,
-- under which fencing token. `fence` only grows: each new holder gets the next one, and a write
-- that matters carries the token it was made under.
CREATE TABLE IF NOT EXISTS cluster_hosts (
    id        TEXT PRIMARY KEY,
    pid       INTEGER NOT NULL,
    started   INTEGER NOT NULL,
    heartbeat INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tenant_owners (
    tenant  TEXT PRIMARY KEY,
    holder  TEXT NOT NULL,
    fence   INTEGER NOT NULL,
    since   INTEGER NOT NULL,
    expires INTEGER NOT NULL
);
