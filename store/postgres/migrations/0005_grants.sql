-- 0005: remembered approvals (store.Grants). Times in nanoseconds since
-- the Unix epoch.
CREATE TABLE grants (
    tenant       TEXT COLLATE "C" NOT NULL,
    id           TEXT COLLATE "C" NOT NULL,
    approval_id  TEXT NOT NULL,
    agent_id     TEXT COLLATE "C" NOT NULL,
    on_behalf_of TEXT NOT NULL,
    tool         TEXT COLLATE "C" NOT NULL,
    rule         TEXT NOT NULL,
    resource     TEXT NOT NULL,
    resources    TEXT[],
    uses_left    BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX grants_agent_tool ON grants (tenant, agent_id, tool);
