-- 0001_init: the first schema of the agenttrust SQLite store.
--
-- Conventions (see codec.go):
--   times      INTEGER nanoseconds since the Unix epoch, UTC; the zero
--              time.Time is -9223372036854775808 (the smallest INTEGER), so
--              it sorts and compares before every real time, as in Go.
--   hashes     BLOB of 32 bytes; decision ids BLOB of 16 bytes.
--   lists      TEXT holding a JSON array of strings, NULL when empty.
--   raw JSON   BLOB, byte for byte (audit hashes cover it), NULL when empty.

-- Revocations (kind 1) and suspensions (kind 2). Blocked probes the primary
-- key once per id; kind 1 < 2 puts revocations first.
CREATE TABLE blocks (
    tenant     TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    kind       INTEGER NOT NULL CHECK (kind IN (1, 2)),
    reason     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, id, kind)
) WITHOUT ROWID;

CREATE INDEX blocks_by_creation ON blocks (tenant, created_at, id);
CREATE INDEX blocks_by_expiry ON blocks (expires_at) WHERE kind = 1;

CREATE TABLE approvals (
    tenant           TEXT    NOT NULL,
    id               TEXT    NOT NULL,
    fingerprint      TEXT    NOT NULL,
    agent_id         TEXT    NOT NULL,
    session_id       TEXT    NOT NULL,
    on_behalf_of     TEXT    NOT NULL,
    tool             TEXT    NOT NULL,
    resource         TEXT    NOT NULL,
    attributes       BLOB,
    rule             TEXT    NOT NULL,
    reason           TEXT    NOT NULL,
    approvers        TEXT,
    status           TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    decided_at       INTEGER NOT NULL,
    decided_by       TEXT    NOT NULL,
    note             TEXT    NOT NULL,
    grant_expires_at INTEGER NOT NULL,
    consumed_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE INDEX approvals_by_fingerprint ON approvals (tenant, fingerprint, status, created_at, id);
CREATE INDEX approvals_by_creation ON approvals (tenant, created_at, id);
CREATE INDEX approvals_by_status ON approvals (status, created_at, id);

CREATE TABLE policies (
    tenant     TEXT    NOT NULL PRIMARY KEY,
    version    INTEGER NOT NULL,
    format     TEXT    NOT NULL,
    body       BLOB,
    updated_at INTEGER NOT NULL
);

-- One hash chain per writer. The primary key (chain, seq) orders every
-- query and makes the head of a chain one index probe.
CREATE TABLE audit (
    chain         TEXT    NOT NULL,
    seq           INTEGER NOT NULL CHECK (seq >= 1),
    id            BLOB    NOT NULL,
    time          INTEGER NOT NULL,
    tenant        TEXT    NOT NULL,
    agent_id      TEXT    NOT NULL,
    on_behalf_of  TEXT    NOT NULL,
    session_id    TEXT    NOT NULL,
    tool          TEXT    NOT NULL,
    resource      TEXT    NOT NULL,
    attributes    BLOB,
    credential_id TEXT    NOT NULL,
    hop_ids       TEXT,
    effect        INTEGER NOT NULL,
    rule          TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    approval_id   TEXT    NOT NULL,
    latency       INTEGER NOT NULL,
    prev_hash     BLOB    NOT NULL,
    hash          BLOB    NOT NULL,
    PRIMARY KEY (chain, seq)
);

CREATE INDEX audit_by_tenant_time ON audit (tenant, time);
CREATE INDEX audit_by_agent ON audit (agent_id, chain, seq);
CREATE INDEX audit_by_tool ON audit (tool, chain, seq);
CREATE INDEX audit_by_decision ON audit (id);

-- API keys: the SHA-256 of the secret, never the secret. Ids and hashes are
-- unique across tenants: KeyByHash searches every tenant.
CREATE TABLE keys (
    id          TEXT    NOT NULL PRIMARY KEY,
    tenant      TEXT    NOT NULL,
    agent_id    TEXT    NOT NULL,
    hash        BLOB    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    roles       TEXT,
    allowed_ips TEXT,
    caveats     TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

CREATE INDEX keys_by_tenant ON keys (tenant, created_at, id);

-- Server-side delegation hops, a tree under a token and a key.
CREATE TABLE hops (
    id         TEXT    NOT NULL PRIMARY KEY,
    tenant     TEXT    NOT NULL,
    parent     TEXT    NOT NULL,
    token_id   TEXT    NOT NULL,
    key_id     TEXT    NOT NULL,
    agent_id   TEXT    NOT NULL,
    caveats    TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE INDEX hops_by_tenant ON hops (tenant, created_at, id);
CREATE INDEX hops_by_token ON hops (tenant, token_id, created_at, id);
CREATE INDEX hops_by_key ON hops (tenant, key_id, created_at, id);
