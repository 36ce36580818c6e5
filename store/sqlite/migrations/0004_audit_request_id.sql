-- 0004: the request that asked for a check.
-- The request id (a server's X-Request-Id) of the check a record
-- decided; empty when the caller gave none, as in every earlier record.
ALTER TABLE audit ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
