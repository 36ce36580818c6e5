-- 0004: remembered approvals (store.Grants). Idempotent, as every
-- migration here. Times in nanoseconds since the Unix epoch; resources a
-- JSON array of globs, NULL for none.
CREATE TABLE IF NOT EXISTS {p}grants (
    tenant       VARBINARY(255) NOT NULL,
    id           VARBINARY(255) NOT NULL,
    approval_id  BLOB NOT NULL,
    agent_id     VARBINARY(1024) NOT NULL,
    on_behalf_of BLOB NOT NULL,
    tool         VARBINARY(1024) NOT NULL,
    rule         BLOB NOT NULL,
    resource     BLOB NOT NULL,
    resources    BLOB NULL,
    uses_left    BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    created_by   BLOB NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant, id),
    KEY {p}grants_agent_tool (tenant, agent_id, tool)
) ENGINE = InnoDB;
