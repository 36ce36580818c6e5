-- 0006: hierarchical budgets (store.Budgeter). Idempotent, as every
-- migration here.
--
-- One row per (tenant, node, budget name): the node is a key, token or
-- hop id, holder the node it was carved from ('' for none), path the
-- chain's ids down to the node ("/key/tok/hop/"). Amounts are integer
-- units, at most 2^53. Times in nanoseconds since the Unix epoch;
-- expires_at NULL for "never". Each of tenant, node and name is up to
-- 1024 bytes, so the primary key and the holder index are InnoDB's
-- largest, 3072 bytes. A spend locks its chain's rows with SELECT ...
-- FOR UPDATE, in primary key order: one order for every spend.
CREATE TABLE IF NOT EXISTS {p}budgets (
    tenant       VARBINARY(1024) NOT NULL,
    node         VARBINARY(1024) NOT NULL,
    name         VARBINARY(1024) NOT NULL,
    holder       VARBINARY(1024) NOT NULL,
    path         BLOB NOT NULL,
    depth        INT NOT NULL,
    limit_units  BIGINT NOT NULL,
    spent        BIGINT NOT NULL,
    carved       BIGINT NOT NULL,
    carved_spent BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NULL,
    released     BOOLEAN NOT NULL,
    PRIMARY KEY (tenant, node, name),
    KEY {p}budgets_holder (tenant, holder, name)
) ENGINE = InnoDB;
