import DrawbridgeCore
import Hummingbird

/// Headers that keep pages from being framed, sniffed, leaked through referrers or scripted.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    let contentSecurityPolicy: String
    let strictTransportSecurity: String?

    init(publicURL: PublicURL, cookieDomain: String?) {
        // Chrome applies form-action to the redirect that follows a POST, so the sign-in form must be
        // allowed to lead to the sites `rd` may name (see RedirectPolicy), and nowhere else.
        var formTargets = ["'self'"]
        if let domain = cookieDomain {
            formTargets += ["https://\(domain)", "https://*.\(domain)"]
            if !publicURL.isHTTPS { formTargets += ["http://\(domain)", "http://*.\(domain)"] }
        }
        self.contentSecurityPolicy = [
            "default-src 'none'",
            "style-src 'self'",
            "img-src 'self' data:",
            "form-action \(formTargets.joined(separator: " "))",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ].joined(separator: "; ")
        self.strictTransportSecurity = publicURL.isHTTPS ? "max-age=31536000" : nil
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.contentSecurityPolicy] = contentSecurityPolicy
        response.headers[.xFrameOptions] = "DENY"
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.referrerPolicy] = "no-referrer"
        response.headers[.crossOriginOpenerPolicy] = "same-origin"
        if let strictTransportSecurity { response.headers[.strictTransportSecurity] = strictTransportSecurity }
        return response
    }
}
