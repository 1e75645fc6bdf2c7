-- The refresh grant's write path, made lighter (Benchmarks/RESULTS.md, issue 3).
--
-- * No foreign key from oauth_tokens to oauth_clients: every token INSERT took a KEY SHARE lock on the
--   client's row, so concurrent refreshes of one client serialised on multixacts. `clients remove`
--   deletes the client's tokens itself.
-- * No code_hash column or index: a code exchange's token family id is derived from the code
--   (TokenFamily.forCode), so a replayed code revokes its tokens through the family index.
-- * Room on each page for rotated_at updates to stay HOT (rotated_at is in no index).

ALTER TABLE oauth_tokens DROP CONSTRAINT IF EXISTS oauth_tokens_client_id_fkey;
DROP INDEX IF EXISTS oauth_tokens_code_idx;
ALTER TABLE oauth_tokens DROP COLUMN IF EXISTS code_hash;
ALTER TABLE oauth_tokens SET (fillfactor = 90);
