-- 0005: what a shadow policy decided instead.
-- The effect ("allow", "deny", "needs_approval" or "error") and rule a
-- shadow policy gave where it disagreed with the live policy. NULL in
-- the records written before these columns existed and in those it
-- agreed with, as good as empty. Columns added last and nullable, in one
-- statement: MySQL 8 adds them in place (INSTANT). Run again after a
-- crash before the version was recorded, the columns are found to exist
-- (error 1060), which migrate counts as done.
ALTER TABLE {p}audit ADD COLUMN shadow_effect BLOB NULL, ADD COLUMN shadow_rule BLOB NULL;
