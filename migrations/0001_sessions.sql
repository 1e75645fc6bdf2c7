-- Browser sessions. The cookie carries a random 256-bit token; only its SHA-256 is stored here.
CREATE TABLE sessions (
    id_hash        bytea       PRIMARY KEY CHECK (octet_length(id_hash) = 32),
    user_id        text        NOT NULL,
    login          text        NOT NULL,
    client_address text,
    user_agent     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
