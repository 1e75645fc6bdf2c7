import DrawbridgeCore
import Foundation
import HTTPTypes
import Hummingbird

/// Headers that keep pages from being framed, sniffed, leaked through referrers or scripted.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    let formTargets: [String]
    let strictTransportSecurity: String?
    /// The policy of every response whose controller names no extra form target (nearly all): built once.
    let defaultContentSecurityPolicy: String

    init(publicURL: PublicURL, cookieDomain: String?) {
        // Chrome applies form-action to the redirect that follows a POST, so the sign-in form must be
        // allowed to lead to the sites `rd` may name (see RedirectPolicy: any port), and nowhere else.
        var formTargets = ["'self'"]
        if let domain = cookieDomain {
            formTargets += ["https://\(domain)", "https://\(domain):*", "https://*.\(domain)", "https://*.\(domain):*"]
            if !publicURL.isHTTPS { formTargets += ["http://\(domain)", "http://\(domain):*", "http://*.\(domain)", "http://*.\(domain):*"] }
        }
        self.formTargets = formTargets
        self.strictTransportSecurity = publicURL.isHTTPS ? "max-age=31536000" : nil
        self.defaultContentSecurityPolicy = Self.contentSecurityPolicy(formTargets: formTargets)
    }

    func contentSecurityPolicy(extraFormTarget: String?) -> String {
        guard let extraFormTarget else { return defaultContentSecurityPolicy }
        return Self.contentSecurityPolicy(formTargets: formTargets + [extraFormTarget])
    }

    private static func contentSecurityPolicy(formTargets: [String]) -> String {
        [
            "default-src 'none'",
            "style-src 'self'",
            "img-src 'self' data:",
            "form-action \(formTargets.joined(separator: " "))",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ].joined(separator: "; ")
    }

    /// The CSP source for where a redirect URI leads: its origin, or its scheme for an app's custom scheme.
    static func formTarget(forRedirectURI uri: String) -> String? {
        guard let components = URLComponents(string: uri), let scheme = components.scheme?.lowercased() else { return nil }
        guard scheme == "http" || scheme == "https" else { return scheme + ":" }
        guard let host = components.host, !host.isEmpty else { return nil }
        return "\(scheme)://\(host)" + (components.port.map { ":\($0)" } ?? "")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        let extra = response.headers[.drawbridgeFormTarget]
        response.headers[.drawbridgeFormTarget] = nil
        response.headers[.contentSecurityPolicy] = contentSecurityPolicy(extraFormTarget: extra)
        response.headers[.xFrameOptions] = "DENY"
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.referrerPolicy] = "no-referrer"
        response.headers[.crossOriginOpenerPolicy] = "same-origin"
        if let strictTransportSecurity { response.headers[.strictTransportSecurity] = strictTransportSecurity }
        return response
    }
}
