-- Forward auth behind a proxy that does not pass Set-Cookie on to the browser (Caddy, Traefik before 3.1)
-- finds the session already opened from a platform session by its fingerprint, instead of opening one more
-- per request.
CREATE INDEX sessions_platform_session_hash ON sessions (platform_session_hash) WHERE platform_session_hash IS NOT NULL;
