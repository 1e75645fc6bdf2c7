-- Service tokens (`drawbridge tokens add --name platform`): bearer credentials for the platform's backend. Only
-- the SHA-256 of each token is kept (tokens are 256 random bits, so a fast hash is enough and a database leak
-- yields nothing usable); revoked tokens stay listed, with when.
CREATE TABLE service_tokens (
    name          text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    token_hash    bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);

-- One-time sign-in links made by `POST /api/v1/handoff`: the SHA-256 of the link's code, who it signs in, where
-- it goes, which token asked for it. A link is used at most once (used_at) and only before expires_at.
CREATE TABLE handoffs (
    code_hash        bytea PRIMARY KEY CHECK (octet_length(code_hash) = 32),
    platform_user_id text NOT NULL,
    login            text NOT NULL,
    redirect         text NOT NULL,
    token_name       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    used_at          timestamptz
);
CREATE INDEX handoffs_expires_at ON handoffs (expires_at);
