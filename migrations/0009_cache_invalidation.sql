-- Replicas cache sessions, bearer tokens and clients (CacheSettings.lifetime). Whatever ends or changes one
-- of them sends NOTIFY drawbridge_invalidate naming it, so every replica's listener (CacheInvalidationListener)
-- drops its copy at once. Triggers, not the application, send them: every writer is then covered — sign-out,
-- `drawbridge sessions revoke`, the platform re-check, the reaper, RFC 7009 revocation, refresh-reuse and
-- logout revocations, `drawbridge clients update|remove` — and the notice leaves with the writer's commit.
--
-- Payloads: session:<hex of id_hash>, token:<hex of token_hash>, client:<client_id> (at most 135 bytes;
-- NOTIFY allows 8000). Only rotations touch oauth_tokens on the hot path, and they set rotated_at, never
-- revoked_at, so no trigger fires for them.

CREATE FUNCTION drawbridge_notify_session_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('drawbridge_invalidate', 'session:' || encode(OLD.id_hash, 'hex'));
    RETURN NULL;
END
$$;

CREATE FUNCTION drawbridge_notify_token_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('drawbridge_invalidate', 'token:' || encode(OLD.token_hash, 'hex'));
    RETURN NULL;
END
$$;

CREATE FUNCTION drawbridge_notify_client_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('drawbridge_invalidate', 'client:' || OLD.client_id);
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_notify_ended AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION drawbridge_notify_session_ended();

CREATE TRIGGER oauth_tokens_notify_revoked AFTER UPDATE OF revoked_at ON oauth_tokens
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL) EXECUTE FUNCTION drawbridge_notify_token_revoked();

-- A live token deleted (its client removed). Expired ones, which the reaper deletes by the thousand, are
-- refused anyway: no replica keeps a token cached past its expiry.
CREATE TRIGGER oauth_tokens_notify_deleted AFTER DELETE ON oauth_tokens
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND OLD.expires_at > now()) EXECUTE FUNCTION drawbridge_notify_token_revoked();

CREATE TRIGGER oauth_clients_notify_changed AFTER UPDATE OR DELETE ON oauth_clients
    FOR EACH ROW EXECUTE FUNCTION drawbridge_notify_client_changed();
