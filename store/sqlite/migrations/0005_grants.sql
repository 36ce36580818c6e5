-- 0005: remembered approvals (store.Grants). Times in nanoseconds since
-- the Unix epoch; resources a JSON array of globs, NULL for none.
CREATE TABLE grants (
    tenant       TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    approval_id  TEXT    NOT NULL,
    agent_id     TEXT    NOT NULL,
    on_behalf_of TEXT    NOT NULL,
    tool         TEXT    NOT NULL,
    rule         TEXT    NOT NULL,
    resource     TEXT    NOT NULL,
    resources    TEXT,
    uses_left    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    created_by   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE INDEX grants_agent_tool ON grants (tenant, agent_id, tool);
