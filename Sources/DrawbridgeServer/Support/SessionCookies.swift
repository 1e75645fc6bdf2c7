import DrawbridgeCore
import Foundation
import Hummingbird

/// The session cookie and the pre-sign-in CSRF cookie, with the attributes the security model relies on.
struct SessionCookies: Sendable {
    let settings: SessionSettings
    let publicURL: PublicURL

    var secure: Bool { publicURL.isHTTPS }

    /// `__Host-` (https only) forbids a Domain attribute, so a sibling subdomain cannot plant this cookie.
    var csrfCookieName: String { secure ? "__Host-drawbridge_csrf" : "drawbridge_csrf" }

    func sessionToken(in request: Request) -> SecretToken? {
        request.cookies[settings.cookieName].flatMap { SecretToken(presented: $0.value) }
    }

    func sessionCookie(_ token: SecretToken) -> Cookie {
        Cookie(
            name: settings.cookieName,
            value: token.value,
            maxAge: Int(settings.absoluteTimeout.wholeSeconds),
            domain: settings.cookieDomain,
            path: "/",
            secure: secure,
            httpOnly: true,
            sameSite: .lax
        )
    }

    /// Same name, domain and path as the live cookie (or the browser keeps the old one), already expired.
    func expiredSessionCookie() -> Cookie {
        Cookie(
            name: settings.cookieName,
            value: "",
            expires: Date(timeIntervalSince1970: 0),
            maxAge: 0,
            domain: settings.cookieDomain,
            path: "/",
            secure: secure,
            httpOnly: true,
            sameSite: .lax
        )
    }

    func csrfSecret(in request: Request) -> String? {
        request.cookies[csrfCookieName].flatMap { SecretToken(presented: $0.value)?.value }
    }

    func csrfCookie(_ secret: String) -> Cookie {
        Cookie(name: csrfCookieName, value: secret, path: "/", secure: secure, httpOnly: true, sameSite: .lax)
    }
}
