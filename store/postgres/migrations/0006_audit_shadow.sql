-- 0006: what a shadow policy decided instead.
-- The effect ("allow", "deny", "needs_approval" or "error") and rule a
-- shadow policy gave where it disagreed with the live policy; empty
-- otherwise, as in every earlier record. Constant defaults: PostgreSQL
-- adds the columns without rewriting the table.
ALTER TABLE audit ADD COLUMN shadow_effect TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN shadow_rule TEXT NOT NULL DEFAULT '';
