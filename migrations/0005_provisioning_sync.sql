-- `drawbridge provision sync`: one row per run, so an interrupted run resumes where it stopped
-- (the cursor is the last platform id of a page finished on every connector), and the users a
-- run could not bring in step, with why, so a partial sync says exactly who failed.

CREATE TABLE provisioning_sync_runs (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- What the run was asked for (connectors, --since): a resumed run must be the same run.
    scope        text        NOT NULL,
    cursor       text,
    total        integer     NOT NULL DEFAULT 0,
    seen         integer     NOT NULL DEFAULT 0,
    -- {"<connector>": {"created": n, "updated": n, "deactivated": n, "unchanged": n, "failed": n}}
    counts       jsonb       NOT NULL DEFAULT '{}',
    started_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
CREATE INDEX provisioning_sync_runs_open_idx ON provisioning_sync_runs (scope) WHERE finished_at IS NULL;

CREATE TABLE provisioning_sync_failures (
    run_id           bigint      NOT NULL REFERENCES provisioning_sync_runs ON DELETE CASCADE,
    connector        text        NOT NULL,
    platform_user_id text        NOT NULL,
    user_login       text        NOT NULL,
    action           text        NOT NULL,
    error            text        NOT NULL,
    failed_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, connector, platform_user_id)
);
