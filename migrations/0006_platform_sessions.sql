-- Sessions opened from the platform's own session cookie (platform_session in the config) remember which
-- platform session they came from (SHA-256 of its cookie) and when it was last seen alive, so Drawbridge
-- re-checks it at most every recheck_interval and ends its own session when the platform's is gone.
ALTER TABLE sessions
    ADD COLUMN platform_session_hash bytea CHECK (platform_session_hash IS NULL OR octet_length(platform_session_hash) = 32),
    ADD COLUMN platform_checked_at   timestamptz;
