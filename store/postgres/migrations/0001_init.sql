-- 0001: the initial schema. Runs with search_path set to the store's
-- schema, inside the migration transaction.
--
-- Conventions: times are BIGINT Unix nanoseconds, NULL for the zero
-- time.Time (so they round-trip exactly, which the audit hash needs); ids
-- and other text compared or ordered by the store are COLLATE "C", so
-- that ORDER BY agrees with Go's byte order whatever the database's
-- collation; byte fields the caller hashes (attributes, bodies) are BYTEA,
-- so they come back byte for byte.

-- Revocations (kind 1) and suspensions (kind 2), as store.BlockKind.
CREATE TABLE blocks (
    tenant     TEXT COLLATE "C" NOT NULL,
    id         TEXT COLLATE "C" NOT NULL,
    kind       SMALLINT NOT NULL CHECK (kind IN (1, 2)),
    reason     TEXT NOT NULL,
    created_at BIGINT,
    expires_at BIGINT,
    PRIMARY KEY (tenant, id, kind)
);

CREATE TABLE approvals (
    tenant           TEXT COLLATE "C" NOT NULL,
    id               TEXT COLLATE "C" NOT NULL,
    fingerprint      TEXT COLLATE "C" NOT NULL,
    agent_id         TEXT NOT NULL,
    session_id       TEXT NOT NULL,
    on_behalf_of     TEXT NOT NULL,
    tool             TEXT NOT NULL,
    resource         TEXT NOT NULL,
    attributes       BYTEA,
    rule             TEXT NOT NULL,
    reason           TEXT NOT NULL,
    approvers        TEXT[],
    status           TEXT NOT NULL,
    created_at       BIGINT,
    expires_at       BIGINT,
    decided_at       BIGINT,
    decided_by       TEXT NOT NULL,
    note             TEXT NOT NULL,
    grant_expires_at BIGINT,
    consumed_at      BIGINT,
    PRIMARY KEY (tenant, id)
);

-- PendingApproval and ConsumeApproval look approvals up by fingerprint.
CREATE INDEX approvals_fingerprint ON approvals (tenant, fingerprint, status);

CREATE TABLE policies (
    tenant     TEXT COLLATE "C" PRIMARY KEY,
    version    BIGINT NOT NULL,
    format     TEXT NOT NULL,
    body       BYTEA,
    updated_at BIGINT
);

-- One hash chain per writer; (chain, seq) is unique, which with the
-- contiguity check in AppendAudit keeps every chain free of gaps.
CREATE TABLE audit (
    chain         TEXT COLLATE "C" NOT NULL,
    seq           BIGINT NOT NULL CHECK (seq >= 1),
    decision_id   UUID NOT NULL,
    time          BIGINT,
    tenant        TEXT NOT NULL,
    agent_id      TEXT NOT NULL,
    on_behalf_of  TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    tool          TEXT NOT NULL,
    resource      TEXT NOT NULL,
    attributes    BYTEA,
    credential_id TEXT NOT NULL,
    hop_ids       JSONB,
    effect        SMALLINT NOT NULL,
    rule          TEXT NOT NULL,
    reason        TEXT NOT NULL,
    approval_id   TEXT NOT NULL,
    latency       BIGINT NOT NULL,
    prev_hash     BYTEA NOT NULL,
    hash          BYTEA NOT NULL,
    PRIMARY KEY (chain, seq)
);

CREATE INDEX audit_decision_id ON audit (decision_id);

-- API keys. Ids ("key_...") and hashes are unique across tenants.
CREATE TABLE keys (
    id          TEXT COLLATE "C" PRIMARY KEY,
    tenant      TEXT COLLATE "C" NOT NULL,
    agent_id    TEXT NOT NULL,
    hash        BYTEA NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    roles       TEXT[],
    allowed_ips TEXT[],
    caveats     TEXT[],
    created_at  BIGINT,
    expires_at  BIGINT
);

CREATE INDEX keys_tenant ON keys (tenant);

-- Delegation hops. Ids ("hop_...") are unique across tenants.
CREATE TABLE hops (
    id         TEXT COLLATE "C" PRIMARY KEY,
    tenant     TEXT COLLATE "C" NOT NULL,
    parent     TEXT NOT NULL,
    token_id   TEXT COLLATE "C" NOT NULL,
    key_id     TEXT COLLATE "C" NOT NULL,
    agent_id   TEXT NOT NULL,
    caveats    TEXT[],
    created_at BIGINT,
    expires_at BIGINT
);

CREATE INDEX hops_token ON hops (tenant, token_id);
CREATE INDEX hops_key ON hops (tenant, key_id);
