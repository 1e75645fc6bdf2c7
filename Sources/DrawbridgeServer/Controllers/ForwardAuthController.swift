import DrawbridgeCore
import Foundation
import Hummingbird
import Logging

/// `GET /auth/verify` for reverse proxies (nginx `auth_request`, Traefik ForwardAuth, Caddy `forward_auth`):
/// 200 with identity headers for a valid session, else 401 — or, with `?mode=redirect`, a 302 to the
/// sign-in page carrying the original URL, which the proxy states in `X-Forwarded-*` headers.
///
/// Bursts are answered from caches of sessions and users, so a page with fifty assets costs one database
/// read, not fifty; a sign-out anywhere empties every replica's copy through NOTIFY (`cache.lifetime` bounds
/// it when a notice is lost), a deactivation on the platform is seen within a second.
struct ForwardAuthController: Sendable {
    /// Reads through the session cache it shares with sign-out, which drops the entry at once on this replica.
    let sessionResolver: SessionResolver
    let oauth: OAuthService
    let redirects: RedirectPolicy
    let resolver: ClientAddressResolver

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/auth/verify", use: verify)
        router.head("/auth/verify", use: verify)
    }

    @Sendable func verify(request: Request, context: AppRequestContext) async throws -> Response {
        if let resolved = try await sessionResolver.resolveForProxy(request, context: context) {
            let session = resolved.session
            if let user = try await oauth.recentActiveUser(id: session.userID, login: session.login) {
                let profile = try await oauth.profile(of: user)
                var headers: HTTPFields = [.cacheControl: "no-store"]
                headers[.remoteUser] = profile.username
                headers[.remoteName] = Self.headerSafe(profile.name)
                if let email = profile.email { headers[.remoteEmail] = Self.headerSafe(email) }
                headers[.remoteGroups] = ""
                // A session just opened from the platform's cookie: proxies that pass Set-Cookie on
                // (nginx `auth_request_set`, Traefik 3.1+ `addAuthCookiesToResponse`) hand it to the browser.
                if let cookie = resolved.newCookie { headers[.setCookie] = cookie.description }
                return Response(status: .ok, headers: headers)
            }
        }
        guard request.uri.queryParameters.get("mode") == "redirect" else {
            return Response(status: .unauthorized, headers: [.cacheControl: "no-store"])
        }
        return Response(status: .found, headers: [.location: loginURL(for: request, context: context), .cacheControl: "no-store"])
    }

    /// The sign-in page with `rd` = the URL the user asked the proxy for, when a trusted proxy says what it was.
    private func loginURL(for request: Request, context: AppRequestContext) -> String {
        var login = redirects.publicURL.url("/login")
        let fromTrustedProxy = resolver.isTrusted(context.remoteAddress?.ipAddress)
        if fromTrustedProxy, let host = request.headers[.xForwardedHost] {
            let proto = request.headers[.xForwardedProto] ?? redirects.publicURL.scheme
            let original = "\(proto)://\(host)\(request.headers[.xForwardedUri] ?? "/")"
            if redirects.validated(original) != nil {
                login += "?rd=" + RedirectURIBuilder.percentEncode(original)
            }
        }
        return login
    }

    /// Header values must not carry line breaks or other control characters.
    static func headerSafe(_ text: String) -> String {
        String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7f }.map(Character.init))
    }
}
