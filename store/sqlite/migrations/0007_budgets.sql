-- 0007: hierarchical budgets (store.Budgeter).
-- One row per (tenant, node, budget name): the node is a key, token or
-- hop id, holder the node it was carved from ('' for none), path the
-- chain's ids down to the node ("/key/tok/hop/"). Amounts are integer
-- units, at most 2^53. Times in nanoseconds since the Unix epoch;
-- expires_at is the smallest INTEGER for "never". The holder index finds
-- the children a spend reclaims once expired.
CREATE TABLE budgets (
    tenant       TEXT    NOT NULL,
    node         TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    holder       TEXT    NOT NULL,
    path         TEXT    NOT NULL,
    depth        INTEGER NOT NULL,
    limit_units  INTEGER NOT NULL,
    spent        INTEGER NOT NULL,
    carved       INTEGER NOT NULL,
    carved_spent INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    released     INTEGER NOT NULL,
    PRIMARY KEY (tenant, node, name)
) WITHOUT ROWID;
CREATE INDEX budgets_holder ON budgets (tenant, holder, name);
