-- What each tenant connection's pacer spent of its API budgets lately (issue 17): saved by the
-- host serving the tenant, taken over by the next one, so a realm's limits hold across hosts.
CREATE TABLE IF NOT EXISTS pacing_spent (
    tenant     TEXT NOT NULL,
    connection TEXT NOT NULL,
    spent      TEXT NOT NULL,
    saved      INTEGER NOT NULL,
    PRIMARY KEY (tenant, connection)
);
