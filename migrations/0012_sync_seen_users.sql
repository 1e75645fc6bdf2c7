-- The platform ids a sync run has walked past, so that at its end (even after a resume) the accounts of users
-- who are no longer in the platform's table can be found and deactivated. Emptied when the run finishes.
CREATE TABLE provisioning_sync_seen (
    run_id           bigint NOT NULL REFERENCES provisioning_sync_runs ON DELETE CASCADE,
    platform_user_id text   NOT NULL,
    PRIMARY KEY (run_id, platform_user_id)
);
