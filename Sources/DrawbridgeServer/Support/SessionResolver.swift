import DrawbridgeCore
import Foundation
import Hummingbird
import Logging

/// Who the browser is signed in as: Drawbridge's own session, or — with `platform_session` configured — one
/// opened silently from the platform's session cookie. A session that came from the platform is re-checked
/// against it at most every `recheck_interval`, and ended (single logout) when the platform's is gone.
struct SessionResolver: Sendable {
    struct Resolved: Sendable {
        var token: SecretToken
        var session: Session
        /// Set when a session was opened on this request: the response must carry it.
        var newCookie: Cookie?
    }

    let sessions: any SessionStore
    let cookies: SessionCookies
    let bridge: PlatformSessionBridge?
    let logout: SingleLogout
    /// A first sign-in from the platform provisions chat accounts as a sign-in here does.
    let provisioning: ProvisioningService?
    /// Forward auth's session caches, shared with sign-out and the NOTIFY listener. Dropped here whenever the
    /// stored session changes (re-checked, ended), so a burst does not re-check the platform once per request.
    let caches: SessionCaches
    private var sessionCache: ExpiringCache<[UInt8], Session?> { caches.byDigest }
    /// Platform-session fingerprint → the session opened from it, for `resolveForProxy`'s bursts.
    private var bridgedSessionCache: ExpiringCache<[UInt8], (digest: [UInt8], session: Session)?> { caches.byPlatformSession }

    /// The browser's live session, if any; `cached` reads it through the session cache (forward auth's bursts).
    func resolve(_ request: Request, context: AppRequestContext, cached: Bool = false) async throws -> Resolved? {
        let platformCookie = bridge.flatMap { request.cookies[$0.settings.cookieName]?.value }
        if let token = cookies.sessionToken(in: request), let session = try await session(for: token, cached: cached) {
            guard let bridge, session.platformSessionHash != nil else { return Resolved(token: token, session: session) }
            switch try await platformBacking(session, digest: token.digest, cookie: platformCookie, bridge: bridge, context: context, forget: {
                sessionCache.remove(token.digest)
            }) {
            case .backed: return Resolved(token: token, session: session)
            case .unanswered: return nil  // asking again for a new session would fail the same way
            case .ended: break  // the browser's platform cookie may still open a session of its own
            }
        }
        guard let bridge, let platformCookie, let user = await bridge.user(forCookie: platformCookie) else { return nil }
        let (token, session) = try await sessions.create(
            userID: user.id, login: user.login, clientAddress: context.clientAddress,
            userAgent: request.headers[.userAgent], platformSessionHash: PlatformSessionBridge.fingerprint(platformCookie)
        )
        context.logger.info("signed in from the platform's session", metadata: ["user_id": "\(user.id)"])
        await provisioning?.afterSignIn(user)
        return Resolved(token: token, session: session, newCookie: cookies.sessionCookie(token))
    }

    /// Forward auth: as `resolve(cached: true)`, except that a browser with the platform's cookie but none of
    /// Drawbridge's — its proxy did not pass on the Set-Cookie of an earlier answer (Caddy, Traefik before 3.1)
    /// — is matched to the session already opened from that platform session, instead of getting one more
    /// session (a database write) on every request.
    func resolveForProxy(_ request: Request, context: AppRequestContext) async throws -> (session: Session, newCookie: Cookie?)? {
        guard let bridge, cookies.sessionToken(in: request) == nil, let platformCookie = request.cookies[bridge.settings.cookieName]?.value else {
            return try await resolve(request, context: context, cached: true).map { ($0.session, $0.newCookie) }
        }
        let fingerprint = PlatformSessionBridge.fingerprint(platformCookie)
        let found = try await bridgedSessionCache.value(for: fingerprint, notAfter: { SessionCaches.deadline(of: $0?.session) }) {
            try await sessions.session(platformSessionHash: fingerprint)
        }
        if let (digest, session) = found {
            switch try await platformBacking(session, digest: digest, cookie: platformCookie, bridge: bridge, context: context, forget: {
                bridgedSessionCache.remove(fingerprint)
            }) {
            case .backed: return (session, nil)
            case .unanswered: return nil
            case .ended: break
            }
        }
        guard let opened = try await resolve(request, context: context, cached: true) else { return nil }
        bridgedSessionCache.store((opened.token.digest, opened.session), for: fingerprint, notAfter: SessionCaches.deadline(of: opened.session))
        return (opened.session, opened.newCookie)
    }

    enum PlatformBacking {
        case backed
        /// The platform could not be asked: refuse this request, keep the session for when it can.
        case unanswered
        case ended
    }

    /// Whether the platform still backs a session opened from it. The browser must still hold the platform
    /// cookie it was opened from; within `recheck_interval` of the last check that is enough, otherwise the
    /// platform is asked, and a session whose platform session is gone
    /// (signed out, or signed in there as someone else) ends with it: single logout. A platform that cannot be
    /// asked refuses the request but ends nothing. `forget` drops the caller's cached copy, which is stale
    /// once the stored session changed.
    private func platformBacking(
        _ session: Session, digest: [UInt8], cookie: String?, bridge: PlatformSessionBridge, context: AppRequestContext, forget: () -> Void
    ) async throws -> PlatformBacking {
        let fresh = .seconds(Date().timeIntervalSince(session.platformCheckedAt ?? .distantPast)) < bridge.settings.recheckInterval
        if fresh && PlatformSessionBridge.session(session, cameFrom: cookie) { return .backed }
        switch await bridge.check(session, cookie: cookie) {
        case .signedIn:
            defer { forget() }
            try await sessions.platformConfirmed(digest: digest)
            return .backed
        case .unknown:
            return .unanswered
        case .signedOut:
            defer { forget() }
            _ = try await logout.end(digest: digest)
            context.logger.info("session ended: its platform session is gone", metadata: ["user_id": "\(session.userID)"])
            return .ended
        }
    }

    private func session(for token: SecretToken, cached: Bool) async throws -> Session? {
        guard cached else { return try await sessions.session(for: token) }
        return try await sessionCache.value(for: token.digest, notAfter: SessionCaches.deadline(of:)) { try await sessions.session(for: token) }
    }
}
