-- Chat account provisioning: a durable outbox of jobs, worked by every replica, and the mapping from
-- platform users to chat accounts (Mattermost never returns auth_data, so Drawbridge keeps the link).

CREATE TABLE provisioning_jobs (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connector        text        NOT NULL,
    action           text        NOT NULL CHECK (action IN ('provision', 'update', 'deactivate', 'revoke_sessions')),
    platform_user_id text        NOT NULL,
    user_login       text        NOT NULL,
    state            text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0,
    max_attempts     integer     NOT NULL DEFAULT 10,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    -- A worker's lease: a job whose worker died is taken up again once this passes.
    locked_until     timestamptz,
    last_error       text,
    result           text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    done_at          timestamptz
);
-- One pending job per user, connector and action: enqueueing again is a no-op.
CREATE UNIQUE INDEX provisioning_jobs_pending_key ON provisioning_jobs (connector, platform_user_id, action) WHERE state = 'pending';
CREATE INDEX provisioning_jobs_due_idx ON provisioning_jobs (next_attempt_at) WHERE state = 'pending';
CREATE INDEX provisioning_jobs_state_idx ON provisioning_jobs (state, connector);

CREATE TABLE chat_accounts (
    connector        text        NOT NULL,
    platform_user_id text        NOT NULL,
    chat_user_id     text        NOT NULL,
    username         text        NOT NULL,
    email            text,
    name             text,
    active           boolean     NOT NULL DEFAULT true,
    provisioned_at   timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connector, platform_user_id),
    UNIQUE (connector, chat_user_id)
);
