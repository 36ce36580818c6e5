-- 0007: hierarchical budgets (store.Budgeter).
-- One row per (tenant, node, budget name): the node is a key, token or
-- hop id, holder the node it was carved from ('' for none), path the
-- chain's ids down to the node ("/key/tok/hop/"). Amounts are integer
-- units, at most 2^53. Times in nanoseconds since the Unix epoch;
-- expires_at NULL for "never". A spend locks its chain's rows with
-- SELECT ... ORDER BY depth, node, name FOR UPDATE, so spends
-- sharing ancestors queue rather than deadlock. The holder index finds
-- the children a spend reclaims once expired.
CREATE TABLE budgets (
    tenant       TEXT COLLATE "C" NOT NULL,
    node         TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    holder       TEXT COLLATE "C" NOT NULL,
    path         TEXT COLLATE "C" NOT NULL,
    depth        INTEGER NOT NULL,
    limit_units  BIGINT  NOT NULL,
    spent        BIGINT  NOT NULL,
    carved       BIGINT  NOT NULL,
    carved_spent BIGINT  NOT NULL,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT,
    released     BOOLEAN NOT NULL,
    PRIMARY KEY (tenant, node, name)
);
CREATE INDEX budgets_holder ON budgets (tenant, holder, name);
