-- 0003: cluster-wide rate limits (store.ClusterLimiter).
-- One theoretical arrival time per (tenant, limit, key), in nanoseconds
-- since the Unix epoch; a row whose tat is past holds no state. No index
-- on tat: a take then updates no index (in PostgreSQL, a HOT update), and
-- PruneRates, which runs rarely, scans the table.
CREATE TABLE rates (
    tenant   TEXT COLLATE "C" NOT NULL,
    limit_id TEXT COLLATE "C" NOT NULL,
    key      TEXT COLLATE "C" NOT NULL,
    tat      BIGINT NOT NULL,
    PRIMARY KEY (tenant, limit_id, key)
);
