-- OAuth 2.0 / OpenID Connect state. Every secret (client secret, code, token) is stored only as its SHA-256.

CREATE TABLE oauth_clients (
    client_id                 text        PRIMARY KEY CHECK (client_id ~ '^[A-Za-z0-9_-]{8,128}$'),
    name                      text        NOT NULL,
    secret_hash               bytea       CHECK (secret_hash IS NULL OR octet_length(secret_hash) = 32),
    redirect_uris             text[]      NOT NULL,
    grant_types               text[]      NOT NULL,
    trusted                   boolean     NOT NULL DEFAULT false,
    public                    boolean     NOT NULL DEFAULT false,
    allow_plain_pkce          boolean     NOT NULL DEFAULT false,
    backchannel_logout_uri    text,
    post_logout_redirect_uris text[]      NOT NULL DEFAULT '{}',
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    CHECK (public OR secret_hash IS NOT NULL)
);

-- The integer id GitLab-style clients need (Mattermost keys accounts on it): stable forever, never reused.
-- Platforms with positive integer ids use those directly; this maps every other id (text, UUID).
CREATE TABLE user_numeric_ids (
    numeric_id  bigint GENERATED ALWAYS AS IDENTITY (START WITH 1000000000) PRIMARY KEY,
    platform_id text        NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE authorization_codes (
    code_hash             bytea       PRIMARY KEY CHECK (octet_length(code_hash) = 32),
    client_id             text        NOT NULL REFERENCES oauth_clients ON DELETE CASCADE,
    user_id               text        NOT NULL,
    user_login            text        NOT NULL,
    redirect_uri          text        NOT NULL,
    scope                 text        NOT NULL,
    nonce                 text,
    code_challenge        text,
    code_challenge_method text        CHECK (code_challenge_method IN ('S256', 'plain')),
    session_hash          bytea,
    auth_time             timestamptz NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    expires_at            timestamptz NOT NULL,
    used_at               timestamptz
);
CREATE INDEX authorization_codes_expires_at_idx ON authorization_codes (expires_at);

-- Access and refresh tokens. A family is one grant: a code exchange (or password/client grant) and
-- every refresh rotation after it; reuse of a rotated refresh token revokes the whole family.
CREATE TABLE oauth_tokens (
    token_hash   bytea       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    kind         text        NOT NULL CHECK (kind IN ('access', 'refresh')),
    family_id    uuid        NOT NULL,
    client_id    text        NOT NULL REFERENCES oauth_clients ON DELETE CASCADE,
    user_id      text,
    user_login   text,
    scope        text        NOT NULL,
    code_hash    bytea,
    session_hash bytea,
    auth_time    timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    rotated_at   timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX oauth_tokens_family_idx ON oauth_tokens (family_id);
CREATE INDEX oauth_tokens_user_idx ON oauth_tokens (user_id) WHERE revoked_at IS NULL;
CREATE INDEX oauth_tokens_code_idx ON oauth_tokens (code_hash) WHERE code_hash IS NOT NULL;
CREATE INDEX oauth_tokens_session_idx ON oauth_tokens (session_hash) WHERE session_hash IS NOT NULL;
CREATE INDEX oauth_tokens_expires_at_idx ON oauth_tokens (expires_at);

-- Consent given by a user to a non-trusted client, for a set of scopes.
CREATE TABLE oauth_consents (
    user_id    text        NOT NULL,
    client_id  text        NOT NULL REFERENCES oauth_clients ON DELETE CASCADE,
    scopes     text[]      NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, client_id)
);

-- id_token signing keys; the private key is sealed with AES-GCM under a key from the environment.
CREATE TABLE signing_keys (
    kid                text        PRIMARY KEY,
    algorithm          text        NOT NULL CHECK (algorithm IN ('RS256', 'ES256')),
    sealed_private_key bytea       NOT NULL,
    public_jwk         text        NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    retired_at         timestamptz
);
