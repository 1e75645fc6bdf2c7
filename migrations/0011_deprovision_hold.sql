-- `drawbridge deprovision` is an admin's decision, so it must outlast the platform user's next sign-in and the
-- next sync (which would otherwise see an active platform user with a deactivated account and reactivate it).
-- While held_since is set, sign-ins and sync leave the account deactivated; `drawbridge provision user` clears it.
ALTER TABLE chat_accounts ADD COLUMN held_since timestamptz;
