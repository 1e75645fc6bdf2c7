-- The platform sign-out watcher claims the sessions it is about to ask the platform about, so that replicas
-- do not ask twice. The claim is its own column: marking platform_checked_at instead would make a session
-- look confirmed to the request path before (or without) the platform's answer.
ALTER TABLE sessions ADD COLUMN platform_claimed_until timestamptz;
