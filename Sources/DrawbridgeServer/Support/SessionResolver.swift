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

    /// The browser's live session, if any. `lookup` reads a session by token (forward auth passes its cache).
    func resolve(_ request: Request, context: AppRequestContext,
                 lookup: ((SecretToken) async throws -> Session?)? = nil) async throws -> Resolved? {
        let platformCookie = bridge.flatMap { request.cookies[$0.settings.cookieName]?.value }
        if let token = cookies.sessionToken(in: request),
           let session = try await (lookup ?? { try await sessions.session(for: $0) })(token) {
            guard let bridge, session.platformSessionHash != nil else { return Resolved(token: token, session: session) }
            let age = Date().timeIntervalSince(session.platformCheckedAt ?? .distantPast)
            if age < TimeInterval(bridge.settings.recheckInterval.components.seconds) {
                return Resolved(token: token, session: session)
            }
            if await bridge.stillValid(cookie: platformCookie, for: session) {
                try await sessions.platformConfirmed(digest: token.digest)
                return Resolved(token: token, session: session)
            }
            // Signed out of the platform (or signed in there as someone else): this session ends with it.
            _ = try await logout.end(digest: token.digest)
            context.logger.info("session ended: its platform session is gone", metadata: ["user_id": "\(session.userID)"])
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
}
