-- 0002: cluster-wide rate limits (store.ClusterLimiter). Idempotent, as
-- every migration here.
--
-- One theoretical arrival time per (tenant, limit, key), in nanoseconds
-- since the Unix epoch; a row whose tat is past holds no state. Each of
-- the three is up to store.MaxRateKey (1024) bytes, so the primary key is
-- InnoDB's largest, 3072 bytes (with the default 16 KiB pages). No index
-- on tat: a take then updates no secondary index, and PruneRates, which
-- runs rarely, reads the tenant's range of the primary key.
CREATE TABLE IF NOT EXISTS {p}rates (
    tenant    VARBINARY(1024) NOT NULL,
    limit_id  VARBINARY(1024) NOT NULL,
    limit_key VARBINARY(1024) NOT NULL,
    tat       BIGINT NOT NULL,
    PRIMARY KEY (tenant, limit_id, limit_key)
) ENGINE = InnoDB;
