-- 0008: the API key a grant's approver decided with (Grant.CreatedByKey):
-- the grant ends with it. Empty in the grants made before this column
-- existed, which are bound to their approver's agent alone.
ALTER TABLE grants ADD COLUMN created_by_key TEXT NOT NULL DEFAULT '';
