-- 0001: the initial schema. {p} is the store's table prefix. MySQL
-- commits DDL as it goes, so every statement is idempotent: a migration
-- cut short is completed by the next Open.
--
-- Conventions: times are BIGINT Unix nanoseconds, NULL for the zero
-- time.Time (so they round-trip exactly, which the audit hash needs);
-- every string is a binary string (VARBINARY, BLOB), so it is stored byte
-- for byte whatever the connection's character set, and compared and
-- ordered as Go compares strings. Lists of strings are JSON arrays, NULL
-- for a nil list.

-- Revocations (kind 1) and suspensions (kind 2), as store.BlockKind.
CREATE TABLE IF NOT EXISTS {p}blocks (
    tenant     VARBINARY(255) NOT NULL,
    id         VARBINARY(512) NOT NULL,
    kind       TINYINT NOT NULL,
    reason     BLOB NOT NULL,
    created_at BIGINT NULL,
    expires_at BIGINT NULL,
    PRIMARY KEY (tenant, id, kind),
    KEY {p}blocks_expiry (kind, expires_at)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS {p}approvals (
    tenant           VARBINARY(255) NOT NULL,
    id               VARBINARY(255) NOT NULL,
    fingerprint      VARBINARY(255) NOT NULL,
    agent_id         BLOB NOT NULL,
    session_id       BLOB NOT NULL,
    on_behalf_of     BLOB NOT NULL,
    tool             BLOB NOT NULL,
    resource         BLOB NOT NULL,
    attributes       MEDIUMBLOB NULL,
    rule             BLOB NOT NULL,
    reason           BLOB NOT NULL,
    approvers        BLOB NULL,
    status           VARBINARY(16) NOT NULL,
    created_at       BIGINT NULL,
    expires_at       BIGINT NULL,
    decided_at       BIGINT NULL,
    decided_by       BLOB NOT NULL,
    note             BLOB NOT NULL,
    grant_expires_at BIGINT NULL,
    consumed_at      BIGINT NULL,
    PRIMARY KEY (tenant, id),
    -- PendingApproval and ConsumeApproval look approvals up by fingerprint.
    KEY {p}approvals_fingerprint (tenant, fingerprint, status)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS {p}policies (
    tenant     VARBINARY(255) NOT NULL PRIMARY KEY,
    version    BIGINT NOT NULL,
    format     VARBINARY(64) NOT NULL,
    body       MEDIUMBLOB NULL,
    updated_at BIGINT NULL
) ENGINE = InnoDB;

-- One hash chain per writer; (chain, seq) is unique, which with the
-- contiguity check in AppendAudit keeps every chain free of gaps.
CREATE TABLE IF NOT EXISTS {p}audit (
    chain         VARBINARY(255) NOT NULL,
    seq           BIGINT NOT NULL,
    decision_id   BINARY(16) NOT NULL,
    at            BIGINT NULL,
    tenant        BLOB NOT NULL,
    agent_id      BLOB NOT NULL,
    on_behalf_of  BLOB NOT NULL,
    session_id    BLOB NOT NULL,
    tool          BLOB NOT NULL,
    resource      BLOB NOT NULL,
    attributes    MEDIUMBLOB NULL,
    credential_id BLOB NOT NULL,
    hop_ids       BLOB NULL,
    effect        TINYINT NOT NULL,
    rule          BLOB NOT NULL,
    reason        BLOB NOT NULL,
    approval_id   BLOB NOT NULL,
    latency       BIGINT NOT NULL,
    prev_hash     BINARY(32) NOT NULL,
    hash          BINARY(32) NOT NULL,
    vouched_by    BLOB NOT NULL,
    PRIMARY KEY (chain, seq),
    KEY {p}audit_decision_id (decision_id)
) ENGINE = InnoDB;

-- API keys. Ids ("key_...") and hashes are unique across tenants.
CREATE TABLE IF NOT EXISTS {p}keys (
    id          VARBINARY(255) NOT NULL PRIMARY KEY,
    tenant      VARBINARY(255) NOT NULL,
    agent_id    BLOB NOT NULL,
    hash        BINARY(32) NOT NULL,
    name        BLOB NOT NULL,
    roles       BLOB NULL,
    allowed_ips BLOB NULL,
    caveats     MEDIUMBLOB NULL,
    created_at  BIGINT NULL,
    expires_at  BIGINT NULL,
    UNIQUE KEY {p}keys_hash (hash),
    KEY {p}keys_tenant (tenant)
) ENGINE = InnoDB;

-- Delegation hops. Ids ("hop_...") are unique across tenants.
CREATE TABLE IF NOT EXISTS {p}hops (
    id         VARBINARY(255) NOT NULL PRIMARY KEY,
    tenant     VARBINARY(255) NOT NULL,
    parent     BLOB NOT NULL,
    token_id   VARBINARY(255) NOT NULL,
    key_id     VARBINARY(255) NOT NULL,
    agent_id   BLOB NOT NULL,
    caveats    MEDIUMBLOB NULL,
    created_at BIGINT NULL,
    expires_at BIGINT NULL,
    KEY {p}hops_token (tenant, token_id),
    KEY {p}hops_key (tenant, key_id)
) ENGINE = InnoDB;

-- The change log that Watch polls: one row per block or policy write,
-- numbered by the counter in change_seq. Every write bumps the counter in
-- its own transaction, holding the counter's row lock until it commits,
-- so sequence order is commit order and a reader that sees seq n sees
-- every seq below it.
CREATE TABLE IF NOT EXISTS {p}changes (
    seq    BIGINT NOT NULL PRIMARY KEY,
    kind   TINYINT NOT NULL,
    tenant VARBINARY(255) NOT NULL,
    id     VARBINARY(512) NOT NULL
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS {p}change_seq (
    one TINYINT NOT NULL PRIMARY KEY,
    n   BIGINT NOT NULL
) ENGINE = InnoDB;

INSERT IGNORE INTO {p}change_seq (one, n) VALUES (1, 0);
